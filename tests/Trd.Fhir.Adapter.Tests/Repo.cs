namespace Trd.Fhir.Adapter.Tests;

/// <summary>Paths into the repository, found by walking up to Trd.Fhir.sln.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public static IEnumerable<string> Examples() =>
        Directory.EnumerateFiles(Path("examples"), "*.json").Order(StringComparer.Ordinal);

    public static TheoryData<string> ExampleNames()
    {
        var data = new TheoryData<string>();
        foreach (var file in Examples())
            data.Add(System.IO.Path.GetFileNameWithoutExtension(file));
        return data;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Trd.Fhir.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Trd.Fhir.sln not found above " + AppContext.BaseDirectory);
    }
}
