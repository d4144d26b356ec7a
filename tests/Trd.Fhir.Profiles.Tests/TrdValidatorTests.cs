using Hl7.Fhir.Model;
using Hl7.Fhir.Specification.Source;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Tests;

public class TrdValidatorTests(ValidatorFixture fixture) : IClassFixture<ValidatorFixture>
{
    private readonly TrdValidator _sut = fixture.Validator;

    /// <summary>Planted error → the one issue it must raise: severity, normalised expression, message fragment.</summary>
    public static TheoryData<string, IssueSeverity, string, string> PlantedErrors => new()
    {
        { "missing-subject", IssueSeverity.Error, "Observation", "Missing required member: 'subject'" },
        { "missing-effective", IssueSeverity.Error, "Observation", "Missing required member: 'effective'" },
        { "score-30", IssueSeverity.Error, "Observation", "Instance failed constraint test-phq9-1" },
        { "score-minus-1", IssueSeverity.Error, "Observation", "Instance failed constraint test-phq9-1" },
        { "wrong-loinc", IssueSeverity.Error, "Observation.code", "does not match pattern" },
        { "status-preliminary", IssueSeverity.Error, "Observation.status", "Code 'preliminary' does not exist in the value set 'TestPhq9Status'" },
        { "severity-not-in-codesystem", IssueSeverity.Error, "Observation.interpretation[0]", "Code 'extreme' does not exist in the code system" },
        { "two-interpretations", IssueSeverity.Error, "Observation", "Instance count at element 'interpretation' is 2" },
        { "bad-date", IssueSeverity.Error, "Observation.effective", "Value '2024-13-45' does not match regex" },
        { "missing-status", IssueSeverity.Error, "Observation", "Missing required member: 'status'" },
    };

    [Fact]
    public void Validate_ValidPhq9_NoIssues()
    {
        var oo = _sut.Validate(TestData.Phq9());

        Assert.True(oo.Success);
        Assert.Empty(oo.Issue);
    }

