using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Api.Tests.Infrastructure;

namespace Trd.Fhir.Api.Tests;

/// <summary>POST /$validate: a protocol document, a FHIR resource or a Bundle, JSON or XML → OperationOutcome (200 valid, 422 invalid).</summary>
public sealed class ValidateEndpointTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private const string Path = "/$validate";

    private static Bundle MappedExample() =>
        ProtocolToFhir.Default.Map(ProtocolReader.Read(TestData.Example("phase1-augmentation")).Protocol!);

    [Fact]
    public async Task Validate_ValidProtocolDocument_Returns200WithoutErrors()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Example("phase1-augmentation")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var outcome = await TestData.OutcomeAsync(response);
        Assert.DoesNotContain(outcome.Issue, i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal);
    }

    [Fact]
    public async Task Validate_InvalidProtocolDocument_Returns422WithTheProblemPaths()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Invalid("mixed-structural-and-semantic-errors")));

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        var outcome = await TestData.OutcomeAsync(response);
        var expected = TestData.Expected("mixed-structural-and-semantic-errors");
        Assert.Equal(expected.Select(e => e.Path), outcome.Issue.Where(i => i.Severity == OperationOutcome.IssueSeverity.Error).Select(i => i.Expression.Single()));
    }

    [Fact]
    public async Task Validate_MappedBundleAsFhirJson_Returns200()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(FhirJson.Serialize(MappedExample()), "application/fhir+json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain((await TestData.OutcomeAsync(response)).Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error);
    }

    [Fact]
    public async Task Validate_ResourceAsFhirXml_Returns200()
    {
        var condition = MappedExample().Entry.Select(e => e.Resource).OfType<Condition>().First();
        var xml = new FhirXmlSerializer().SerializeToString(condition);

        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(xml, "application/fhir+xml"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain((await TestData.OutcomeAsync(response)).Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error);
    }

    [Fact]
    public async Task Validate_ObservationBreakingTheProfile_Returns422WithTheElementPath()
    {
        var total = MappedExample().Entry.Select(e => e.Resource).OfType<Observation>().First(o => o.Code.Coding.Any(c => c.Code == "44261-6"));
        total.Status = null; // required by core and by the profile

        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(FhirJson.Serialize(total), "application/fhir+json"));

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        var outcome = await TestData.OutcomeAsync(response);
        Assert.Contains(outcome.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error && i.Expression.Any(e => e.StartsWith("Observation", StringComparison.Ordinal)) && (i.Details?.Text ?? "").Contains("status", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Validate_MalformedFhirJson_Returns400WithLineAndPosition()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body("{\"resourceType\": \"Observation\",\n \"status\": \"final\",,}", "application/fhir+json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var issue = Assert.Single((await TestData.OutcomeAsync(response)).Issue);
        Assert.Equal("json-syntax", issue.Details.Coding.Single().Code);
        Assert.Equal("line 2, position 20", issue.Diagnostics);
    }

    [Fact]
    public async Task Validate_XmlWithDoctype_Returns400WithoutExpandingIt()
    {
        const string bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"&lol2;\"/></Patient>";

        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(bomb, "application/fhir+xml"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("xml-syntax", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Details.Coding.Single().Code);
    }

    [Fact]
    public async Task Validate_UnknownResourceType_Returns422()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body("{\"resourceType\": \"Patientt\"}", "application/fhir+json"));

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        Assert.Contains("Patientt", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_WrongMediaType_Returns415()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body("resourceType=Patient", "text/plain"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("Content-Type 'text/plain", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_BodyAboveTheLimit_Returns413()
    {
        using var content = new ByteArrayContent(new byte[api.Settings.MaxBodyBytes + 1]);
        content.Headers.ContentType = new("application/fhir+json");

        using var response = await api.Client().PostAsync(Path, content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(OperationOutcome.IssueType.TooLong, Assert.Single((await TestData.OutcomeAsync(response)).Issue).Code);
    }

    [Fact]
    public async Task Validate_NoApiKey_Returns401()
    {
        using var response = await api.Client(key: null).PostAsync(Path, ApiFactory.Body(TestData.Example("phase1-augmentation")));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(OperationOutcome.IssueType.Login, Assert.Single((await TestData.OutcomeAsync(response)).Issue).Code);
    }

    [Fact]
    public async Task Validate_WrongApiKey_Returns401()
    {
        using var response = await api.Client(key: ApiFactory.Key + "x").PostAsync(Path, ApiFactory.Body(TestData.Example("phase1-augmentation")));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("is not valid", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Details.Text, StringComparison.Ordinal);
    }

    /// <summary>Issue 12 item 4: a valid PHQ-9 total keeps its single "valid" issue; the LOINC coding the API could not check
    /// offline is counted in the codes-not-checked-offline extension of the answer.</summary>
    [Fact]
    public async Task Validate_ValidPhq9Total_Returns200_NoIssue_CountsTheLoincCodingNotCheckedOffline()
    {
        var total = File.ReadAllText(System.IO.Path.Combine(TestData.Root, "profiles", "examples", "trd-observation-phq9-total.valid.json"));

        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(total, "application/fhir+json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var outcome = await TestData.OutcomeAsync(response);
        Assert.Equal("valid: no issues", Assert.Single(outcome.Issue).Details.Text);
        var counts = Assert.Single(outcome.Extension, e => e.Url == "https://trd-fhir.example.org/fhir/StructureDefinition/codes-not-checked-offline");
        Assert.Equal("http://loinc.org", ((FhirUri)counts.Extension.Single(e => e.Url == "system").Value).Value);
        Assert.Equal(1, ((Integer)counts.Extension.Single(e => e.Url == "count").Value).Value);
    }
}
