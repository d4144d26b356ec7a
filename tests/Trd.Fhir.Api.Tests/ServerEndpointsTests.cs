using System.Net;
using System.Text.Json;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Api.Tests.Infrastructure;

namespace Trd.Fhir.Api.Tests;

/// <summary>The endpoints that talk to the FHIR server — POST /protocols (+ status), pull, report, probe, ready — against the
/// real test server (Medplum's engine); and that their logs carry no patient data.</summary>
public sealed class ServerEndpointsTests(ServerApi fixture) : IClassFixture<ServerApi>
{
    private ApiFactory Api => fixture.Api;

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    private static int Count(JsonElement summary, string state) => summary.GetProperty("counts").GetProperty(state).GetInt32();

    [Fact]
    public async Task PushProtocol_NewPatientData_Returns200SummaryAndARepeatCreatesNothing()
    {
        var (document, protocol) = await fixture.RegisterAsync("phase1-augmentation", "SYN-API-PUSH-1");
        var expected = Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(protocol).Entry.Count;
        var client = fixture.Client();

        using var first = await client.PostAsync("/protocols", ApiFactory.Body(document));
        using var status = await client.GetAsync($"/protocols/{protocol.Id}/status");
        var changed = ProtocolWriter.Write(protocol with { Phq9 = protocol.Phq9.Take(protocol.Phq9.Count - 1).ToList() });
        using var again = await client.PostAsync("/protocols", ApiFactory.Body(document));

        Assert.True(first.StatusCode == HttpStatusCode.OK, await first.Content.ReadAsStringAsync());
        Assert.Equal($"/protocols/{protocol.Id}/status", first.Content.Headers.ContentLocation?.ToString());
        var summary = await JsonAsync(first);
        Assert.Equal("confirmed", summary.GetProperty("state").GetString());
        Assert.Equal(expected, Count(summary, "created"));
        Assert.Equal(0, Count(summary, "failed") + Count(summary, "skipped") + Count(summary, "updated"));
        var state = await JsonAsync(status);
        Assert.Equal("confirmed", state.GetProperty("state").GetString());
        Assert.Equal(expected, state.GetProperty("resources").GetProperty("confirmed").GetInt32());
        Assert.True(again.StatusCode == HttpStatusCode.OK, await again.Content.ReadAsStringAsync());
        Assert.Equal("confirmed", (await JsonAsync(again)).GetProperty("state").GetString());
        Assert.NotEqual(document, changed);
    }