    [Theory]
    [MemberData(nameof(PlantedErrors))]
    public void Validate_PlantedError_ReportsExactIssue(string mutation, IssueSeverity severity, string expression, string fragment)
    {
        var oo = _sut.Validate(Mutate(mutation));

        var issue = Assert.Single(oo.Issue);
        Assert.Equal(severity, issue.Severity);
        Assert.Equal([expression], issue.Expression);
        Assert.Contains(fragment, issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExtensionWithWrongValueType_ReportsAtTheExtension()
    {
        var obs = TestData.Phq9();
        obs.Extension[0].Value = new Integer(2);

        var oo = _sut.Validate(obs);

        Assert.False(oo.Success);
        Assert.All(oo.Issue, i => Assert.Equal(["Observation.extension[0].value"], i.Expression));
        Assert.Contains(oo.Issue, i => i.Details.Text.Contains("integer", StringComparison.Ordinal) && i.Details.Text.Contains("string", StringComparison.Ordinal));
    }

    [Fact]
    public void ValidateJson_ValueAsString_ValidatorReportsTheType()
    {
        var json = TestData.Instance("one-observation.json").Replace("\"valueInteger\": 17", "\"valueString\": \"12\"", StringComparison.Ordinal);

        var oo = _sut.ValidateJson(json);

        Assert.Equal(2, oo.Issue.Count);
        Assert.Contains(oo.Issue, i => i.Expression.SequenceEqual(["Observation.value"])
            && i.Details.Text.Contains("declared type of the element (integer) is incompatible with that of the instance (string)", StringComparison.Ordinal));
        // The invariant's value.ofType(integer) is empty for a string, so it fails too (see validation.md, pitfall 9).
        Assert.Contains(oo.Issue, i => i.Expression.SequenceEqual(["Observation"]) && i.Details.Text.Contains("test-phq9-1", StringComparison.Ordinal));
    }

    [Fact]
    public void ValidateJson_BogusStatusAndUnknownElement_ReportedByTheValidatorNotTheParser()
    {
        var json = TestData.Instance("one-observation.json")
            .Replace("\"status\": \"final\"", "\"status\": \"bogus\", \"foo\": 1", StringComparison.Ordinal);

        var oo = _sut.ValidateJson(json);

        Assert.Contains(oo.Issue, i => i.Expression.SequenceEqual(["Observation.status"]) && i.Details.Text.Contains("Code 'bogus' does not exist", StringComparison.Ordinal));
        Assert.Contains(oo.Issue, i => i.Expression.SequenceEqual(["Observation"]) && i.Details.Text.Contains("unknown child elements 'foo'", StringComparison.Ordinal));
    }

    [Fact]
    public void ValidateJson_MalformedJson_ParseIssueNoException()
    {
        var oo = _sut.ValidateJson("{\"resourceType\": \"Observation\",");

        var issue = Assert.Single(oo.Issue);
        Assert.Equal(IssueSeverity.Error, issue.Severity);
        Assert.Contains("Invalid JSON", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownMetaProfile_ErrorWithTheValidatorsMessage()
    {
        var obs = TestData.Phq9();
        obs.Meta.Profile = ["https://example.org/fhir/StructureDefinition/does-not-exist"];

        var oo = _sut.Validate(obs);

        var issue = Assert.Single(oo.Issue);
        Assert.Equal(IssueSeverity.Error, issue.Severity);
        Assert.Equal(IssueType.Incomplete, issue.Code);
        Assert.Equal("Unable to resolve reference to profile 'https://example.org/fhir/StructureDefinition/does-not-exist'.", issue.Details.Text);
    }

    [Fact]
    public void Validate_UnknownMetaProfileWithWarningPolicy_WarnsAndPasses()
    {
        var options = TestData.Options();
        options.UnknownProfile = UnknownProfileSeverity.Warning;
        using var validator = TrdValidator.Create(options);
        var obs = TestData.Phq9();
        obs.Meta.Profile = ["https://example.org/fhir/StructureDefinition/does-not-exist"];

        var oo = validator.Validate(obs);

        Assert.True(oo.Success);
        Assert.Equal(IssueSeverity.Warning, Assert.Single(oo.Issue).Severity);
    }

    [Fact]
    public void Validate_UnknownProfileAndMissingStatus_BothReported()
    {
        var obs = TestData.Phq9();
        obs.Meta.Profile = ["https://example.org/fhir/StructureDefinition/does-not-exist"];
        obs.Status = null;

        var oo = _sut.Validate(obs);

        Assert.Equal(2, oo.Issue.Count(i => i.Severity == IssueSeverity.Error));
        Assert.Contains(oo.Issue, i => i.Details.Text.Contains("Missing required member: 'status'", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NoMetaProfile_OnlyCoreRules()
    {
        var obs = TestData.Phq9(30);
        obs.Meta = null;

        Assert.True(_sut.Validate(obs).Success);
    }

    [Fact]
    public void Validate_ExplicitProfile_AppliedWithoutMetaProfile()
    {
        var obs = TestData.Phq9(30);
        obs.Meta = null;

        var oo = _sut.Validate(obs, TestData.Phq9Total);

        Assert.Contains("test-phq9-1", Assert.Single(oo.Issue).Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WithoutAnyArtefacts_ValidatesAgainstCore()
    {
        using var validator = TrdValidator.Create(new TrdValidatorOptions { IncludeEmbeddedProfiles = false });
        var obs = TestData.Phq9();
        obs.Meta = null;
        obs.Extension.Clear();
        obs.Interpretation.Clear();
        obs.Status = null;

        var oo = validator.Validate(obs);

        Assert.Empty(validator.ProfileUrls);
        Assert.Contains("Missing required member: 'status'", Assert.Single(oo.Issue).Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ProfileUrls_ListsTheTestArtefacts()
    {
        Assert.Contains(TestData.Phq9Total, _sut.ProfileUrls);
        Assert.Contains(TestData.CarePlanProfile, _sut.ProfileUrls);
        Assert.Contains(TestData.InstrumentVersion, _sut.ProfileUrls);
    }

    [Fact]
    public async System.Threading.Tasks.Task ResourceResolver_OurProfile_HasASnapshotAndCoreResolves()
    {
        var sd = (await _sut.ResourceResolver.TryResolveByCanonicalUriAsync(TestData.Phq9Total)).Value as StructureDefinition;
        var core = (await _sut.ResourceResolver.TryResolveByCanonicalUriAsync("http://hl7.org/fhir/StructureDefinition/Observation|4.0.1")).Value;

        Assert.True(sd?.HasSnapshot);
        Assert.IsType<StructureDefinition>(core);
    }

    internal static Observation Mutate(string mutation)
    {
        var obs = TestData.Phq9();
        switch (mutation)
        {
            case "missing-subject": obs.Subject = null; break;
            case "missing-effective": obs.Effective = null; break;
            case "score-30": obs.Value = new Integer(30); break;
            case "score-minus-1": obs.Value = new Integer(-1); break;
            case "wrong-loinc": obs.Code = new CodeableConcept("http://loinc.org", "44249-1"); break;
            case "status-preliminary": obs.Status = ObservationStatus.Preliminary; break;
            case "severity-not-in-codesystem": obs.Interpretation[0].Coding[0].Code = "extreme"; break;
            case "two-interpretations": obs.Interpretation.Add((CodeableConcept)obs.Interpretation[0].DeepCopy()); break;
            case "bad-date": obs.Effective = new FhirDateTime { JsonValue = "2024-13-45" }; break;
            case "missing-status": obs.Status = null; break;
            default: throw new ArgumentOutOfRangeException(nameof(mutation), mutation, null);
        }
        return obs;
    }
}
