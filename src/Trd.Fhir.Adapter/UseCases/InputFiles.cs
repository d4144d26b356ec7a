namespace Trd.Fhir.Adapter.UseCases;

/// <summary>The files a command line names: files as given, directories expanded (sorted, ordinal).</summary>
public static class InputFiles
{
    /// <summary>The files under <paramref name="directory"/> and its subfolders with one of <paramref name="extensions"/>, sorted.</summary>
    public static IEnumerable<string> UnderDirectory(string directory, IReadOnlyList<string> extensions) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal);

    /// <summary>Protocol documents: files as given, and the *.json files directly in given directories (sorted);
    /// <paramref name="missing"/> lists the paths that do not exist.</summary>
    public static IReadOnlyList<string> Protocols(IEnumerable<string> paths, out IReadOnlyList<string> missing)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var absent = new List<string>();
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
                files.Add(path);
            else if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path, "*.json", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal));
            else
                absent.Add(path);
        }
        missing = absent;
        return files;
    }
}
