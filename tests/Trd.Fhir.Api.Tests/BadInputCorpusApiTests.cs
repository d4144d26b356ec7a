using System.Net.Http.Headers;
using Hl7.Fhir.Model;
using Trd.Fhir.Api.Tests.Infrastructure;
using Trd.Fhir.BadInput;

namespace Trd.Fhir.Api.Tests;

/// <summary>
/// The bad-input corpus (tests/bad-input/manifest.json) posted to the API: every hostile input gets its 4xx (never a 500)
/// and an OperationOutcome with an error issue carrying the expected expression and message; nothing echoes megabytes back.
/// </summary>
public sealed class BadInputCorpusApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    public static TheoryData<string> ApiCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in BadInputCorpus.Cases.Where(c => c.Api is not null))
            data.Add(c.File);
        return data;
    }

    [Theory]
    [MemberData(nameof(ApiCases))]
    public async Task Post_BadInput_PreciseOutcomeNever500(string file)
    {
        var c = BadInputCorpus.Case(file);
        var expected = c.Api!;
        using var content = new ByteArrayContent(BadInputCorpus.Bytes(c));
        content.Headers.ContentType = new MediaTypeHeaderValue(MediaType(c));

        using var response = await api.Client().PostAsync(expected.Endpoint, content);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected.Status == (int)response.StatusCode, $"status {(int)response.StatusCode}, expected {expected.Status}: {Head(body)}");
        var outcome = await TestData.OutcomeAsync(response);
        Assert.True(
            outcome.Issue.Any(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal
                && (i.Details?.Text ?? "").Contains(expected.Message, StringComparison.Ordinal)
                && (expected.Expression is null || i.Expression.Contains(expected.Expression))),
            $"no error issue with expression '{expected.Expression}' and message '…{expected.Message}…' in: {Head(body)}");
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.True(body.Length < 1_000_000, $"{body.Length} characters answered for one bad input");
    }

    [Fact]
    public void Manifest_PostsAtLeastFortyCasesToTheApi() =>
        Assert.Equal(76, BadInputCorpus.Cases.Count(c => c.Api is not null));

    /// <summary>XML as FHIR XML; JSON as a protocol document to the protocol endpoints, as FHIR JSON to /$validate.</summary>
    private static string MediaType(BadInputCase c) =>
        c.IsXml ? "application/fhir+xml" : c.Api!.Endpoint.StartsWith("/protocols", StringComparison.Ordinal) ? "application/json" : "application/fhir+json";

    private static string Head(string text) => text.Length <= 4000 ? text : text[..4000] + "…";
}
