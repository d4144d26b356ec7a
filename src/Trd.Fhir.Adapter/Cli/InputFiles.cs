namespace Trd.Fhir.Adapter.Cli;

internal static class InputFiles
{
    /// <summary>Files as given, and the *.json files directly in given directories (sorted). Reports paths that do not exist.</summary>
    public static IReadOnlyList<string> Expand(IEnumerable<string> paths, CliConsole console, out bool missing)
    {
        missing = false;
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
                files.Add(path);
            else if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path, "*.json", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal));
            else
            {
                console.Error($"{path}: no such file or directory (fix: check the path)");
                missing = true;
            }
        }
        return files;
    }
}
