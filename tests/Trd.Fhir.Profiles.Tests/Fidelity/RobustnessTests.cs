using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Validation;

namespace Trd.Fhir.Profiles.Tests.Fidelity;

/// <summary>Issue 12 item 1 inside the library: nothing the SDK throws escapes, and a Bundle entry keeps its own outcome.</summary>
public class RobustnessTests(ValidatorFixture fixture) : IClassFixture<ValidatorFixture>
{
    [Fact]
    public void EntryIsolation_ValidatorThrowsOnTheBundleAndOneEntry_OtherEntriesKeepTheirFindings()
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Collection };
        bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = "http://example.org/fhir/Patient/a", Resource = new Patient { Id = "a" } });
        bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = "http://example.org/fhir/Observation/b", Resource = new Observation { Id = "b" } });

        var oo = EntryIsolation.Validate(bundle, r => r switch
        {
            Bundle { Entry: [{ Resource: not null }, ..] } => throw new InvalidOperationException("whole bundle"),
            Patient => throw new NotSupportedException("patient"),
            Observation => Outcome("Missing required member: 'status'", "Observation.status"),
            _ => new OperationOutcome(),
        }, new InvalidOperationException("whole bundle"));

        Assert.Contains(oo.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Fatal && i.Expression.Single() == "Bundle.entry[0].resource" && i.Details.Text.Contains("patient", StringComparison.Ordinal));
        Assert.Contains(oo.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error && i.Expression.Single() == "Bundle.entry[1].resource.status");
    }

    [Fact]
    public void ParseXml_PrimitiveWrittenAsElement_FatalIssueNotException()
    {
        var result = TrdFhirParser.ParseXml("<Patient xmlns=\"http://hl7.org/fhir\"><active><value>true</value></active></Patient>");

        Assert.Null(result.Resource);
        var issue = Assert.Single(result.Outcome.Issue);
        Assert.Equal(OperationOutcome.IssueSeverity.Fatal, issue.Severity);
        Assert.Equal(TrdFhirParser.ParserFailure, issue.Details.Coding.Single().Code);
    }

    [Fact]
    public void Validate_ObjectWhereAnArrayBelongs_ErrorAtTheElementAndTheRestStillValidated()
    {
        var parsed = TrdFhirParser.ParseJson("""{"resourceType":"Patient","identifier":{"value":"1"},"gender":"robot"}""");
        var oo = fixture.Validator.Validate(parsed.Resource!);

        Assert.Contains(parsed.Outcome.Issue, i => i.Expression.Single() == "Patient.identifier" && i.Details.Text.Contains("must be a JSON array", StringComparison.Ordinal));
        Assert.Contains(oo.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error && i.Details.Text.Contains("robot", StringComparison.Ordinal));
    }

    private static OperationOutcome Outcome(string text, string at)
    {
        var oo = new OperationOutcome();
        oo.Issue.Add(new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.Required, Details = new CodeableConcept { Text = text }, Expression = [at] });
        return oo;
    }
}
