using System.Net;
using Hl7.Fhir.Model;
using Trd.Fhir.Api.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Api.Tests;

/// <summary>The FHIR server unreachable (nothing listens) or failing (WireMock answering 503): /ready says which check
/// failed with 503, probe and pull answer 502 — OperationOutcomes, no stack trace.</summary>
public sealed class FailingServerTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Ready_ServerUnreachable_Returns503NamingTheFhirServerCheck()
    {
        using var response = await api.Client().GetAsync("/ready");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var issue = Assert.Single((await TestData.OutcomeAsync(response)).Issue);
        Assert.StartsWith("fhir-server: http://127.0.0.1:9/fhir", issue.Details.Text, StringComparison.Ordinal);
        Assert.Equal(OperationOutcome.IssueType.Transient, issue.Code);
    }

    [Fact]
    public async Task ServerAnswering503_ReadyIs503_ProbeAndPullAre502()
    {
        using var server = WireMockServer.Start();
        server.Given(Request.Create().UsingAnyMethod()).RespondWith(Response.Create().WithStatusCode(503).WithBody("maintenance"));
        await using var factory = ApiFactory.Configure(s => s.Server.BaseUrl = new Uri(server.Url + "/fhir"));
        var client = factory.Client();

        using var ready = await client.GetAsync("/ready");
        using var probe = await client.GetAsync("/servers/probe");
        using var pull = await client.GetAsync("/patients/" + Uri.EscapeDataString("https://h.example.org/mrn|SYN-503") + "/protocol");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.StartsWith("fhir-server:", Assert.Single((await TestData.OutcomeAsync(ready)).Issue).Details.Text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadGateway, probe.StatusCode);
        Assert.Equal(HttpStatusCode.BadGateway, pull.StatusCode);
        var issue = Assert.Single((await TestData.OutcomeAsync(pull)).Issue);
        Assert.StartsWith("the FHIR server could not be used", issue.Details.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", issue.Details.Text, StringComparison.Ordinal);
        Assert.All(server.LogEntries, e => Assert.StartsWith("/fhir/", e.RequestMessage.Path, StringComparison.Ordinal));
        Assert.NotEmpty(server.LogEntries);
    }
}
