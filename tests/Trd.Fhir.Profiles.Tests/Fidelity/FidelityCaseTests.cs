using System.Text.Json.Nodes;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Tests.Fidelity;

/// <summary>The validator raised for a shared fixture: unknown profiles as warnings (as the CLI), the cases' artefacts loaded.</summary>
public sealed class FidelityFixture : IDisposable
{
    public static string CasesDir => Path.Combine(AppContext.BaseDirectory, "Fidelity", "cases");

    public FidelityFixture()
    {
        var options = new TrdValidatorOptions { UnknownProfile = UnknownProfileSeverity.Warning };
        options.ExtraSources.Add(ArtifactSource.Directory(Path.Combine(CasesDir, "artefacts")));
        Validator = TrdValidator.Create(options);
    }

    public TrdValidator Validator { get; }

    public void Dispose() => Validator.Dispose();
}

/// <summary>
/// Issue 12 item 6: every case in Fidelity/cases raises exactly the errors and warnings its manifest lists (nothing
/// missing, nothing extra); every case file is in the manifest.
/// </summary>
public sealed class FidelityCaseTests(FidelityFixture fixture) : IClassFixture<FidelityFixture>
{
    private static JsonObject Manifest() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(FidelityFixture.CasesDir, "manifest.json")))!["cases"]!.AsObject();

    public static TheoryData<string> Cases =>
        new(Directory.EnumerateFiles(FidelityFixture.CasesDir, "*.json").Select(Path.GetFileName).Where(f => f != "manifest.json").Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_RaisesExactlyTheManifestIssues(string file)
    {
        var expected = Manifest()[file]?.AsArray() ?? throw new Xunit.Sdk.XunitException($"{file} is not in Fidelity/cases/manifest.json");

        var oo = fixture.Validator.ValidateJson(File.ReadAllText(Path.Combine(FidelityFixture.CasesDir, file)));

        var raised = oo.Issue.Where(i => i.Severity is not IssueSeverity.Information).ToList();
        var missing = new List<string>();
        foreach (var e in expected)
        {
            var severity = (string)e!["severity"]!;
            var expression = (string)e["expression"]!;
            var message = (string)e["message"]!;
            var hit = raised.FirstOrDefault(i => string.Equals(i.Severity.ToString(), severity, StringComparison.OrdinalIgnoreCase)
                && (i.Expression.FirstOrDefault() ?? "") == expression && (i.Details?.Text ?? "").Contains(message, StringComparison.Ordinal));
            if (hit is null) missing.Add($"{severity} {expression}: {message}");
            else raised.Remove(hit);
        }
        Assert.True(missing.Count == 0 && raised.Count == 0,
            $"{file}:\n  missing:\n    {string.Join("\n    ", missing)}\n  not in the manifest:\n    {string.Join("\n    ", raised.Select(i => $"{i.Severity} {string.Join(',', i.Expression)}: {i.Details?.Text}"))}");
        Assert.Equal(file.Contains(".valid", StringComparison.Ordinal), oo.Success);
    }

    [Fact]
    public void Manifest_ListsOnlyFilesThatExist()
    {
        foreach (var (file, _) in Manifest())
            Assert.True(File.Exists(Path.Combine(FidelityFixture.CasesDir, file)), $"{file} is in the manifest but not in Fidelity/cases");
    }
}
