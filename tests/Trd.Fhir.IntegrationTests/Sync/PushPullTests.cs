using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.IntegrationTests.Sync;

[Collection(FhirServerFixture.CollectionName)]
public sealed class PushPullTests(FhirServerFixture server) : IAsyncLifetime
{
    // The test server searches by linear scan (conditional creates included): each test starts from an empty store.
    public System.Threading.Tasks.Task InitializeAsync() => server.ResetAsync();

    public System.Threading.Tasks.Task DisposeAsync() => System.Threading.Tasks.Task.CompletedTask;

    public static TheoryData<string> Examples() =>
        new(["phase1-augmentation", "phase2-tms-partial-response", "phase3-ect-esketamine", "phase2-remission"]);

    private static string NewPatientValue(string example) => "PP-" + example.GetHashCode(StringComparison.Ordinal).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [MemberData(nameof(Examples))]
    public async System.Threading.Tasks.Task PushThenPull_Example_GivesTheSameProtocolBack(string example)
    {
        using var sync = new SyncHarness(server.BaseUrl);
        var protocol = SyncHarness.Example(example, NewPatientValue(example));
        var patientId = await sync.RegisterPatientAsync(server, protocol.Patient);

        var report = await sync.PushAsync(protocol);

        Assert.True(report.Success, string.Join("\n", report.Outcomes.Where(o => o.State is PushState.Failed or PushState.Skipped).Select(o => $"{o.ResourceType} {o.Identifier}: {o.Reason}")) + "\n" + server.ServerLog);
        Assert.Equal(ProtocolToFhirCount(protocol), report.Count(PushState.Created));
        // Medplum caps transactions with conditional entries at 8: the large examples land through the batch fallback
        Assert.Equal(PushStrategy.Batch, report.Strategy);
        Assert.Contains(report.Notes, n => n.StartsWith("transaction refused (400", StringComparison.Ordinal));

        var pulled = await sync.PullAsync(protocol.Patient);

        Assert.Empty(pulled.Result.Problems);
        var expected = protocol with { Patient = protocol.Patient with { Reference = $"Patient/{patientId}" } };
        Assert.Equal(ProtocolWriter.Write(expected), ProtocolWriter.Write(pulled.Result.Protocol!));
    }

    private static int ProtocolToFhirCount(TrdProtocol protocol) => Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(protocol).Entry.Count;

    [Fact]
    public async System.Threading.Tasks.Task Push_SameProtocolTwice_SecondCreatesAndUpdatesNothing()
    {
        using var sync = new SyncHarness(server.BaseUrl);
        var protocol = SyncHarness.Example("phase1-augmentation", "PP-TWICE");
        await sync.RegisterPatientAsync(server, protocol.Patient);
        Assert.True((await sync.PushAsync(protocol)).Success);

        var second = await sync.PushAsync(protocol);

        Assert.True(second.Success);
        Assert.Equal(second.Outcomes.Count, second.Count(PushState.Unchanged));
        Assert.Null(second.Strategy); // nothing had to be sent
        var observations = await server.CreateClient().SearchAsync<Observation>(new SearchParams().Add("identifier", $"https://trd-fhir.example.org/fhir/identifier/observation|{protocol.Id}/phq9-2026-09-07/total"));
        Assert.Single(observations!.Entry);
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_ChangedPhase_UpdatesOnlyWhatChanged()
    {
        using var sync = new SyncHarness(server.BaseUrl);
        var protocol = SyncHarness.Example("phase2-tms-partial-response", "PP-CHANGE");
        await sync.RegisterPatientAsync(server, protocol.Patient);
        Assert.True((await sync.PushAsync(protocol)).Success);

        // phase 2 ends: the phase completes and the TMS course is completed
        var phase2 = protocol.Phases[1];
        var tms = (TmsIntervention)phase2.Interventions[0];
        var changed = protocol with
        {
            Phases =
            [
                protocol.Phases[0],
                phase2 with
                {
                    Status = PhaseStatus.Completed,
                    Actual = phase2.Actual! with { End = new DateOnly(2026, 11, 30) },
                    Interventions = [tms with { Status = InterventionStatus.Completed }, .. phase2.Interventions.Skip(1)],
                },
            ],
        };

        var report = await sync.PushAsync(changed);

        Assert.True(report.Success);
        var updated = report.Outcomes.Where(o => o.State == PushState.Updated).Select(o => o.Identifier).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(
            [$"{protocol.Id}/phase-2", $"{protocol.Id}/protocol", $"{protocol.Id}/tms-acute", $"{protocol.Id}/tms-maintenance"],
            updated);
        Assert.Equal(0, report.Count(PushState.Created));
        Assert.Equal(report.Outcomes.Count - 4, report.Count(PushState.Unchanged));

        var pulled = await sync.PullAsync(changed.Patient);
        Assert.Equal(PhaseStatus.Completed, pulled.Result.Protocol!.Phases[1].Status);
        Assert.Equal(InterventionStatus.Completed, pulled.Result.Protocol.Phases[1].Interventions[0].Status);
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_UnknownPatient_FailsEveryResourceAndCreatesNothing()
    {
        using var sync = new SyncHarness(server.BaseUrl);
        var protocol = SyncHarness.Example("phase1-augmentation", "PP-NOBODY");

        var report = await sync.PushAsync(protocol);

        Assert.False(report.Success);
        Assert.All(report.Outcomes, o => Assert.Equal(PushState.Failed, o.State));
        Assert.Contains("never creates patients", report.Outcomes[0].Reason, StringComparison.Ordinal);
        var conditions = await server.CreateClient().SearchAsync<Condition>(new SearchParams().Add("identifier", $"https://trd-fhir.example.org/fhir/identifier/condition|{protocol.Id}/diagnosis"));
        Assert.Empty(conditions!.Entry);
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_IndividualStrategy_LandsEverythingWithConditionalCreates()
    {
        using var sync = new SyncHarness(server.BaseUrl);
        var protocol = SyncHarness.Example("phase1-augmentation", "PP-INDIVIDUAL");
        await sync.RegisterPatientAsync(server, protocol.Patient);

        var report = await sync.PushAsync(protocol, PushStrategy.Individual);

        Assert.True(report.Success, string.Join("\n", report.Outcomes.Where(o => o.State == PushState.Failed).Select(o => o.Reason)));
        Assert.Equal(PushStrategy.Individual, report.Strategy);
        Assert.Equal(report.Outcomes.Count, report.Count(PushState.Created));
        var pulled = await sync.PullAsync(protocol.Patient);
        Assert.Equal(protocol.Phq9.Count, pulled.Result.Protocol!.Phq9.Count);
    }

    [Fact]
    public async System.Threading.Tasks.Task Pull_Since_ReturnsOnlyWhatChangedAfter()
    {
        using var sync = new SyncHarness(server.BaseUrl);
        var protocol = SyncHarness.Example("phase1-augmentation", "PP-SINCE");
        await sync.RegisterPatientAsync(server, protocol.Patient);
        Assert.True((await sync.PushAsync(protocol)).Success);

        var future = await sync.PullAsync(protocol.Patient, since: new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var past = await sync.PullAsync(protocol.Patient, since: new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(1, future.ResourcesRead); // the patient only
        Assert.Equal(protocol.Phq9.Count, past.Result.Protocol!.Phq9.Count);
    }
}
