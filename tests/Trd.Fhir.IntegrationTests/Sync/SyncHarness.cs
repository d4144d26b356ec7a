using Hl7.Fhir.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>Push/pull against a test server, with the adapter's own transport wiring.</summary>
internal sealed class SyncHarness : IDisposable
{
    private readonly ServiceProvider _services;

    public SyncHarness(Uri baseUrl)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrdFhirTransport(new FhirServerOptions { BaseUrl = baseUrl }); // the adapter's real transport: resilience included
        _services = services.BuildServiceProvider();
        Connection = new FhirServerConnection(_services.GetRequiredService<IHttpClientFactory>(), baseUrl, NullLogger<FhirServerConnection>.Instance);
    }

    public FhirServerConnection Connection { get; }

    public void Dispose()
    {
        Connection.Dispose();
        _services.Dispose();
    }

    /// <summary>Maps with Observations (as the ledger does) and pushes; the workflow writes PHQ-9 through
    /// <paramref name="phq9"/>, else the server profile's channel.</summary>
    public Task<PushReport> PushAsync(TrdProtocol protocol, PushStrategy? strategy = null, Phq9Channel? phq9 = null, Identity? identity = null, TimeProvider? time = null) =>
        new PushWorkflow(Connection, NullLogger<PushWorkflow>.Instance) { ForcedStrategy = strategy, Phq9Override = phq9, Identity = identity ?? Identity.Default, Time = time ?? TimeProvider.System }
            .PushAsync(protocol, new ProtocolToFhir(identity ?? Identity.Default).Map(protocol), CancellationToken.None);

    public Task<PullResult> PullAsync(PatientRef patient, DateTimeOffset? since = null) =>
        new PullWorkflow(Connection, FhirToProtocol.Default, NullLogger<PullWorkflow>.Instance)
            .PullAsync(patient.System, patient.Value, since, CancellationToken.None);

    public static TrdProtocol Example(string name, string patientValue)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Trd.Fhir.sln")))
            root = Path.GetDirectoryName(root)!;
        var result = ProtocolReader.Read(File.ReadAllBytes(Path.Combine(root, "examples", name + ".json")));
        Assert.True(result.Success, string.Join("\n", result.Problems));
        var protocol = result.Protocol!;
        // each test gets its own patient (and protocol id), so tests sharing the server never see each other's data
        return protocol with { Id = protocol.Id + "-" + Identity.NameBasedUuid(patientValue)[..8], Patient = protocol.Patient with { Value = patientValue, Reference = null } };
    }

    /// <summary>The EHR already knows the patient: Trd.Fhir never creates one.</summary>
    public async Task<string> RegisterPatientAsync(FhirServerFixture server, PatientRef patient)
    {
        var created = await server.CreateClient().CreateAsync(new Patient
        {
            Identifier = [new Identifier(patient.System, patient.Value)],
            Name = [new HumanName { Family = "Synthetic", Given = ["Test"] }],
            BirthDate = "1980-01-01",
        });
        return created!.Id;
    }
}
