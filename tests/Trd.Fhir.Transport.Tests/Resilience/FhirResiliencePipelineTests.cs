using System.Globalization;
using System.Net;
using System.Text;
using Trd.Fhir.Adapter.Transport;
using TransportContext = Trd.Fhir.Adapter.Transport.TransportContext;
using Trd.Fhir.Adapter.Transport.Resilience;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests.Resilience;

/// <summary>The resilience pipeline as a caller sees it: through the named HttpClient, against WireMock, on a fake clock.</summary>
public sealed class FhirResiliencePipelineTests : IDisposable
{
    private const string PatientJson = """{"resourceType":"Patient","id":"1"}""";
    private const string ObservationJson = """{"resourceType":"Observation","status":"final","code":{"text":"PHQ-9"}}""";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);

    private readonly WireMockServer _server = WireMockServer.Start();
    private readonly TestClock _clock = new();

    public void Dispose() => _server.Stop();

    private static IResponseBuilder Ok(string body = PatientJson) =>
        Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/fhir+json").WithBody(body);

    private static IResponseBuilder Status(int status) => Response.Create().WithStatusCode(status);

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/fhir+json");

    private TransportSut Sut(Action<ResilienceSettings>? resilience = null) =>
        TransportSut.Create(TransportSut.OptionsFor(_server, resilience), _clock);

    [Fact]
    public async Task GetAsync_429WithRetryAfter2Seconds_WaitsExactlyTwoSecondsThenSucceeds()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(),
            Status(429).WithHeader("Retry-After", "2"), Ok());
        using var sut = Sut();

        var call = sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative));
        var wait = await _clock.NextDelayAsync();
        _clock.Advance(wait);
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(TimeSpan.FromSeconds(2), wait);
        Assert.Equal(TimeSpan.FromSeconds(2), _clock.Elapsed);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(PatientJson, await response.Content.ReadAsStringAsync());
        Assert.Equal(["GET /fhir/Patient/1", "GET /fhir/Patient/1"], _server.Requests());
    }

    [Fact]
    public async Task GetAsync_503ThenOk_OneRetryMetricOfThatServerWithTheStatusAsReason()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), Status(503).WithHeader("Retry-After", "1"), Ok());
        using var metrics = new MetricCapture("trd_fhir.fhir.retries", _server.Url!);
        using var sut = Sut();

        var call = sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative));
        _clock.Advance(await _clock.NextDelayAsync());
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([(1.0, "HTTP 503")], metrics.Of("trd_fhir.fhir.retries"));
    }

    [Fact]
    public async Task GetAsync_503WithRetryAfterHttpDate_WaitsUntilThatDate()
    {
        var date = (TestClock.Epoch + TimeSpan.FromSeconds(7)).ToString("R", CultureInfo.InvariantCulture);
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(),
            Status(503).WithHeader("Retry-After", date), Ok());
        using var sut = Sut();

        var call = sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative));
        var wait = await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(TimeSpan.FromSeconds(7), wait);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, _server.Requests().Count);
    }

    [Fact]
    public async Task GetAsync_503Then200_RetriedOnceAfterBackoff()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), Status(503), Ok());
        using var sut = Sut();

        var call = sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative));
        var wait = await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.InRange(wait, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(2)); // exponential backoff with jitter from BaseDelay 100 ms
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["GET /fhir/Patient/1", "GET /fhir/Patient/1"], _server.Requests());
        Assert.Contains(sut.Logs.Lines, l => l.Contains("failed (HTTP 503); retry 1 of 4", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PutAsync_Two503Then200_RetriedTwiceWithTheSameBody()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Observation/phq9-1").UsingPut(), Status(503), Status(503), Ok(ObservationJson));
        using var sut = Sut();

        var call = sut.Client.PutAsync(new Uri("Observation/phq9-1", UriKind.Relative), Json(ObservationJson));
        await _clock.AdvanceThroughNextDelayAsync();
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var requests = _server.RequestMessages();
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal(("PUT", "/fhir/Observation/phq9-1", ObservationJson), (r.Method, r.Path, r.Body)));
    }

    [Fact]
    public async Task PutAsync_StreamBodyAfter503_RetriedWithTheSameBody()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Observation/phq9-1").UsingPut(), Status(503), Ok(ObservationJson));
        using var sut = Sut();
        var stream = new NonSeekableStream(Encoding.UTF8.GetBytes(ObservationJson));

        var call = sut.Client.PutAsync(new Uri("Observation/phq9-1", UriKind.Relative), new StreamContent(stream));
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([ObservationJson, ObservationJson], _server.RequestMessages().Select(r => r.Body));
    }

    [Theory]
    [InlineData(ConnectionFault.ResetMidResponse)]
    [InlineData(ConnectionFault.BodyCutOff)]
    public async Task GetAsync_ConnectionBrokenThen200_Retried(ConnectionFault fault)
    {
        _server.Given(Request.Create().WithPath("/fhir/Patient/1").UsingGet()).RespondWith(Ok());
        using var proxy = new FaultyProxy(_server.Url!, fault, faults: 1);
        var options = TransportSut.OptionsFor(_server);
        options.BaseUrl = new Uri(proxy.Url + "/fhir");
        using var sut = TransportSut.Create(options, _clock);

        var call = sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative));
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(PatientJson, await response.Content.ReadAsStringAsync());
        Assert.Equal(1, proxy.Faulted);
        Assert.Equal(["GET /fhir/Patient/1"], _server.Requests());
        Assert.Contains(sut.Logs.Lines, l => l.Contains("failed (HttpRequestException); retry 1 of 4", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PostAsync_ConnectionReset_SentOnceAndHttpRequestException()
    {
        _server.Given(Request.Create().WithPath("/fhir/Observation").UsingPost()).RespondWith(Ok(ObservationJson));
        using var proxy = new FaultyProxy(_server.Url!, ConnectionFault.ResetMidResponse, faults: 1);
        var options = TransportSut.OptionsFor(_server);
        options.BaseUrl = new Uri(proxy.Url + "/fhir");
        using var sut = TransportSut.Create(options, _clock);

        await Assert.ThrowsAsync<HttpRequestException>(
            () => sut.Client.PostAsync(new Uri("Observation", UriKind.Relative), Json(ObservationJson)).WaitAsync(Guard));

        Assert.Equal(1, proxy.Faulted);
        Assert.Empty(_server.Requests());
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PATCH")]
    public async Task SendAsync_NotSafeToRepeatAnswered503_SentExactlyOnce(string method)
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Observation").UsingMethod(method), Status(503), Ok(ObservationJson));
        using var sut = Sut();

        using var request = new HttpRequestMessage(new HttpMethod(method), "Observation") { Content = Json(ObservationJson) };
        using var response = await sut.Client.SendAsync(request).WaitAsync(Guard); // never advanced the clock: no wait began

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal([$"{method} /fhir/Observation"], _server.Requests());
    }

    [Fact]
    public async Task PostAsync_InsideIdempotentScopeAnswered503_RetriedWithTheSameBody()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir").UsingPost(), Status(503), Ok("""{"resourceType":"Bundle","type":"transaction-response"}"""));
        using var sut = Sut();

        Task<HttpResponseMessage> call;
        using (TransportContext.Idempotent())
        {
            call = sut.Client.PostAsync(new Uri(sut.Client.BaseAddress!.AbsoluteUri.TrimEnd('/')), Json(ObservationJson));
        }

        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.False(TransportContext.IsIdempotentScope);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([("POST", ObservationJson), ("POST", ObservationJson)], _server.RequestMessages().Select(r => (r.Method, r.Body)));
    }

    [Fact]
    public async Task PostAsync_WithIfNoneExistAnswered503_RetriedWithTheSameBodyAndHeader()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Observation").UsingPost(), Status(503), Ok(ObservationJson));
        using var sut = Sut();

        using var request = new HttpRequestMessage(HttpMethod.Post, "Observation") { Content = Json(ObservationJson) };
        request.Headers.Add("If-None-Exist", "identifier=urn:trd|phq9-1");
        var call = sut.Client.SendAsync(request);
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var requests = _server.RequestMessages();
        Assert.Equal(2, requests.Count);
        Assert.All(requests, r => Assert.Equal((ObservationJson, "identifier=urn:trd|phq9-1"), (r.Body, r.Header("If-None-Exist"))));
    }

    [Fact]
    public async Task GetAsync_EveryAttemptTimesOut_RetriedThenFhirServerUnavailableException()
    {
        _server.Given(Request.Create().WithPath("/fhir/Patient/1").UsingGet()).RespondWith(Ok().WithDelay(TimeSpan.FromSeconds(5)));
        using var sut = Sut(r =>
        {
            r.MaxRetries = 2;
            r.AttemptTimeout = TimeSpan.FromSeconds(2);
        });

        var call = sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative));
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            await _clock.WaitForTimeoutArmedAsync(TimeSpan.FromSeconds(2));
            _clock.Advance(TimeSpan.FromSeconds(2));
            if (attempt < 3)
            {
                await _clock.AdvanceThroughNextDelayAsync();
            }
        }

        var ex = await Assert.ThrowsAsync<FhirServerUnavailableException>(() => call.WaitAsync(Guard));
        Assert.Equal(FhirUnavailableReason.AttemptTimeout, ex.Reason);
        Assert.Equal(3, ex.Attempts);
        Assert.Equal(
            $"The FHIR server {_server.Url} did not answer a GET within the attempt timeout of 2 s: 3 attempt(s) of at most 3 " +
            "each timed out. The server may be overloaded, or the request too large for one attempt (raise FhirServer:Resilience:AttemptTimeout).",
            ex.Message);
    }

    [Fact]
    public async Task GetAsync_AfterRepeatedFailures_CircuitOpensFailsFastThenRecovers()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), Status(503), Status(503), Ok());
        using var sut = Sut(r =>
        {
            r.MaxRetries = 0;
            r.BreakerMinimumThroughput = 2;
            r.BreakerFailureRatio = 0.5;
            r.BreakDuration = TimeSpan.FromSeconds(30);
        });
        var client = sut.Client;
        var patient = new Uri("Patient/1", UriKind.Relative);

        using (var first = await client.GetAsync(patient).WaitAsync(Guard))
        using (var second = await client.GetAsync(patient).WaitAsync(Guard))
        {
            Assert.Equal((HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable), (first.StatusCode, second.StatusCode));
        }

        var open = await Assert.ThrowsAsync<FhirServerUnavailableException>(() => client.GetAsync(patient).WaitAsync(Guard));
        Assert.Equal((FhirUnavailableReason.CircuitOpen, 0), (open.Reason, open.Attempts));
        Assert.StartsWith($"The FHIR server {_server.Url} failed too often recently", open.Message, StringComparison.Ordinal);
        Assert.Equal(2, _server.Requests().Count); // failed fast: nothing reached the server

        _clock.Advance(TimeSpan.FromSeconds(30));
        using var recovered = await client.GetAsync(patient).WaitAsync(Guard);
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        Assert.Equal(3, _server.Requests().Count);
    }

    [Fact]
    public async Task GetAsync_CircuitOpensThenRecovers_BreakerStateGaugeOfThatServerFollows()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(), Status(503), Status(503), Ok());
        using var metrics = new MetricCapture("trd_fhir.fhir.breaker.state", _server.Url!);
        double? Observe()
        {
            var before = metrics.Of("trd_fhir.fhir.breaker.state").Count;
            metrics.Observe();
            var after = metrics.Of("trd_fhir.fhir.breaker.state");
            return after.Count > before ? after[^1].Value : null;
        }
        using var sut = Sut(r =>
        {
            r.MaxRetries = 0;
            r.BreakerMinimumThroughput = 2;
            r.BreakerFailureRatio = 0.5;
            r.BreakDuration = TimeSpan.FromSeconds(30);
        });
        var patient = new Uri("Patient/1", UriKind.Relative);

        (await sut.Client.GetAsync(patient).WaitAsync(Guard)).Dispose();
        (await sut.Client.GetAsync(patient).WaitAsync(Guard)).Dispose();
        var whileOpen = Observe();
        _clock.Advance(TimeSpan.FromSeconds(30));
        using var recovered = await sut.Client.GetAsync(patient).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        Assert.Equal((2.0, 0.0), (whileOpen, Observe()));
    }

    [Fact]
    public async Task GetAsync_CircuitOpenForOneServer_OtherServerStillReached()
    {
        using var other = WireMockServer.Start();
        other.Given(Request.Create().WithPath("/fhir/Patient/1").UsingGet()).RespondWith(Ok());
        _server.Given(Request.Create().WithPath("/fhir/Patient/1").UsingGet()).RespondWith(Status(500));
        using var sut = Sut(r =>
        {
            r.MaxRetries = 0;
            r.BreakerMinimumThroughput = 2;
        });
        var client = sut.Client;

        (await client.GetAsync(new Uri("Patient/1", UriKind.Relative))).Dispose();
        (await client.GetAsync(new Uri("Patient/1", UriKind.Relative))).Dispose();
        await Assert.ThrowsAsync<FhirServerUnavailableException>(() => client.GetAsync(new Uri("Patient/1", UriKind.Relative)));
        using var fromOther = await client.GetAsync(new Uri(other.Url + "/fhir/Patient/1")).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, fromOther.StatusCode);
        Assert.Equal(2, _server.Requests().Count);
        Assert.Single(other.Requests());
    }

    [Fact]
    public async Task GetAsync_RetryAfterBeyondMaxRetryAfter_Returns429WithoutRetry()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(),
            Status(429).WithHeader("Retry-After", "3600"), Ok());
        using var sut = Sut(r => r.MaxRetryAfter = TimeSpan.FromMinutes(2));

        using var response = await sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative)).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(3600), response.Headers.RetryAfter?.Delta);
        Assert.Single(_server.Requests());
        Assert.Equal(TimeSpan.Zero, _clock.Elapsed);
    }

    [Fact]
    public async Task GetAsync_NotTransient404_ReturnedWithoutRetry()
    {
        _server.Given(Request.Create().WithPath("/fhir/Patient/404").UsingGet()).RespondWith(Status(404));
        using var sut = Sut();

        using var response = await sut.Client.GetAsync(new Uri("Patient/404", UriKind.Relative)).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Single(_server.Requests());
    }

    [Fact]
    public async Task GetAsync_503UntilRetriesExhausted_ReturnsTheLast503()
    {
        _server.Given(Request.Create().WithPath("/fhir/Patient/1").UsingGet()).RespondWith(Status(503));
        using var sut = Sut(r => r.MaxRetries = 2);

        var call = sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative));
        await _clock.AdvanceThroughNextDelayAsync();
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(3, _server.Requests().Count);
    }

    /// <summary>A request body that can be read once only, like a network or file stream.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
