namespace Trd.Fhir.Adapter.UseCases;

/// <summary>One path named on a command line, expanded: a file as given (<see cref="Root"/> null), a file found under the
/// directory <see cref="Root"/>, or a path that does not exist (<see cref="Missing"/>).</summary>
public sealed record InputFile(string Path, string? Root, bool Missing = false)
{
    public bool FromDirectory => Root is not null;

    /// <summary>Where the file sits under the directory it was found in (<c>sub/x.json</c>), or its name when given as a file:
    /// the place of its result under an output directory.</summary>
    public string RelativePath => Root is null ? System.IO.Path.GetFileName(Path) : System.IO.Path.GetRelativePath(Root, Path);
}

/// <summary>
/// The one expansion of command-line paths, shared by <c>map</c>, <c>validate</c> and <c>push</c>: a file is taken as given
/// (whatever its extension); a directory is searched recursively for files with one of the extensions (sorted, ordinal);
/// a path that does not exist stays in order, marked missing; a directory that holds no such file is listed in
/// <see cref="Expansion.Empty"/> — an input error (exit 2) for every verb.
/// </summary>
public static class InputFiles
{
    /// <summary>The extensions of a protocol document (and of the FHIR JSON <c>map --reverse</c> reads).</summary>
    public static readonly IReadOnlyList<string> ProtocolExtensions = [".json"];

    /// <summary>The result of <see cref="Expand"/>: the files in order (missing paths among them, marked) and the directories
    /// that held none.</summary>
    public sealed record Expansion(IReadOnlyList<InputFile> Files, IReadOnlyList<string> Empty)
    {
        public IEnumerable<string> Missing => Files.Where(f => f.Missing).Select(f => f.Path);

        public IReadOnlyList<InputFile> Present => [.. Files.Where(f => !f.Missing)];
    }

    public static Expansion Expand(IEnumerable<string> paths, IReadOnlyList<string> extensions)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(extensions);
        var files = new List<InputFile>();
        var empty = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
                files.Add(new InputFile(path, null));
            else if (Directory.Exists(path))
            {
                var found = UnderDirectory(path, extensions).Select(f => new InputFile(f, path)).ToList();
                if (found.Count == 0) empty.Add(path);
                files.AddRange(found);
            }
            else
                files.Add(new InputFile(path, null, Missing: true));
        }
        return new Expansion(files, empty);
    }

    /// <summary>The files under <paramref name="directory"/> and its subfolders with one of <paramref name="extensions"/>, sorted.</summary>
    public static IEnumerable<string> UnderDirectory(string directory, IReadOnlyList<string> extensions) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal);

    /// <summary>Protocol documents (<c>push</c>): files as given, the *.json files under given directories and their
    /// subfolders (sorted); <paramref name="missing"/> lists the paths that do not exist, <paramref name="empty"/> the
    /// directories without a document.</summary>
    public static IReadOnlyList<string> Protocols(IEnumerable<string> paths, out IReadOnlyList<string> missing, out IReadOnlyList<string> empty)
    {
        var expansion = Expand(paths, ProtocolExtensions);
        missing = [.. expansion.Missing];
        empty = expansion.Empty;
        return [.. expansion.Present.Select(f => f.Path)];
    }
}
