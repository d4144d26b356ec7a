using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Trd.Fhir.Adapter.Telemetry;
using Trd.Fhir.Api.Tests.Infrastructure;

namespace Trd.Fhir.Api.Tests;

/// <summary>
/// Traces and metrics of <c>serve</c> through OpenTelemetry's in-memory exporters, against the real test FHIR server: a push
/// and a pull of a registered synthetic patient give request → use case → FHIR call spans and the push/resource/validation
/// metrics, and nothing of the patient (identifier value, name, birth date, the identifier search) appears in any span
/// name, tag or event, in any metric tag, or on the Prometheus endpoint.
/// </summary>
public sealed class TelemetryTests(TelemetryTests.Fixture fixture) : IClassFixture<TelemetryTests.Fixture>
{
    private const string PatientValue = "SYN-OTEL-7731";

    public sealed class Fixture : IAsyncLifetime
    {
        public ServerApi Patients { get; } = new();
        public List<Activity> Spans { get; } = [];
        public List<Metric> Metrics { get; } = [];
        public ApiFactory Api { get; private set; } = null!;

        /// <summary>
        /// The traces of this fixture's push and pull, sent as W3C <c>traceparent</c>: ASP.NET Core's and the adapter's
        /// activity sources are process-wide, so the in-memory exporter also sees the spans of other test classes' hosts
        /// running at the same time; the assertions look only at these two traces.
        /// </summary>
        public ActivityTraceId PushTrace { get; } = ActivityTraceId.CreateRandom();
        public ActivityTraceId PullTrace { get; } = ActivityTraceId.CreateRandom();

