using Trd.Fhir.Adapter.Cli;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Report.Tests;

/// <summary>Paths into the repository (found by walking up to Trd.Fhir.sln), the examples, and the CLI in-process.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public static TheoryData<string> ExampleNames()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path("examples"), "*.json").Order(StringComparer.Ordinal))
            data.Add(System.IO.Path.GetFileNameWithoutExtension(file));
        return data;
    }

    public static string Example(string name) => Path("examples", name + ".json");

    public static TrdProtocol Protocol(string name) => ProtocolReader.Read(File.ReadAllBytes(Example(name))).Protocol!;

    public static (int Exit, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, new CliConsole(stdout, stderr));
        return (exit, stdout.ToString(), stderr.ToString());
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
