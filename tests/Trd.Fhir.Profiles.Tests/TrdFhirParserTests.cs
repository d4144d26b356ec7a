using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Tests;

public class TrdFhirParserTests
{
    [Fact]
    public void ParseJson_MalformedJson_ReturnsErrorIssueNotException()
    {
        var result = TrdFhirParser.ParseJson("""{"resourceType":"Observation","status":"final" """);

        Assert.Null(result.Resource);
        var issue = Assert.Single(result.Outcome.Issue);
        Assert.Equal(OperationOutcome.IssueSeverity.Error, issue.Severity);
        Assert.Contains("Invalid JSON", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseJson_NotJsonAtAll_ReturnsErrorIssue()
    {
        var result = TrdFhirParser.ParseJson("not json");

        Assert.Null(result.Resource);
        Assert.False(result.Success);
        Assert.Contains("Invalid JSON", Assert.Single(result.Outcome.Issue).Details.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"status":"final"}""", "no 'resourceType'")]
    [InlineData("""{"resourceType":"Bogus","status":"final"}""", "Unknown resourceType 'Bogus'")]
    public void ParseJson_MissingOrUnknownResourceType_ReturnsErrorIssue(string json, string fragment)
    {
        var result = TrdFhirParser.ParseJson(json);

        Assert.Null(result.Resource);
        Assert.Contains(fragment, Assert.Single(result.Outcome.Issue).Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseJson_BadCodeUnknownElementWrongLiteral_KeptForTheValidator()
    {
        var result = TrdFhirParser.ParseJson("""{"resourceType":"Observation","status":"bogus","foo":1,"code":{"text":"x"},"valueInteger":"12"}""");

        Assert.True(result.Success);
        var obs = Assert.IsType<Observation>(result.Resource);
        Assert.Equal("bogus", obs.StatusElement.JsonValue);
    }

    [Fact]
    public void ParseJson_DuplicateProperty_ReportsWhatThePocoCannotHold()
    {
        var result = TrdFhirParser.ParseJson("""{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":1,"valueString":"a"}""");

        Assert.NotNull(result.Resource);
        var issue = Assert.Single(result.Outcome.Issue);
        Assert.Equal(OperationOutcome.IssueSeverity.Error, issue.Severity);
        Assert.Contains("duplicate property 'valueString'", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseXml_MalformedXml_ReturnsErrorIssue()
    {
        var result = TrdFhirParser.ParseXml("<Observation xmlns=\"http://hl7.org/fhir\"><status value=\"final\"></Observation>");

        Assert.Null(result.Resource);
        Assert.Contains("Invalid XML", Assert.Single(result.Outcome.Issue).Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseXml_BadCode_KeptForTheValidator()
    {
        var result = TrdFhirParser.ParseXml("<Observation xmlns=\"http://hl7.org/fhir\"><status value=\"bogus\"/><code><text value=\"x\"/></code></Observation>");

        var obs = Assert.IsType<Observation>(result.Resource);
        Assert.Equal("bogus", obs.StatusElement.JsonValue);
    }
}
