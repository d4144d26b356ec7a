using System.Diagnostics;
using System.Text.Json;

namespace Trd.Fhir.Adapter.Tests.Packaging;

/// <summary>
/// README's "Dependencies and licences" section cannot go stale: it is exactly what <c>tools/licenses.py</c> generates from
/// the restored assets (src/Trd.Fhir.Adapter/obj/project.assets.json) and tests/fhir-server/package-lock.json, and,
/// checked here independently of the script, it lists every restored runtime package at its restored version and nothing else.
/// Fix when it fails: <c>python3 tools/licenses.py --write</c>.
/// </summary>
public sealed class DependencyLicencesTests
{
    private const string Begin = "<!-- dependencies:begin";
    private const string End = "<!-- dependencies:end -->";

    private static string Section()
    {
        var readme = File.ReadAllText(Repo.Path("README.md"));
        var start = readme.IndexOf(Begin, StringComparison.Ordinal);
        var end = readme.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "README.md has no dependencies:begin/end section (fix: python3 tools/licenses.py --write)");
        return readme[start..end];
    }

    [Fact]
    public async System.Threading.Tasks.Task Readme_DependencySection_IsWhatTheScriptGenerates()
    {
        var start = new ProcessStartInfo("python3") { WorkingDirectory = Repo.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Repo.Path("tools", "licenses.py"));
        start.ArgumentList.Add("--check");
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var diff = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{await stderr}\n{diff}");
    }

    [Fact]
    public void Readme_DependencySection_ListsEveryRestoredRuntimePackageAndNoOther()
    {
        using var assets = JsonDocument.Parse(File.ReadAllText(Repo.Path("src", "Trd.Fhir.Adapter", "obj", "project.assets.json")));
        var buildOnly = assets.RootElement.GetProperty("project").GetProperty("frameworks").EnumerateObject()
            .SelectMany(f => f.Value.TryGetProperty("dependencies", out var d) ? d.EnumerateObject() : Enumerable.Empty<JsonProperty>())
            .Where(d => d.Value.TryGetProperty("suppressParent", out var s) && s.GetString() == "All")
            .Select(d => d.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var restored = assets.RootElement.GetProperty("libraries").EnumerateObject()
            .Where(l => l.Value.GetProperty("type").GetString() == "package")
            .Select(l => l.Name.Split('/'))
            .Where(p => !buildOnly.Contains(p[0]))
            .Select(p => $"| {p[0]} | {p[1]} |")
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("| Polly.Core | ", string.Join("\n", restored), StringComparison.Ordinal);

        var section = Section();
        var npmStart = section.IndexOf("npm packages are **test-only**", StringComparison.Ordinal);
        Assert.True(npmStart > 0, "the section must say that the npm packages are test-only");
        var listed = section[..npmStart].Split('\n')
            .Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| package ", StringComparison.Ordinal))
            .Select(l => string.Join('|', l.Split('|')[..3]) + "|")
            .ToHashSet(StringComparer.Ordinal);
        Assert.Empty(restored.Except(listed));
        Assert.Empty(listed.Except(restored));

        using var npm = JsonDocument.Parse(File.ReadAllText(Repo.Path("tests", "fhir-server", "package-lock.json")));
        foreach (var package in npm.RootElement.GetProperty("packages").EnumerateObject().Where(p => p.Name.Length > 0))
        {
            var name = package.Name[(package.Name.LastIndexOf("node_modules/", StringComparison.Ordinal) + "node_modules/".Length)..];
            Assert.Contains($"| {name} | {package.Value.GetProperty("version").GetString()} | {package.Value.GetProperty("license").GetString()} |", section[npmStart..], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Readme_DependencySection_StatesPollyMaintenanceFee()
    {
        var section = Section();
        Assert.Contains("| Polly.Core | 8.9.1 | BSD-3-Clause |", section, StringComparison.Ordinal);
        Assert.Contains("asks companies earning US$20k or more from a product that uses it for a US$20/month Open Source Maintenance Fee (announced for 2026-11-16); the source stays open", section, StringComparison.Ordinal);
    }
}
