using System.Reflection;
using System.Text.Json.Nodes;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Tests.Manifest;

/// <summary>
/// The conformance artefacts as shipped (profiles/*.json, embedded in Trd.Fhir.Profiles) against their examples:
/// every file in profiles/examples raises exactly the error-level issues profiles/examples/manifest.json lists for it
/// (nothing missing, nothing extra), valid examples raise no error and no warning, and the mapping's golden Bundles
/// (tests/Trd.Fhir.Adapter.Tests/Golden, read as files: this project does not reference the Adapter) validate clean.
/// </summary>
public sealed class ProfileManifestTests(ProfileManifestFixture fixture) : IClassFixture<ProfileManifestFixture>
{
    private readonly TrdValidator _sut = fixture.Validator;

    public static TheoryData<string> Examples => new(RepoPaths.ExampleFiles().Select(Path.GetFileName)!);

    public static TheoryData<string> GoldenBundles => new(RepoPaths.GoldenBundles().Select(Path.GetFileName)!);

    public static TheoryData<string> Artefacts => new(RepoPaths.ArtefactFiles().Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_RaisesExactlyTheManifestIssues(string file)
    {
        var expected = RepoPaths.Manifest()[file]?.AsArray()
            ?? throw new Xunit.Sdk.XunitException($"{file} is not in profiles/examples/manifest.json");

        var oo = _sut.ValidateJson(File.ReadAllText(Path.Combine(RepoPaths.ExamplesDir, file)));

        var errors = oo.Issue.Where(IsError).ToList();
        var missing = new List<string>();
        foreach (var e in expected)
        {
            var severity = (string)e!["severity"]!;
            var expression = (string)e["expression"]!;
            var message = (string)e["message"]!;
            Assert.Equal("error", severity);
            var hit = errors.FirstOrDefault(i => i.Expression.Contains(expression) && (i.Details?.Text ?? "").Contains(message, StringComparison.Ordinal));
            if (hit is null) missing.Add($"{expression}: {message}");
            else errors.Remove(hit);
        }

        Assert.True(missing.Count == 0 && errors.Count == 0,
            $"{file}:\n  missing:\n    {string.Join("\n    ", missing)}\n  not in the manifest:\n    {string.Join("\n    ", errors.Select(Describe))}");
        if (file.Contains(".valid", StringComparison.Ordinal))
            Assert.True(oo.Issue.All(i => i.Severity is IssueSeverity.Information), $"{file} must be clean:\n    {string.Join("\n    ", oo.Issue.Select(Describe))}");
        else
            Assert.NotEmpty(expected);
    }

    [Theory]
    [MemberData(nameof(GoldenBundles))]
    public void GoldenBundle_ValidatesWithoutErrorsOrWarnings(string file)
    {
        var oo = _sut.ValidateJson(File.ReadAllText(Path.Combine(RepoPaths.GoldenDir, file)));

        var problems = oo.Issue.Where(i => i.Severity is not IssueSeverity.Information).Select(Describe).ToList();
        Assert.True(problems.Count == 0, $"{file}: {problems.Count} errors/warnings:\n    {string.Join("\n    ", problems)}");
    }

    /// <summary>A conformance product ships conformant artefacts: each StructureDefinition, ValueSet, CodeSystem and the
    /// Questionnaire validate against the core spec with no error or warning (the prior-trial profile's Duration pattern
    /// once broke drt-1: a code without a value).</summary>
    [Theory]
    [MemberData(nameof(Artefacts))]
    public void Artefact_ValidatesWithoutErrorsOrWarnings(string file)
    {
        var oo = _sut.ValidateJson(File.ReadAllText(Path.Combine(RepoPaths.ArtefactsDir, file)));

        var problems = oo.Issue.Where(i => i.Severity is not IssueSeverity.Information).Select(Describe).ToList();
        Assert.True(problems.Count == 0, $"{file}: {problems.Count} errors/warnings:\n    {string.Join("\n    ", problems)}");
    }

    [Fact]
    public void Manifest_ListsEveryExampleAndNothingElse()
    {
        var listed = RepoPaths.Manifest().Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
        var files = RepoPaths.ExampleFiles().Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(files, listed);
    }

    [Fact]
    public void EveryProfile_HasAValidAndAnInvalidExample()
    {
        var ids = typeof(ProfileUrls).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (string)f.GetValue(null)!).Select(u => u[(u.LastIndexOf('/') + 1)..]).ToList();
        var files = RepoPaths.ExampleFiles().Select(f => Path.GetFileName(f)!).ToList();

        Assert.NotEmpty(ids);
        Assert.All(ids, id =>
        {
            Assert.Contains(files, f => f.StartsWith(id + ".valid", StringComparison.Ordinal));
            Assert.Contains(files, f => f.StartsWith(id + ".invalid-", StringComparison.Ordinal));
        });
    }

    [Fact]
    public void EveryProfileUrl_IsAShippedStructureDefinition()
    {
        var known = _sut.ProfileUrls.ToHashSet(StringComparer.Ordinal);
        var urls = typeof(ProfileUrls).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!);

        Assert.All(urls, u => Assert.Contains(u, known));
    }

    private static bool IsError(IssueComponent i) => i.Severity is IssueSeverity.Error or IssueSeverity.Fatal;

    private static string Describe(IssueComponent i) =>
        $"{i.Severity} {string.Join(",", i.Expression)}: {i.Details?.Text ?? i.Diagnostics}";
}

/// <summary>One validator over the embedded artefacts for the whole class (creating and warming one costs seconds).</summary>
public sealed class ProfileManifestFixture : IDisposable
{
    public TrdValidator Validator { get; } = TrdValidator.Create();

    public void Dispose() => Validator.Dispose();
}

/// <summary>The repository folders the manifest tests read: found by walking up from the test binary to Trd.Fhir.sln.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Trd.Fhir.sln"))) return d.FullName;
        throw new InvalidOperationException("Trd.Fhir.sln not found above " + AppContext.BaseDirectory);
    });

    private static readonly Lazy<JsonObject> ManifestJson = new(() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(ExamplesDir, "manifest.json")))!["examples"]!.AsObject());

    public static string ExamplesDir => Path.Combine(Root.Value, "profiles", "examples");

    public static string ArtefactsDir => Path.Combine(Root.Value, "profiles");

    public static IEnumerable<string> ArtefactFiles() => Directory.EnumerateFiles(ArtefactsDir, "*.json").Order(StringComparer.Ordinal);

    public static string GoldenDir => Path.Combine(Root.Value, "tests", "Trd.Fhir.Adapter.Tests", "Golden");

    public static JsonObject Manifest() => ManifestJson.Value;

    public static IEnumerable<string> ExampleFiles() =>
        Directory.EnumerateFiles(ExamplesDir, "*.json").Where(f => Path.GetFileName(f) != "manifest.json").Order(StringComparer.Ordinal);

    public static IEnumerable<string> GoldenBundles() =>
        Directory.EnumerateFiles(GoldenDir, "*.bundle.json").Order(StringComparer.Ordinal);
}
