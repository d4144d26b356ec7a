using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Trd.Fhir.Adapter.Tests.Packaging;

/// <summary>
/// The .NET tool package as a user gets it: <c>dotnet pack</c> of src/Trd.Fhir.Adapter (the binaries this test run built,
/// <c>--no-build</c>), <c>dotnet tool install Trd.Fhir.Cli --tool-path … --add-source …</c> with every other package source
/// cleared and an empty NuGet cache (the package must carry everything it needs: no network, no other package), then the
/// installed <c>trd-fhir</c> run from an empty working directory (the profiles are embedded, never read from the repo).
/// Takes ~15 s: <c>--filter Category!=ToolPackage</c> leaves it out of a quick local run.
/// </summary>
[Trait("Category", "ToolPackage")]
public sealed class ToolPackageTests : IDisposable
{
    private const string PackageId = "Trd.Fhir.Cli";
    private readonly string _work = Directory.CreateTempSubdirectory("trd-fhir-tool-").FullName;

    [Fact]
    public void Pack_InstallIntoToolPath_RunsVersionMapAndValidate()
    {
        var feed = Path.Combine(_work, "feed");
        var tools = Path.Combine(_work, "tools");
        var cwd = Directory.CreateDirectory(Path.Combine(_work, "cwd")).FullName;
        var configuration = typeof(ToolPackageTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;

        var pack = Run("dotnet", ["pack", Repo.Path("src", "Trd.Fhir.Adapter", "Trd.Fhir.Adapter.csproj"), "-c", configuration, "--no-build", "-o", feed], Repo.Root);
        Assert.True(pack.Code == 0, pack.Output);
        var package = Assert.Single(Directory.GetFiles(feed, PackageId + ".*.nupkg"));
        var version = Path.GetFileNameWithoutExtension(package)[(PackageId.Length + 1)..];

        // Only the local folder: a NuGet.config that clears every source, plus --add-source, as the README says.
        var config = Path.Combine(_work, "nuget.config");
        File.WriteAllText(config, "<?xml version=\"1.0\" encoding=\"utf-8\"?><configuration><packageSources><clear /></packageSources></configuration>");
        var install = Run("dotnet", ["tool", "install", PackageId, "--version", version, "--tool-path", tools, "--add-source", feed, "--configfile", config], cwd,
            ("NUGET_PACKAGES", Path.Combine(_work, "nuget-cache")));
        Assert.True(install.Code == 0, install.Output);
        var tool = Path.Combine(tools, OperatingSystem.IsWindows() ? "trd-fhir.exe" : "trd-fhir");
        Assert.True(File.Exists(tool), $"no {tool} after install: {install.Output}");

        // --version: the package version and the commit the binaries were built from.
        var shown = Run(tool, ["--version"], cwd);
        Assert.Equal(0, shown.Code);
        var match = Regex.Match(shown.Output.Trim(), "^(?<version>[0-9]+\\.[0-9]+\\.[0-9]+[^+]*)\\+(?<commit>[0-9a-f]{40})$");
        Assert.True(match.Success, $"'trd-fhir --version' printed '{shown.Output.Trim()}', expected VERSION+COMMIT");
        Assert.Equal(version, match.Groups["version"].Value);
        // The commit checked out (the build embeds it; a fresh clone's test run builds first). Without git: the packed binary's own.
        var packed = System.Diagnostics.FileVersionInfo.GetVersionInfo(Repo.Path("src", "Trd.Fhir.Adapter", "bin", configuration, "net10.0", "trd-fhir.dll")).ProductVersion;
        Assert.Equal(GitHead() ?? packed?.Split('+')[^1], match.Groups["commit"].Value);

        // An example protocol → Bundle → validate against the embedded profiles: all valid, exit 0.
        var bundle = Path.Combine(cwd, "bundle.json");
        var map = Run(tool, ["map", Repo.Path("examples", "phase2-tms-partial-response.json"), "-o", bundle], cwd);
        Assert.True(map.Code == 0, map.Output);
        var valid = Run(tool, ["validate", bundle], cwd);
        Assert.True(valid.Code == 0, valid.Output);
        Assert.Contains("all valid, 0 error(s)", valid.Output, StringComparison.Ordinal);

        // ...and a profile example that must fail fails with its exact issue (exit 1).
        var invalid = Run(tool, ["validate", Repo.Path("profiles", "examples", "trd-careplan-phase.invalid-phase-4.json")], cwd);
        Assert.Equal(1, invalid.Code);
        Assert.Contains("trd-careplan-phase.invalid-phase-4.json:1:1: error invalid: CarePlan: No elements matched required slice: 'category:kind'", invalid.Output, StringComparison.Ordinal);
    }

    private static string? GitHead()
    {
        try
        {
            var git = Run("git", ["rev-parse", "HEAD"], Repo.Root);
            var head = git.Output.Trim();
            return git.Code == 0 && Regex.IsMatch(head, "^[0-9a-f]{40}$") ? head : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no git on this machine: the commit is still checked against the built assembly
        }
    }

    private static (int Code, string Output) Run(string file, string[] args, string cwd, params (string Name, string Value)[] env)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        foreach (var (name, value) in env)
            start.Environment[name] = value;
        // The installed apphost finds the runtime through DOTNET_ROOT when dotnet is not in its default location.
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && !start.Environment.ContainsKey("DOTNET_ROOT"))
            start.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(host);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.GetAwaiter().GetResult());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // left in the temp directory
        }
    }
}