    [Fact]
    public async Task PushProtocol_RespondAsync_Returns202AndTheStatusUrlBecomesConfirmed()
    {
        var (document, protocol) = await fixture.RegisterAsync("phase1-augmentation", "SYN-API-ASYNC-1");
        await using var api = fixture.WithFastWorker();
        var client = api.Client();
        client.Timeout = TimeSpan.FromMinutes(10);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/protocols") { Content = ApiFactory.Body(document) };
        request.Headers.Add("Prefer", "respond-async");

        using var accepted = await client.SendAsync(request);
        var location = accepted.Content.Headers.ContentLocation!.ToString();
        var state = "";
        for (var i = 0; i < 600 && state != "confirmed"; i++) // bounded: fails instead of hanging; the worker polls every 50 ms
        {
            using var status = await client.GetAsync(location);
            state = (await JsonAsync(status)).GetProperty("state").GetString();
            if (state != "confirmed") await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal($"/protocols/{protocol.Id}/status", location);
        Assert.Equal("queued", (await JsonAsync(accepted)).GetProperty("state").GetString());
        Assert.Equal("confirmed", state);
    }

    [Fact]
    public async Task PushProtocol_PatientUnknownToTheServer_Returns422DeadLetterWithTheReason()
    {
        var (document, protocol) = await fixture.RegisterAsync("phase1-augmentation", "SYN-API-DEAD-1");
        document = ProtocolWriter.Write(protocol with { Id = protocol.Id + "-x", Patient = protocol.Patient with { Value = "SYN-API-NOT-REGISTERED" } });

        using var response = await fixture.Client().PostAsync("/protocols", ApiFactory.Body(document));

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        var outcome = await TestData.OutcomeAsync(response);
        Assert.Contains("dead letter", outcome.Issue[0].Details.Text, StringComparison.Ordinal);
        Assert.Contains("patient was not found", outcome.Issue[0].Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PushProtocol_InvalidProtocol_Returns422WithPaths()
    {
        using var response = await fixture.Client().PostAsync("/protocols", ApiFactory.Body(TestData.Invalid("phase-end-before-start")));

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        var expected = TestData.Expected("phase-end-before-start");
        Assert.Equal(expected.Select(e => e.Path), (await TestData.OutcomeAsync(response)).Issue.Where(i => i.Severity == OperationOutcome.IssueSeverity.Error).Select(i => i.Expression.Single()));
    }

    [Fact]
    public async Task PushProtocol_MalformedJson_Returns400()
    {
        using var response = await fixture.Client().PostAsync("/protocols", ApiFactory.Body("{\"id\": \"a\", "));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("InvalidJson", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Details.Coding.Single().Code);
    }

    [Fact]
    public async Task PushProtocol_WrongMediaType_Returns415()
    {
        using var response = await fixture.Client().PostAsync("/protocols", ApiFactory.Body(TestData.Example("phase1-augmentation"), "text/csv"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task PushProtocol_Oversized_Returns413()
    {
        using var response = await fixture.Client().PostAsync("/protocols", ApiFactory.Body(new string(' ', (int)Api.Settings.MaxBodyBytes + 10)));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key")]
    public async Task EveryProtectedEndpoint_WithoutAValidKey_Returns401(string? key)
    {
        var client = fixture.Client(key);
        var segment = ServerApi.Segment("SYN-API-401");
        var requests = new (HttpMethod Method, string Path)[]
        {
            (HttpMethod.Post, "/protocols"), (HttpMethod.Get, "/protocols/x/status"), (HttpMethod.Post, "/protocols/$map"), (HttpMethod.Post, "/$validate"),
            (HttpMethod.Get, $"/patients/{segment}/protocol"), (HttpMethod.Get, $"/patients/{segment}/report"), (HttpMethod.Get, "/servers/probe"), (HttpMethod.Get, "/ready"),
        };
        var statuses = new List<HttpStatusCode>();
        foreach (var (method, path) in requests)
        {
            using var request = new HttpRequestMessage(method, path) { Content = method == HttpMethod.Post ? ApiFactory.Body(TestData.Example("phase1-augmentation")) : null };
            using var response = await client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, requests.Length), statuses);
    }

    [Fact]
    public async Task ProtocolStatus_UnknownProtocol_Returns404()
    {
        using var response = await fixture.Client().GetAsync("/protocols/never-pushed/status");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("id", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Expression.Single());
    }

    [Fact]
    public async Task PullProtocol_AfterAPush_ReturnsTheProtocolDocument()
    {
        var (document, protocol) = await fixture.RegisterAsync("phase2-remission", "SYN-API-PULL-1");
        var client = fixture.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/protocols", ApiFactory.Body(document))).StatusCode);

        using var response = await client.GetAsync($"/patients/{ServerApi.Segment("SYN-API-PULL-1")}/protocol");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var pulled = ProtocolReader.Read(await response.Content.ReadAsStringAsync());
        Assert.True(pulled.Success, string.Join("\n", pulled.Problems));
        Assert.Equal(protocol.Id, pulled.Protocol!.Id);
        Assert.Equal(protocol.Phq9.Count, pulled.Protocol.Phq9.Count);
        Assert.Equal(protocol.Sessions.Count, pulled.Protocol.Sessions.Count);
    }

    [Fact]
    public async Task PullProtocol_Item9Positive_SafetySignalsHeaderListsEachAssessment()
    {
        var (document, _) = await fixture.RegisterAsync("phase1-augmentation", "SYN-API-PULL-SIGNAL");
        var client = fixture.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/protocols", ApiFactory.Body(document))).StatusCode);

        using var response = await client.GetAsync($"/patients/{ServerApi.Segment("SYN-API-PULL-SIGNAL")}/protocol");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"2026-09-07\";item9=1;total=19, \"2026-09-21\";item9=1;total=17", string.Join(", ", response.Headers.GetValues("Trd-Safety-Signals")));
    }

    [Fact]
    public async Task PullProtocol_PseudonymKeyFromSettings_KeysTheProtocolIdOfForeignData()
    {
        // PHQ-9 written by another system (no Trd.Fhir CarePlan, so no protocol id of ours): the id is the keyed pseudonym.
        const string secret = "synthetic-installation-secret-0001";
        await fixture.RegisterAsync("phase2-remission", "SYN-API-PSEUDONYM");
        var server = fixture.Server.CreateClient();
        var patient = (await server.SearchAsync<Patient>(new Hl7.Fhir.Rest.SearchParams().Add("identifier", $"{ServerApi.PatientSystem}|SYN-API-PSEUDONYM")))!.Entry.Single().Resource!;
        await server.CreateAsync(new Observation
        {
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "44261-6"),
            Subject = new ResourceReference($"Patient/{patient.Id}"),
            Effective = new FhirDateTime("2026-05-04"),
            Value = new Quantity { Value = 12, System = "http://unitsofmeasure.org", Code = "{score}" },
        });
        await using var keyed = ApiFactory.Configure(s =>
        {
            s.Server.BaseUrl = fixture.Server.BaseUrl;
            s.PseudonymKey = secret;
        });

        using var response = await keyed.Client().GetAsync($"/patients/{ServerApi.Segment("SYN-API-PSEUDONYM")}/protocol");

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var pulled = ProtocolReader.Read(await response.Content.ReadAsStringAsync()).Protocol!;
        Assert.Equal(new Trd.Fhir.Adapter.Mapping.PseudonymKey(secret).ProtocolId(ServerApi.PatientSystem, "SYN-API-PSEUDONYM"), pulled.Id);
        Assert.NotEqual(Trd.Fhir.Adapter.Mapping.PseudonymKey.UnkeyedProtocolId(ServerApi.PatientSystem, "SYN-API-PSEUDONYM"), pulled.Id);
    }

    [Fact]
    public async Task PullProtocol_UnknownPatient_Returns404()
    {
        using var response = await fixture.Client().GetAsync($"/patients/{ServerApi.Segment("SYN-API-NOBODY")}/protocol");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no patient on the server has this identifier", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Details.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no-bar-here")]
    [InlineData("system-only%7C")]
    public async Task PullProtocol_SegmentIsNotSystemBarValue_Returns400(string segment)
    {
        using var response = await fixture.Client().GetAsync($"/patients/{segment}/protocol");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("patient", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Expression.Single());
    }

    [Fact]
    public async Task PatientReport_JsonAndHtmlByAccept()
    {
        var (document, protocol) = await fixture.RegisterAsync("phase2-remission", "SYN-API-REPORT-1");
        var client = fixture.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/protocols", ApiFactory.Body(document))).StatusCode);
        var path = $"/patients/{ServerApi.Segment("SYN-API-REPORT-1")}/report?asOf=2026-06-30";

        using var json = await client.GetAsync(path);
        using var htmlRequest = new HttpRequestMessage(HttpMethod.Get, path);
        htmlRequest.Headers.Accept.ParseAdd("text/html");
        using var html = await client.SendAsync(htmlRequest);
        using var badDate = await client.GetAsync($"/patients/{ServerApi.Segment("SYN-API-REPORT-1")}/report?asOf=30.06.2026");

        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        var report = await JsonAsync(json);
        Assert.Equal(protocol.Id, report.GetProperty("protocolId").GetString());
        Assert.Equal(protocol.Phq9.Count(p => p.Date <= new DateOnly(2026, 6, 30)), report.GetProperty("phq9").GetArrayLength());
        Assert.Equal("text/html", html.Content.Headers.ContentType?.MediaType);
        var page = await html.Content.ReadAsStringAsync();
        Assert.StartsWith("<!DOCTYPE html>", page.TrimStart(), StringComparison.OrdinalIgnoreCase);
        // The page's own policy: its inline <style> by hash, nothing else; never cached, never framed (SecurityHeadersTests).
        var policy = string.Join(",", html.Headers.GetValues("Content-Security-Policy"));
        Assert.Equal(Trd.Fhir.Adapter.Api.SecurityHeaders.ForHtml(page), policy);
        Assert.StartsWith("default-src 'none'; style-src 'sha256-", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.True(html.Headers.CacheControl?.NoStore, "the HTML report carries patient data: Cache-Control: no-store");
        Assert.True(json.Headers.CacheControl?.NoStore, "the JSON report carries patient data: Cache-Control: no-store");
        Assert.Equal(HttpStatusCode.BadRequest, badDate.StatusCode);
    }

    [Fact]
    public async Task ProbeServer_ReportsTheServersCapabilities()
    {
        using var response = await fixture.Client().GetAsync("/servers/probe");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var probe = await JsonAsync(response);
        Assert.Equal(fixture.Server.BaseUrl.ToString().TrimEnd('/'), probe.GetProperty("server").GetString()!.TrimEnd('/'));
        Assert.True(probe.GetProperty("transaction").GetBoolean());
        Assert.Equal("transaction", probe.GetProperty("pushStrategy").GetString());
        Assert.Equal(Trd.Fhir.Adapter.Sync.PullWorkflow.ResourceTypes, probe.GetProperty("resources").EnumerateArray().Select(r => r.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task Ready_LedgerAndServerAnswer_Returns200()
    {
        using var response = await fixture.Client().GetAsync("/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ready = await JsonAsync(response);
        Assert.Equal(["validator", "ledger", "fhir-server"], ready.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("check").GetString()));
        Assert.All(ready.GetProperty("checks").EnumerateArray(), c => Assert.True(c.GetProperty("ok").GetBoolean()));
    }

    [Fact]
    public async Task Logs_OfPushPullAndReport_CarryNoPatientData()
    {
        const string value = "SYN-API-LOGS-7731";
        var (document, _) = await fixture.RegisterAsync("phase3-ect-esketamine", value);
        var client = fixture.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/protocols", ApiFactory.Body(document))).StatusCode);
        (await client.GetAsync($"/patients/{ServerApi.Segment(value)}/protocol")).EnsureSuccessStatusCode();
        (await client.GetAsync($"/patients/{ServerApi.Segment(value)}/report")).EnsureSuccessStatusCode();
        (await client.GetAsync($"/patients/{ServerApi.Segment(value + "-missing")}/protocol")).Dispose();

        var logs = await Api.LogsContainingAsync("/patients/{patient}/report");

        Assert.Contains("HTTP GET /patients/{patient}/protocol responded 200", logs, StringComparison.Ordinal);
        Assert.Contains("HTTP POST /protocols responded 200", logs, StringComparison.Ordinal);
        var secrets = new[] { value, ServerApi.PatientFamily, "Qwertyuiop", ServerApi.BirthDate, ApiFactory.Key };
        var leaking = logs.Split('\n').Where(line => secrets.Any(s => line.Contains(s, StringComparison.OrdinalIgnoreCase))).ToList();
        Assert.Equal("", string.Join("\n", leaking));
    }
}
