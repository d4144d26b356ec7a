using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Serialization;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.Transport.Tests.Resilience;

/// <summary>The Firely FhirClient over the named HttpClient: what Sync will do, retried at the seam and nowhere else.</summary>
public sealed class FirelyFhirClientTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);
    private readonly WireMockServer _server = WireMockServer.Start();
    private readonly TestClock _clock = new();

    public void Dispose() => _server.Stop();

    [Fact]
    public async Task ConditionalCreate_Answered503_RetriedWithTheSameBodyAndIfNoneExist()
    {
        var observation = new Observation
        {
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "44261-6"),
            Identifier = [new Identifier("urn:trd:observation", "phq9-1")],
        };
        var created = new FhirJsonSerializer().SerializeToString(new Observation { Id = "42", Status = ObservationStatus.Final, Code = observation.Code });
        _server.GivenSequence(Request.Create().WithPath("/fhir/Observation").UsingPost(),
            Response.Create().WithStatusCode(503),
            Response.Create().WithStatusCode(201).WithHeader("Content-Type", "application/fhir+json").WithHeader("Location", _server.Url + "/fhir/Observation/42/_history/1").WithBody(created));
        using var sut = TransportSut.Create(TransportSut.OptionsFor(_server), _clock);
        using var fhir = new FhirClient(_server.Url + "/fhir", sut.Client, new FhirClientSettings { PreferredFormat = ResourceFormat.Json });

        var call = fhir.ConditionalCreateAsync(observation, new SearchParams().Add("identifier", "urn:trd:observation|phq9-1"));
        await _clock.AdvanceThroughNextDelayAsync();
        var result = await call.WaitAsync(Guard);

        Assert.Equal("42", result?.Id);
        var requests = _server.RequestMessages();
        Assert.Equal(2, requests.Count);
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.Contains("phq9-1", requests[0].Body, StringComparison.Ordinal);
        Assert.All(requests, r => Assert.Equal("identifier=urn%3Atrd%3Aobservation%7Cphq9-1", r.Header("If-None-Exist")));
    }

    [Fact]
    public async Task Read_Answered429WithRetryAfter_WaitsThenReads()
    {
        _server.GivenSequence(Request.Create().WithPath("/fhir/Patient/1").UsingGet(),
            Response.Create().WithStatusCode(429).WithHeader("Retry-After", "3"),
            Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/fhir+json").WithBody("""{"resourceType":"Patient","id":"1"}"""));
        using var sut = TransportSut.Create(TransportSut.OptionsFor(_server), _clock);
        using var fhir = new FhirClient(_server.Url + "/fhir", sut.Client);

        var call = fhir.ReadAsync<Patient>("Patient/1");
        var wait = await _clock.AdvanceThroughNextDelayAsync();
        var patient = await call.WaitAsync(Guard);

        Assert.Equal((TimeSpan.FromSeconds(3), "1"), (wait, patient?.Id));
        Assert.Equal(2, _server.Requests().Count);
        Assert.Equal(HttpStatusCode.OK, (HttpStatusCode)_server.LogEntries[^1].ResponseMessage.StatusCode!);
    }
}
