using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.IntegrationTests;

namespace Trd.Fhir.Api.Tests.Infrastructure;

/// <summary>The API in front of the real test FHIR server (tests/fhir-server), its ledger worker polling every 50 ms.
/// Each test registers its own synthetic patient (<see cref="RegisterAsync"/>), so tests never see each other's data.</summary>
public sealed class ServerApi : IAsyncLifetime
{
    public const string PatientSystem = "https://hospital.example.org/fhir/sid/mrn";
    public const string PatientFamily = "Zyxwvutsrq";
    public const string BirthDate = "1971-03-17";

    public FhirServerFixture Server { get; } = new();

    public ApiFactory Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Server.InitializeAsync();
        Api = ApiFactory.Configure(s =>
        {
            s.Server.BaseUrl = Server.BaseUrl;
            s.Server.Resilience = Resilience(); // retries on, long attempts
            s.RateLimitPermits = 100_000;
            // The worker runs one round at start, then sleeps: synchronous pushes in these tests are pushed by the request
            // itself (with a report). The respond-async test builds its own API with a 50 ms poll (WithFastWorker).
            s.Sync.PollInterval = TimeSpan.FromMinutes(30);
        });
    }

    public async Task DisposeAsync()
    {
        if (Api is not null)
            await Api.DisposeAsync();
        await Server.DisposeAsync();
    }

    /// <summary>Registers a synthetic patient (the EHR knows it already: Trd.Fhir never creates patients) and returns the
    /// example protocol rewritten for it: its own protocol id and patient identifier value.</summary>
    public async Task<(string Document, TrdProtocol Protocol)> RegisterAsync(string example, string patientValue)
    {
        await Server.CreateClient().CreateAsync(new Patient
        {
            Identifier = [new Identifier(PatientSystem, patientValue)],
            Name = [new HumanName { Family = PatientFamily, Given = ["Qwertyuiop"] }],
            BirthDate = BirthDate,
        });
        var protocol = ProtocolReader.Read(TestData.Example(example)).Protocol!;
        protocol = protocol with
        {
            Id = protocol.Id + "-" + Identity.NameBasedUuid(patientValue)[..8],
            Patient = protocol.Patient with { System = PatientSystem, Value = patientValue, Reference = null },
        };
        return (ProtocolWriter.Write(protocol), protocol);
    }

    /// <summary>The default retries, with attempts long enough for a 100-resource transaction on a loaded 2-core test machine.</summary>
    private static Trd.Fhir.Adapter.Transport.ResilienceSettings Resilience() => new()
    {
        AttemptTimeout = TimeSpan.FromMinutes(5),
        TotalTimeout = TimeSpan.FromMinutes(15),
    };

    /// <summary>Another API over the same FHIR server whose ledger worker polls every 50 ms.</summary>
    public ApiFactory WithFastWorker() => ApiFactory.Configure(s =>
    {
        s.Server.BaseUrl = Server.BaseUrl;
        s.Server.Resilience = Resilience();
        s.RateLimitPermits = 100_000;
        s.Sync.PollInterval = TimeSpan.FromMilliseconds(50);
    });

    /// <summary>A client with the test key and a long timeout (the shared test machine can be slow).</summary>
    public HttpClient Client(string? key = ApiFactory.Key)
    {
        var client = Api.Client(key);
        client.Timeout = TimeSpan.FromMinutes(10);
        return client;
    }

    /// <summary>The patient as the API's path segment: system|value, percent-encoded.</summary>
    public static string Segment(string value) => Uri.EscapeDataString(PatientSystem + "|" + value);
}
