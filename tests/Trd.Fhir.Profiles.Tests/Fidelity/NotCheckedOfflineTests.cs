using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Validation;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Tests.Fidelity;

/// <summary>
/// Issue 12 item 4: the codings of large external code systems that were not checked (no terminology server) are counted
/// per system on the outcome (an extension), never as an issue: a valid resource keeps 0 issues.
/// </summary>
public sealed class NotCheckedOfflineTests
{
    private const string Snomed = "http://snomed.info/sct";
    private const string Loinc = "http://loinc.org";

    private static Basic Basic(params (string System, string Code)[] codings) => new()
    {
        Code = new CodeableConcept { Coding = codings.Select(c => new Coding(c.System, c.Code)).ToList() },
    };

    private static readonly Basic ThreeExternal = Basic((Snomed, "35489007"), (Loinc, "44261-6"), (Snomed, "310495003"));

    [Fact]
    public void Counting_NoIssue_OneExtensionPerSystem()
    {
        using var validator = TrdValidator.Create(new TrdValidatorOptions { CountCodesNotCheckedOffline = true });

        var oo = validator.Validate(ThreeExternal);

        Assert.Empty(oo.Issue);
        Assert.Equal([(Loinc, 1), (Snomed, 2)], CodesNotCheckedOffline.Read(oo));
    }

    [Fact]
    public void ByDefault_NothingIsCounted()
    {
        using var validator = TrdValidator.Create();

        var oo = validator.Validate(ThreeExternal);

        Assert.Empty(oo.Issue);
        Assert.Empty(oo.Extension);
    }

    [Fact]
    public void CountingAndReporting_TheInformationIssuesStayAsTheyWere()
    {
        using var validator = TrdValidator.Create(new TrdValidatorOptions { CountCodesNotCheckedOffline = true, ReportCodesNotCheckedOffline = true });

        var oo = validator.Validate(ThreeExternal);

        Assert.Equal([$"Not checked offline: 2 code(s) of SNOMED CT ({Snomed})", $"Not checked offline: 1 code(s) of LOINC ({Loinc})"],
            oo.Issue.Select(i => i.Details.Text[..i.Details.Text.IndexOf(';', StringComparison.Ordinal)]));
        Assert.All(oo.Issue, i => Assert.Equal(IssueSeverity.Information, i.Severity));
        Assert.Equal([(Loinc, 1), (Snomed, 2)], CodesNotCheckedOffline.Read(oo));
    }

    [Fact]
    public void SharedPool_ValidPhq9Total_ZeroIssues_ItsLoincCodingCounted()
    {
        var json = File.ReadAllText(Path.Combine(Manifest.RepoPaths.ExamplesDir, "trd-observation-phq9-total.valid.json"));
        var total = TrdFhirParser.ParseJson(json).Resource!;

        var oo = ValidatorPool.Shared().Validate(total);

        Assert.Empty(oo.Issue);
        Assert.Equal([(Loinc, 1)], CodesNotCheckedOffline.Read(oo));
    }
}