        public async Task InitializeAsync()
        {
            await Patients.InitializeAsync();
            Api = ApiFactory.Configure(s =>
            {
                s.Server.BaseUrl = Patients.Server.BaseUrl;
                s.RateLimitPermits = 100_000;
                s.Sync.PollInterval = TimeSpan.FromMinutes(30);
            });
            Api.TestServices = services => services
                .ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Spans))
                .ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(Metrics));
            var (document, _) = await Patients.RegisterAsync("phase1-augmentation", PatientValue);
            var client = Api.Client();
            client.Timeout = TimeSpan.FromMinutes(10);
            using var pushRequest = new HttpRequestMessage(HttpMethod.Post, "/protocols") { Content = ApiFactory.Body(document) };
            pushRequest.Headers.Add("traceparent", TraceParent(PushTrace));
            using var push = await client.SendAsync(pushRequest);
            Assert.Equal(HttpStatusCode.OK, push.StatusCode);
            using var pullRequest = new HttpRequestMessage(HttpMethod.Get, $"/patients/{ServerApi.Segment(PatientValue)}/protocol");
            pullRequest.Headers.Add("traceparent", TraceParent(PullTrace));
            using var pull = await client.SendAsync(pullRequest);
            Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
            await Api.Services.GetRequiredService<LedgerGauges>().RefreshAsync(CancellationToken.None);
            Flush();
        }

        private static string TraceParent(ActivityTraceId trace) => $"00-{trace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01";

        public void Flush()
        {
            Api.Services.GetRequiredService<TracerProvider>().ForceFlush();
            Api.Services.GetRequiredService<MeterProvider>().ForceFlush();
        }

        public async Task DisposeAsync()
        {
            await Api.DisposeAsync();
            await Patients.DisposeAsync();
        }
    }

    /// <summary>What must never leave the process: the patient's identifier (raw and percent-encoded), name and birth date.</summary>
    private static readonly string[] PatientData =
    [
        PatientValue, Uri.EscapeDataString(PatientValue), ServerApi.PatientFamily, "Qwertyuiop", ServerApi.BirthDate, "identifier=",
        Uri.EscapeDataString(ServerApi.PatientSystem),
    ];

    private static string Describe(Activity a)
    {
        var text = new StringBuilder().Append(a.DisplayName).Append(' ').Append(a.OperationName);
        foreach (var tag in a.TagObjects) text.Append(' ').Append(tag.Key).Append('=').Append(tag.Value);
        foreach (var e in a.Events)
        {
            text.Append(' ').Append(e.Name);
            foreach (var tag in e.Tags) text.Append(' ').Append(tag.Key).Append('=').Append(tag.Value);
        }
        foreach (var b in a.Baggage) text.Append(' ').Append(b.Key).Append('=').Append(b.Value);
        return text.ToString();
    }

    private List<Activity> Spans()
    {
        lock (fixture.Spans) return [.. fixture.Spans];
    }

    [Fact]
    public void Traces_PushAndPull_RequestThenUseCaseThenFhirCalls()
    {
        var spans = Spans();

        var request = Assert.Single(spans, s => s.Kind == ActivityKind.Server && s.TraceId == fixture.PushTrace && s.GetTagItem("http.route") as string == "/protocols" && s.GetTagItem("http.request.method") as string == "POST");
        var useCase = Assert.Single(spans, s => s.DisplayName == "trd-fhir PushProtocol" && s.ParentSpanId == request.SpanId);
        Assert.Equal("PushProtocol", useCase.GetTagItem("trd_fhir.use_case"));
        Assert.Equal(200, useCase.GetTagItem("http.response.status_code"));
        var calls = spans.Where(s => s.Kind == ActivityKind.Client && s.TraceId == request.TraceId).ToList();
        Assert.NotEmpty(calls);
        var host = fixture.Patients.Server.BaseUrl.Host;
        Assert.All(calls, c =>
        {
            Assert.Equal(host, c.GetTagItem("server.address"));
            Assert.NotNull(c.GetTagItem("http.response.status_code"));
            Assert.Contains(c.GetTagItem("fhir.interaction") as string, new[] { "capabilities", "search", "read", "bundle", "create", "update" });
        });
        Assert.Contains(calls, c => c.GetTagItem("fhir.interaction") as string == "search" && c.GetTagItem("fhir.resource_type") as string == "Patient");
        Assert.Contains(calls, c => c.GetTagItem("fhir.interaction") as string == "bundle");
        // Every FHIR call hangs under the use case (directly or through the HttpClient's own nesting).
        var byId = spans.ToDictionary(s => s.SpanId);
        Assert.All(calls, c =>
        {
            var parent = c;
            while (parent.ParentSpanId != default && parent.SpanId != useCase.SpanId && byId.TryGetValue(parent.ParentSpanId, out var p))
                parent = p;
            Assert.Equal(useCase.SpanId, parent.SpanId);
        });

        var pullRequest = Assert.Single(spans, s => s.Kind == ActivityKind.Server && s.TraceId == fixture.PullTrace && s.GetTagItem("http.route") as string == "/patients/{patient}/protocol");
        Assert.Equal("/patients/{patient}/protocol", pullRequest.GetTagItem("url.path"));
        Assert.Single(spans, s => s.DisplayName == "trd-fhir PullProtocol" && s.ParentSpanId == pullRequest.SpanId);
    }

    [Fact]
    public void Traces_NoSpanCarriesPatientData()
    {
        var spans = Spans();
        Assert.True(spans.Count > 5, $"only {spans.Count} spans");

        foreach (var span in spans)
        {
            var text = Describe(span);
            foreach (var secret in PatientData)
                Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
        }
        // The FHIR searches did carry the identifier: their URLs were redacted, not absent.
        Assert.Contains(spans, s => s.Kind == ActivityKind.Client && s.GetTagItem("url.full") is string url && url.EndsWith("/Patient", StringComparison.Ordinal));
    }

    [Fact]
    public void Metrics_PushResourcesValidationAndLedger_WithOutcomeAndKind()
    {
        fixture.Flush();
        List<Metric> metrics;
        lock (fixture.Metrics) metrics = [.. fixture.Metrics];

        static IEnumerable<MetricPoint> Points(Metric m)
        {
            foreach (ref readonly var p in m.GetMetricPoints()) yield return p;
        }
        static Dictionary<string, object?> Tags(MetricPoint p)
        {
            var tags = new Dictionary<string, object?>();
            foreach (var t in p.Tags) tags[t.Key] = t.Value;
            return tags;
        }
        Metric Named(string name) => metrics.Last(m => m.Name == name);

        Assert.Contains(Points(Named("trd_fhir.pushes")), p => Tags(p).GetValueOrDefault("outcome") as string == "confirmed" && p.GetSumLong() >= 1);
        Assert.Contains(Points(Named("trd_fhir.push.resources")), p => Tags(p).GetValueOrDefault("outcome") as string == "created" && Tags(p).GetValueOrDefault("kind") as string == "CarePlan" && p.GetSumLong() >= 1);
        Assert.Contains(Points(Named("trd_fhir.validation.duration")), p => p.GetHistogramCount() >= 1 && Tags(p).GetValueOrDefault("kind") as string == "Bundle");
        Assert.Contains(Points(Named("trd_fhir.validation.resources")), p => p.GetSumLong() >= 10);
        Assert.Contains(Points(Named("trd_fhir.validation.rate")), p => p.GetHistogramCount() >= 1 && p.GetHistogramSum() > 0);
        Assert.Contains(Points(Named("trd_fhir.ledger.queue.depth")), p => Tags(p).GetValueOrDefault("state") as string == "queued");
        Assert.Single(Points(Named("trd_fhir.ledger.dead_letters.current")));
        Assert.Contains(metrics, m => m.Name == "http.server.request.duration");
        Assert.Contains(metrics, m => m.Name == "http.client.request.duration");

        foreach (var metric in metrics)
        {
            foreach (var point in Points(metric))
            {
                var text = metric.Name + " " + string.Join(" ", Tags(point).Select(t => $"{t.Key}={t.Value}"));
                foreach (var secret in PatientData)
                    Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
            }
        }
    }

    [Fact]
    public async Task Prometheus_ScrapeEndpoint_BehindTheKeyAndWithoutPatientData()
    {
        using var anonymous = await fixture.Api.Client(key: null).GetAsync("/metrics");
        using var scrape = await fixture.Api.Client().GetAsync("/metrics");
        var text = await scrape.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.Contains("trd_fhir_pushes_total{", text, StringComparison.Ordinal);
        Assert.Contains("outcome=\"confirmed\"", text, StringComparison.Ordinal);
        Assert.Contains("trd_fhir_validation_duration_seconds_bucket", text, StringComparison.Ordinal);
        foreach (var secret in PatientData)
            Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("GET", "https://ehr.example.org/api/FHIR/R4/Patient?identifier=https%3A%2F%2Fh.example%7C123", "search", "Patient", "https://ehr.example.org/api/FHIR/R4/Patient")]
    [InlineData("GET", "https://ehr.example.org/fhir/CarePlan/abc-123/_history/2", "read", "CarePlan", "https://ehr.example.org/fhir/CarePlan/{id}/_history/{id}")]
    [InlineData("PUT", "http://127.0.0.1:8103/fhir/Observation?identifier=x%7Cy", "update", "Observation", "http://127.0.0.1:8103/fhir/Observation")]
    [InlineData("POST", "http://127.0.0.1:8103/fhir", "bundle", null, "http://127.0.0.1:8103/fhir")]
    [InlineData("GET", "http://127.0.0.1:8103/fhir/metadata", "capabilities", null, "http://127.0.0.1:8103/fhir/metadata")]
    public void TagFhirCall_Url_InteractionTypeAndRedactedUrl(string method, string url, string interaction, string? type, string redacted)
    {
        using var activity = new Activity("test").Start();

        RedactingProcessor.TagFhirCall(activity, method, new Uri(url));

        Assert.Equal(interaction, activity.GetTagItem("fhir.interaction"));
        Assert.Equal(type, activity.GetTagItem("fhir.resource_type"));
        Assert.Equal(redacted, activity.GetTagItem("url.full"));
    }
}
