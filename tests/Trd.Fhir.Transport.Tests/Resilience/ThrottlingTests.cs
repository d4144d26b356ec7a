using System.Globalization;
using System.Net;
using System.Text;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Resilience;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests.Resilience;

/// <summary>
/// Throttling is back-pressure, not failure; an open breaker is waited for inside a wait scope. Through the named
/// HttpClient against WireMock, on the test clock: every wait below is one the code asked the clock for.
/// </summary>
public sealed class ThrottlingTests : IDisposable
{
    private const string PatientJson = """{"resourceType":"Patient","id":"1"}""";
    private const string ObservationJson = """{"resourceType":"Observation","status":"final","code":{"text":"PHQ-9"}}""";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);
    private static readonly Uri Patient = new("Patient/1", UriKind.Relative);

    private readonly WireMockServer _server = WireMockServer.Start();
    private readonly TestClock _clock = new();

    public void Dispose() => _server.Stop();

    private static IResponseBuilder Ok(string body = PatientJson) =>
        Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/fhir+json").WithBody(body);

    private static IResponseBuilder TooMany(string? retryAfter) =>
        retryAfter is null ? Response.Create().WithStatusCode(429) : Response.Create().WithStatusCode(429).WithHeader("Retry-After", retryAfter);

    private TransportSut Sut(Action<ResilienceSettings>? resilience = null) =>
        TransportSut.Create(TransportSut.OptionsFor(_server, resilience), _clock);

    /// <summary>A breaker that opens after two failures of two requests, and a single retry: 429s must touch neither.</summary>
    private static void TouchyBreaker(ResilienceSettings r)
    {
        r.MaxRetries = 1;
        r.BreakerMinimumThroughput = 2;
        r.BreakerFailureRatio = 0.5;
    }

    [Fact]
    public async Task GetAsync_Five429s_NeitherRetryCountNorBreakerTouchedAndTheAnswerArrives()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(),
            TooMany("1"), TooMany("1"), TooMany("1"), TooMany("1"), TooMany("1"), Ok());
        _server.Given(Request.Create().WithPath("/fhir/Patient/2").UsingGet()).RespondWith(Ok());
        using var sut = Sut(TouchyBreaker);

        var call = sut.Client.GetAsync(Patient);
        var waits = new List<TimeSpan>();
        for (var i = 0; i < 5; i++)
            waits.Add(await _clock.AdvanceThroughNextDelayAsync());
        using var response = await call.WaitAsync(Guard);
        using var next = await sut.Client.GetAsync(new Uri("Patient/2", UriKind.Relative)).WaitAsync(Guard); // breaker closed: sent

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(Enumerable.Repeat(TimeSpan.FromSeconds(1), 5), waits);
        Assert.Equal(7, _server.Requests().Count);
    }

    [Fact]
    public async Task GetAsync_Two429s_EachWaitIsAThrottleWaitMetricOfThatServer()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), TooMany("3"), TooMany("5"), Ok());
        using var metrics = new MetricCapture("trd_fhir.fhir.throttle_wait", _server.Url!);
        using var sut = Sut();

        var call = sut.Client.GetAsync(Patient);
        await _clock.AdvanceThroughNextDelayAsync();
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, metrics.Of("trd_fhir.fhir.throttle_waits").Sum(m => m.Value));
        Assert.Equal([3.0, 5.0], metrics.Of("trd_fhir.fhir.throttle_wait.duration").Select(m => m.Value));
    }

    [Fact]
    public async Task PostAsync_PlainCreateAnswered429_SentAgainWithTheSameBodyAfterRetryAfter()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Observation").UsingPost(), TooMany("2"), Ok(ObservationJson));
        using var sut = Sut();

        var call = sut.Client.PostAsync(new Uri("Observation", UriKind.Relative), new StringContent(ObservationJson, Encoding.UTF8, "application/fhir+json"));
        var wait = await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(TimeSpan.FromSeconds(2), wait);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([("POST", ObservationJson), ("POST", ObservationJson)], _server.RequestMessages().Select(r => (r.Method, r.Body)));
    }

    [Fact]
    public async Task GetAsync_429WithHttpDate_WaitsUntilThatDateOnTheClock()
    {
        var date = (TestClock.Epoch + TimeSpan.FromSeconds(9)).ToString("R", CultureInfo.InvariantCulture);
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), TooMany(date), Ok());
        using var sut = Sut();

        var call = sut.Client.GetAsync(Patient);
        var wait = await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(TimeSpan.FromSeconds(9), wait);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task GetAsync_429sWithoutRetryAfter_ExponentialBackoffFromBaseDelay()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), TooMany(null), TooMany(null), TooMany(null), Ok());
        using var sut = Sut(); // BaseDelay 100 ms

        var call = sut.Client.GetAsync(Patient);
        var waits = new[] { await _clock.AdvanceThroughNextDelayAsync(), await _clock.AdvanceThroughNextDelayAsync(), await _clock.AdvanceThroughNextDelayAsync() };
        using var response = await call.WaitAsync(Guard);

        Assert.Equal([TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400)], waits);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task GetAsync_RetriesOff_429ReturnedAfterOneRequest()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), TooMany("1"), Ok());
        using var sut = Sut(r => r.MaxRetries = 0);

        using var response = await sut.Client.GetAsync(Patient).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Single(_server.Requests());
        Assert.Equal(TimeSpan.Zero, _clock.Elapsed);
    }

    [Fact]
    public async Task GetAsync_WhileTheServerPausesAfterA429_AnotherRequestWaitsBeforeSending()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), TooMany("4"), Ok());
        _server.Given(Request.Create().WithPath("/fhir/Patient/2").UsingGet()).RespondWith(Ok());
        using var sut = Sut();

        var throttled = sut.Client.GetAsync(Patient);
        Assert.Equal(TimeSpan.FromSeconds(4), await _clock.NextDelayAsync());
        var other = sut.Client.GetAsync(new Uri("Patient/2", UriKind.Relative));
        var otherWait = await _clock.NextDelayAsync();
        var sentDuringThePause = _server.Requests();
        _clock.Advance(TimeSpan.FromSeconds(4));
        using var first = await throttled.WaitAsync(Guard);
        using var second = await other.WaitAsync(Guard);

        Assert.Equal(TimeSpan.FromSeconds(4), otherWait);
        Assert.Equal(["GET /fhir/Patient/1"], sentDuringThePause);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        Assert.Equal(3, _server.Requests().Count);
    }

    [Fact]
    public async Task GetAsync_429sInsideAWaitScope_WaitsRecordedInTheSummary()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), TooMany("3"), TooMany("2"), Ok());
        using var sut = Sut();

        using var waits = TransportWaits.Begin(TimeSpan.FromMinutes(1));
        var call = sut.Client.GetAsync(Patient);
        await _clock.AdvanceThroughNextDelayAsync();
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);
        var summary = waits.Summary(_clock);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new WaitSummary(2, TimeSpan.FromSeconds(5), 0, TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1), false), summary);
        Assert.Equal("waited 5 s: 2 × throttled by the server (429, Retry-After) 5 s", summary.Describe());
    }

    [Fact]
    public async Task GetAsync_429BeyondTheScopeBudget_Returns429AndTheSummarySaysTheBudgetWasSpent()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), TooMany("3"), TooMany("3"), Ok());
        using var sut = Sut();

        using var waits = TransportWaits.Begin(TimeSpan.FromSeconds(5));
        var call = sut.Client.GetAsync(Patient);
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);
        var summary = waits.Summary(_clock);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(2, _server.Requests().Count);
        Assert.Equal((1, TimeSpan.FromSeconds(3), true), (summary.Throttled, summary.ThrottledTime, summary.BudgetSpent));
        Assert.EndsWith("the wait budget (--max-wait 5 s) was spent, so the rest was not waited for", summary.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAsync_CircuitOpenInsideAWaitScope_WaitsForHalfOpenThenSends()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(),
            Response.Create().WithStatusCode(503), Response.Create().WithStatusCode(503), Ok());
        using var sut = Sut(r =>
        {
            r.MaxRetries = 0;
            r.BreakerMinimumThroughput = 2;
            r.BreakDuration = TimeSpan.FromSeconds(30);
        });
        (await sut.Client.GetAsync(Patient).WaitAsync(Guard)).Dispose();
        (await sut.Client.GetAsync(Patient).WaitAsync(Guard)).Dispose(); // the breaker opens

        using var waits = TransportWaits.Begin();
        var call = sut.Client.GetAsync(Patient);
        var wait = await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);
        var summary = waits.Summary(_clock);

        Assert.Equal(TimeSpan.FromSeconds(30), wait);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, _server.Requests().Count);
        Assert.Equal((0, 1, TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10)), (summary.Throttled, summary.CircuitOpen, summary.CircuitOpenTime, summary.Budget));
        Assert.Contains(sut.Logs.Lines, l => l.Contains("the circuit breaker is open (the server failed repeatedly); waiting 30000 ms before sending it again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GetAsync_CircuitOpenLongerThanTheBudget_FailsAtOnceSayingTheBudgetIsSpent()
    {
        _server.Given(Request.Create().WithPath("/fhir/Patient/1").UsingGet()).RespondWith(Response.Create().WithStatusCode(503));
        using var sut = Sut(r =>
        {
            r.MaxRetries = 0;
            r.BreakerMinimumThroughput = 2;
            r.BreakDuration = TimeSpan.FromSeconds(30);
        });
        (await sut.Client.GetAsync(Patient).WaitAsync(Guard)).Dispose();
        (await sut.Client.GetAsync(Patient).WaitAsync(Guard)).Dispose();

        using var waits = TransportWaits.Begin(TimeSpan.FromSeconds(10));
        var open = await Assert.ThrowsAsync<FhirServerUnavailableException>(() => sut.Client.GetAsync(Patient).WaitAsync(Guard));

        Assert.Equal(FhirUnavailableReason.CircuitOpen, open.Reason);
        Assert.EndsWith("The wait budget (MaxWait, CLI --max-wait) is spent.", open.Message, StringComparison.Ordinal);
        Assert.True(waits.Summary(_clock).BudgetSpent);
        Assert.Equal(TimeSpan.Zero, _clock.Elapsed);
        Assert.Equal(2, _server.Requests().Count);
    }

    [Fact]
    public async Task GetAsync_RetriesSpentOn503InsideAWaitScope_WaitsABreakAndStartsAgain()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(),
            Response.Create().WithStatusCode(503), Response.Create().WithStatusCode(503), Ok());
        using var sut = Sut(r =>
        {
            r.MaxRetries = 1;
            r.BreakDuration = TimeSpan.FromSeconds(20);
        });

        using var waits = TransportWaits.Begin();
        var call = sut.Client.GetAsync(Patient);
        await _clock.AdvanceThroughNextDelayAsync(); // the retry's backoff
        var breakWait = await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(TimeSpan.FromSeconds(20), breakWait);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, _server.Requests().Count);
        Assert.Equal((1, TimeSpan.FromSeconds(20)), (waits.Summary().CircuitOpen, waits.Summary().CircuitOpenTime));
    }

    [Fact]
    public async Task PostAsync_PlainCreateAnswered503InsideAWaitScope_NotSentAgain()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Observation").UsingPost(), Response.Create().WithStatusCode(503), Ok(ObservationJson));
        using var sut = Sut();

        using var waits = TransportWaits.Begin();
        using var response = await sut.Client.PostAsync(new Uri("Observation", UriKind.Relative), new StringContent(ObservationJson, Encoding.UTF8, "application/fhir+json")).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Single(_server.Requests());
        Assert.False(waits.Summary().Any);
    }
}
