using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>The test server (real Medplum engine) started with <c>--epic-rules</c>: Epic's search and write rules.</summary>
public sealed class EpicRulesFhirServerFixture : FhirServerFixture
{
    protected override IReadOnlyList<string> ServerArguments => ["--epic-rules"];
}

/// <summary>
/// A whole push → pull round trip on a real FHIR engine under Epic's rules (tests/fhir-server/epic-rules.mjs): no Bundles,
/// read-mostly writes, no conditional create, required search parameters. The EHR's own PHQ-9 totals are filed there
/// directly (as Epic's flowsheets would hold them); the pull rebuilds that course.
/// </summary>
public sealed class EpicServerRoundTripTests(EpicRulesFhirServerFixture server) : IClassFixture<EpicRulesFhirServerFixture>
{
    [Fact]
    public async System.Threading.Tasks.Task PushThenPull_UnderEpicRules_StoresTheWritableKinds_RepushCreatesNothing_PullRebuildsThePhq9Course()
    {
        await server.ResetAsync();
        var protocol = SyncHarness.Example("phase3-ect-esketamine", "EPIC-RT-1");
        using var sync = new SyncHarness(server.BaseUrl);
        var patientId = await sync.RegisterPatientAsync(server, protocol.Patient);

        var first = await sync.PushAsync(protocol);

        Assert.True(first.Ok(strict: false), string.Join("\n", first.Outcomes.Where(o => o.State is PushState.Failed).Select(o => $"{o.ResourceType}: {o.Reason}")) + "\n" + server.ServerLog);
        Assert.Equal(PushStrategy.Individual, first.Strategy);
        Assert.StartsWith("epic (detected", first.ServerProfile, StringComparison.Ordinal);
        var stored = first.Outcomes.Where(o => o.State == PushState.Created).GroupBy(o => o.ResourceType).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(["Condition", "DocumentReference", "Procedure", "ServiceRequest"], stored.Keys.Order());
        Assert.Equal(protocol.Sessions.Count, stored["Procedure"]);
        Assert.Equal(1, stored["DocumentReference"]);
        Assert.DoesNotContain("-> 400", server.ServerLog, StringComparison.Ordinal); // every search satisfied Epic's rules
        Assert.DoesNotContain("-> 405", server.ServerLog, StringComparison.Ordinal); // nothing written that Epic cannot store, no Bundle

        var counts = await CountsAsync(patientId);
        var second = await sync.PushAsync(protocol);

        Assert.Equal(0, second.Count(PushState.Created));
        Assert.Equal(counts, await CountsAsync(patientId)); // a re-push creates nothing (no conditional create on Epic: the scoped look-up found them)

        // the EHR's own PHQ-9 totals (filed there, not by Trd.Fhir)
        var totals = ProtocolToFhir.Default.Map(protocol).Entry.Select(e => e.Resource).OfType<Observation>()
            .Where(o => o.Code.Coding.Any(c => c.Code == Codes.Phq9Total)).ToList();
        Assert.Equal(protocol.Phq9.Count, totals.Count);
        foreach (var total in totals)
        {
            var copy = (Observation)total.DeepCopy();
            copy.Subject = new ResourceReference($"Patient/{patientId}");
            copy.DerivedFrom.Clear();
            copy.HasMember.Clear();
            await server.CreateClient().CreateAsync(copy);
        }

        var pulled = await sync.PullAsync(protocol.Patient);

        Assert.True(pulled.Result.Protocol is not null, string.Join("\n", pulled.Notes.Concat(pulled.Result.Problems.Select(p => p.ToString()))));
        Assert.Equal(protocol.Phq9.Select(p => (p.Date, p.Total)), pulled.Result.Protocol!.Phq9.Select(p => (p.Date, p.Total)).Order());
        // every stored kind was read (patient-scoped, with what Epic requires): the patient, the Conditions, ServiceRequests and
        // Procedures Trd.Fhir wrote, and the EHR's PHQ-9 totals. (Without the CarePlans, which Epic does not store, the
        // tolerant reader cannot yet place sessions in phases: it reports them, see the lead's notes.)
        Assert.Equal(1 + counts["Condition"] + counts["ServiceRequest"] + counts["Procedure"] + totals.Count, pulled.ResourcesRead);
        Assert.DoesNotContain(pulled.Notes, n => n.Contains("not pulled", StringComparison.Ordinal));
        Assert.DoesNotContain("-> 400", server.ServerLog, StringComparison.Ordinal);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = Trd.Fhir.Adapter.Cli.CliApp.Run(args, new Trd.Fhir.Adapter.Cli.CliConsole(stdout, stderr));
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async System.Threading.Tasks.Task Cli_PushPullProbe_UnderEpicRules_ExitZeroOrOneWithStrict_ProfileShown_NoPatientDataInLogs()
    {
        await server.ResetAsync();
        const string secret = "MRN-EPIC-PHI-4417";
        var protocol = SyncHarness.Example("phase2-tms-partial-response", secret);
        using var sync = new SyncHarness(server.BaseUrl);
        await sync.RegisterPatientAsync(server, protocol.Patient); // name "Synthetic, Test", born 1980-01-01
        var file = Path.Combine(Directory.CreateTempSubdirectory("trd-epic-").FullName, "protocol.json");
        await File.WriteAllTextAsync(file, Trd.Fhir.Adapter.Protocol.ProtocolWriter.Write(protocol));

        var push = Run("push", file, "--server", server.BaseUrl.ToString(), "--server-profile", "epic", "--verbose");
        var strict = Run("push", file, "--server", server.BaseUrl.ToString(), "--strict", "--log-json");
        var pull = Run("pull", "--server", server.BaseUrl.ToString(), "--patient", $"{protocol.Patient.System}|{secret}", "--verbose");
        var probe = Run("probe", "--server", server.BaseUrl.ToString());

        Assert.Equal(0, push.Exit);
        Assert.Contains("server profile: epic (chosen with --server-profile epic)", push.Out, StringComparison.Ordinal);
        Assert.Contains("not writable on this server:", push.Out, StringComparison.Ordinal);
        Assert.Equal(1, strict.Exit); // --strict: what the server does not store is an error
        Assert.Equal(0, pull.Exit);
        Assert.Contains("server profile: epic — detected: its CapabilityStatement's software is 'Epic'", probe.Out, StringComparison.Ordinal);
        Assert.Contains("push strategy: individual (this server profile sends no transaction or batch Bundles)", probe.Out, StringComparison.Ordinal);
        var logs = push.Err + strict.Err + pull.Err + probe.Err;
        Assert.DoesNotContain(secret, logs, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Synthetic", logs, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("1980-01-01", logs, StringComparison.Ordinal);
    }

    private async Task<Dictionary<string, int>> CountsAsync(string patientId)
    {
        var counts = new Dictionary<string, int>();
        foreach (var type in new[] { "Condition", "ServiceRequest", "Procedure", "DocumentReference" })
        {
            var bundle = await server.CreateClient().SearchAsync(new SearchParams().Add("patient", $"Patient/{patientId}").LimitTo(200), type);
            counts[type] = bundle!.Entry.Count;
        }
        return counts;
    }
}
