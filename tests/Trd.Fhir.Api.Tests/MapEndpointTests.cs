using System.Net;
using Hl7.Fhir.Model;
using Trd.Fhir.Api.Tests.Infrastructure;

namespace Trd.Fhir.Api.Tests;

/// <summary>POST /protocols/$map: protocol document → validated transaction Bundle.</summary>
public sealed class MapEndpointTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private const string Path = "/protocols/$map";

    [Fact]
    public async Task Map_ValidProtocol_ReturnsTransactionBundleOfEveryResource()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Example("phase2-tms-partial-response")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bundle = await TestData.ResourceAsync<Bundle>(response);
        Assert.Equal(Bundle.BundleType.Transaction, bundle.Type);
        var expected = Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(Trd.Fhir.Adapter.Protocol.ProtocolReader.Read(TestData.Example("phase2-tms-partial-response")).Protocol!);
        Assert.Equal(expected.Entry.Select(e => e.FullUrl), bundle.Entry.Select(e => e.FullUrl));
        Assert.Contains(bundle.Entry, e => e.Resource is CarePlan);
    }

    [Fact]
    public async Task Map_Item9Positive_SafetySignalsHeaderListsEachAssessment()
    {
        using var positive = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Example("phase1-augmentation")));
        using var negative = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Example("phase2-remission")));

        Assert.Equal(HttpStatusCode.OK, positive.StatusCode);
        Assert.Equal("\"2026-09-07\";item9=1;total=19, \"2026-09-21\";item9=1;total=17", string.Join(", ", positive.Headers.GetValues("Trd-Safety-Signals")));
        Assert.Equal(HttpStatusCode.OK, negative.StatusCode);
        Assert.False(negative.Headers.Contains("Trd-Safety-Signals"));
    }

    [Fact]
    public async Task Map_InvalidProtocol_Returns422WithEveryProblemPath()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Invalid("several-errors")));

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        var outcome = await TestData.OutcomeAsync(response);
        var expected = TestData.Expected("several-errors");
        var errors = outcome.Issue.Where(i => i.Severity == OperationOutcome.IssueSeverity.Error).ToList();
        Assert.Equal(expected.Select(e => e.Path), errors.Select(i => i.Expression.Single()));
        Assert.Equal(expected.Select(e => e.Code), errors.Select(i => i.Details.Coding.Single().Code));
        Assert.Equal(expected.Select(e => $"line {e.Line},"), errors.Select(i => i.Diagnostics[..(i.Diagnostics.IndexOf(',') + 1)]));
    }

    [Fact]
    public async Task Map_Phq9ItemScoreFour_Returns422AtTheItemPath()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Invalid("phq9-item-score-4")));

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        var issue = Assert.Single((await TestData.OutcomeAsync(response)).Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error);
        Assert.Equal("$.phq9[2].items[1]", issue.Expression.Single());
        Assert.Equal(OperationOutcome.IssueType.Value, issue.Code);
    }

    [Fact]
    public async Task Map_TruncatedJson_Returns400WithLineAndColumn()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Invalid("truncated-json")));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var issue = Assert.Single((await TestData.OutcomeAsync(response)).Issue);
        Assert.Equal("InvalidJson", issue.Details.Coding.Single().Code);
        Assert.StartsWith("line 161, column ", issue.Diagnostics, StringComparison.Ordinal);
        Assert.Equal(OperationOutcome.IssueType.Structure, issue.Code);
    }

    [Fact]
    public async Task Map_MalformedJson_Returns400AtThePosition()
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body("{\n  \"id\": \"x\",\n  \"patient\": }"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var issue = Assert.Single((await TestData.OutcomeAsync(response)).Issue);
        Assert.StartsWith("line 3, column 14", issue.Diagnostics, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task Map_WrongMediaType_Returns415(string mediaType)
    {
        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(TestData.Example("phase2-tms-partial-response"), mediaType));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var issue = Assert.Single((await TestData.OutcomeAsync(response)).Issue);
        Assert.Equal(OperationOutcome.IssueType.NotSupported, issue.Code);
        Assert.Contains($"Content-Type '{mediaType}", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Map_BodyAboveTheLimit_Returns413()
    {
        var big = "{\"id\":\"" + new string('x', (int)api.Settings.MaxBodyBytes) + "\"}";

        using var response = await api.Client().PostAsync(Path, ApiFactory.Body(big));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var issue = Assert.Single((await TestData.OutcomeAsync(response)).Issue);
        Assert.Equal(OperationOutcome.IssueType.TooLong, issue.Code);
        Assert.Contains($"larger than {api.Settings.MaxBodyBytes} bytes", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Map_NoApiKey_Returns401()
    {
        using var response = await api.Client(key: null).PostAsync(Path, ApiFactory.Body(TestData.Example("phase2-tms-partial-response")));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("ApiKey header=\"X-Api-Key\"", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal(OperationOutcome.IssueType.Login, Assert.Single((await TestData.OutcomeAsync(response)).Issue).Code);
    }

    [Fact]
    public async Task Map_WrongApiKey_Returns401()
    {
        using var response = await api.Client(key: "not-the-key").PostAsync(Path, ApiFactory.Body(TestData.Example("phase2-tms-partial-response")));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("is not valid", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Details.Text, StringComparison.Ordinal);
    }
}
