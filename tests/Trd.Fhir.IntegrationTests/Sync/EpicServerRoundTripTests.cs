using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Sync.Ledger;
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

        // PHQ-9 as Observations (--phq9-as observation): Epic stores none (no Observation.Create for assessments), the EHR's own are filed below
        var first = await sync.PushAsync(protocol, phq9: Phq9Channel.Observation);

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
        var second = await sync.PushAsync(protocol, phq9: Phq9Channel.Observation);

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
        Assert.Equal(1 + counts["Condition"] + counts["ServiceRequest"] + counts["Procedure"] + totals.Count + PlanParts(first), pulled.ResourcesRead);
        Assert.DoesNotContain(pulled.Notes, n => n.Contains("not pulled", StringComparison.Ordinal));
        Assert.DoesNotContain("-> 400", server.ServerLog, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_UnderEpicRules_Phq9AsQuestionnaireResponses_RepushCreatesNothing_PullRebuildsTotalsAndItem9()
    {
        await server.ResetAsync();
        var protocol = SyncHarness.Example("phase3-ect-esketamine", "EPIC-QR-1");
        using var sync = new SyncHarness(server.BaseUrl);
        var patientId = await sync.RegisterPatientAsync(server, protocol.Patient);

        var first = await sync.PushAsync(protocol); // mapped with Observations; the epic profile's channel is questionnaire-response

        Assert.True(first.Ok(strict: false), string.Join("\n", first.Outcomes.Where(o => o.State is PushState.Failed).Select(o => $"{o.ResourceType}: {o.Reason}")) + "\n" + server.ServerLog);
        Assert.Equal(protocol.Phq9.Count, first.Outcomes.Count(o => o.ResourceType == "QuestionnaireResponse" && o.State == PushState.Created));
        Assert.DoesNotContain(first.Outcomes, o => o.ResourceType == "Observation"); // not even reported: PHQ-9 goes through the QuestionnaireResponse channel
        Assert.Contains("PHQ-9 written as questionnaire-response (server profile 'epic')", first.Notes);
        Assert.Equal(protocol.Phq9.Count, await CountAsync("QuestionnaireResponse", patientId));
        Assert.Equal(0, await CountAsync("Observation", patientId, ("code", $"{Codes.Loinc}|{Codes.Phq9Total}")));

        var counts = await CountsAsync(patientId);
        var second = await sync.PushAsync(protocol);

        Assert.Equal(0, second.Count(PushState.Created));
        Assert.Equal(protocol.Phq9.Count, second.Outcomes.Count(o => o.ResourceType == "QuestionnaireResponse" && o.State == PushState.Unchanged));
        Assert.Equal(counts, await CountsAsync(patientId));
        Assert.Equal(protocol.Phq9.Count, await CountAsync("QuestionnaireResponse", patientId));

        var pulled = await sync.PullAsync(protocol.Patient);

        Assert.True(pulled.Result.Protocol is not null, string.Join("\n", pulled.Notes.Concat(pulled.Result.Problems.Select(p => p.ToString()))));
        var course = pulled.Result.Protocol!.Phq9.OrderBy(p => p.Date).ToList();
        Assert.Equal(protocol.Phq9.Select(p => (p.Date, p.Total)), course.Select(p => (p.Date, p.Total)));
        Assert.Equal(protocol.Phq9.Select(p => p.Items![8]), course.Select(p => p.Items![8])); // item 9 pulled back: 2, 2, 1, 2, 1, 1
        Assert.Equal(protocol.Phq9.Select(p => p.Items), course.Select(p => p.Items), new ItemsComparer());
        Assert.DoesNotContain("-> 400", server.ServerLog, StringComparison.Ordinal);

        // No CarePlan is readable on Epic: the phases come from the plan DocumentReference's FHIR attachment, the
        // ServiceRequests and Procedures from the server — the whole protocol is rebuilt, sessions included.
        var rebuilt = pulled.Result.Protocol!;
        Assert.Contains(pulled.Notes, n => n.Contains("CarePlan 4", StringComparison.Ordinal) && n.Contains("read from the plan DocumentReference/", StringComparison.Ordinal));
        Assert.Equal(protocol.Phases.Select(p => (p.Number, p.Status, p.Interventions.Count)), rebuilt.Phases.Select(p => (p.Number, p.Status, p.Interventions.Count)));
        Assert.Equal(protocol.Sessions.Count, rebuilt.Sessions.Count);
        Assert.DoesNotContain(pulled.Result.Problems, p => p.Message.Contains("left out", StringComparison.Ordinal));
        Assert.Equal(
            Trd.Fhir.Adapter.Protocol.ProtocolWriter.Write(protocol with { Patient = protocol.Patient with { Reference = rebuilt.Patient.Reference } }),
            Trd.Fhir.Adapter.Protocol.ProtocolWriter.Write(rebuilt));
    }

    [Fact]
    public async System.Threading.Tasks.Task CliPush_Phq9AsOverridesTheProfilesChannel()
    {
        await server.ResetAsync();
        var protocol = SyncHarness.Example("phase1-augmentation", "EPIC-PHQ9AS-1");
        using var sync = new SyncHarness(server.BaseUrl);
        await sync.RegisterPatientAsync(server, protocol.Patient);
        var file = Path.Combine(Directory.CreateTempSubdirectory("trd-epic-phq9as-").FullName, "protocol.json");
        await File.WriteAllTextAsync(file, Trd.Fhir.Adapter.Protocol.ProtocolWriter.Write(protocol));

        var observation = Run("push", file, "--server", server.BaseUrl.ToString(), "--phq9-as", "observation", "--format", "json");
        var both = Run("push", file, "--server", server.BaseUrl.ToString(), "--phq9-as", "both", "--format", "json");
        var wrong = Run("push", file, "--server", server.BaseUrl.ToString(), "--phq9-as", "flowsheet");

        Assert.Equal(0, observation.Exit);
        var first = Outcomes(observation.Out);
        Assert.DoesNotContain(first, o => o.Type == "QuestionnaireResponse");
        Assert.Contains(first, o => o.Type == "Observation" && o.State == "skipped"); // Epic has no Observation.Create for assessments
        Assert.Equal(0, both.Exit);
        var second = Outcomes(both.Out);
        Assert.Equal(protocol.Phq9.Count, second.Count(o => o.Type == "QuestionnaireResponse" && o.State == "created"));
        Assert.All(second.Where(o => o.Type == "Observation"), o => Assert.Equal("skipped", o.State));
        Assert.Equal(2, wrong.Exit);
        Assert.Contains("flowsheet", wrong.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_UnderEpicRules_SiteFlowsheetChannel_FilesTotalsUnderTheSiteRows_RepushCreatesNothing_PullRebuildsTotals()
    {
        // A site that files PHQ-9 in a flowsheet: its own profile file names the channel and its row ids (synthetic here)
        const string rows = "urn:oid:2.16.840.1.113883.3.9999.1.7.2.707679"; // a synthetic site OID, not a real Epic row system
        await server.ResetAsync();
        var protocol = SyncHarness.Example("phase1-augmentation", "EPIC-FS-1");
        using var sync = new SyncHarness(server.BaseUrl);
        sync.Connection.ChosenProfile = Trd.Fhir.Adapter.Transport.ServerProfiles.ServerProfile.Parse(
            File.ReadAllText(Path.Combine(Repo(), "src", "Trd.Fhir.Adapter", "Transport", "ServerProfiles", "epic.json"))
                .Replace("\"phq9Channel\": \"questionnaire-response\",", $"\"phq9Channel\": \"flowsheet-observation\", \"phq9Flowsheet\": {{ \"system\": \"{rows}\", \"total\": \"SYN-PHQ9-TOTAL\" }},", StringComparison.Ordinal),
            "site-epic.json") with { Reason = "chosen: site-epic.json" };
        var patientId = await sync.RegisterPatientAsync(server, protocol.Patient);

        var first = await sync.PushAsync(protocol);

        Assert.True(first.Ok(strict: false), string.Join("\n", first.Outcomes.Where(o => o.State is PushState.Failed).Select(o => $"{o.ResourceType}: {o.Reason}")) + "\n" + server.ServerLog);
        Assert.Contains($"PHQ-9 written as flowsheet Observations: {protocol.Phq9.Count} filed under the site's rows of server profile 'epic'", first.Notes);
        Assert.Equal(protocol.Phq9.Count, first.Outcomes.Count(o => o.ResourceType == "Observation" && o.State == PushState.Created));
        Assert.DoesNotContain(first.Outcomes, o => o.ResourceType == "QuestionnaireResponse");
        var filed = await server.CreateClient().SearchAsync<Observation>(new SearchParams().Add("patient", $"Patient/{patientId}").Add("code", $"{rows}|SYN-PHQ9-TOTAL"));
        Assert.Equal(protocol.Phq9.Count, filed!.Entry.Count);
        Assert.All(filed.Entry, e => Assert.Contains(((Observation)e.Resource!).Code.Coding, c => c.System == Codes.Loinc && c.Code == Codes.Phq9Total));
        Assert.DoesNotContain("-> 405", server.ServerLog, StringComparison.Ordinal);

        var second = await sync.PushAsync(protocol);
        var pulled = await sync.PullAsync(protocol.Patient);

        Assert.Equal(0, second.Count(PushState.Created));
        Assert.Equal(protocol.Phq9.Select(p => (p.Date, p.Total)), pulled.Result.Protocol!.Phq9.Select(p => (p.Date, p.Total)));
        // no item rows configured: the items (item 9 with them) were reported not writable, so the EHR holds totals only
        Assert.Contains(first.Outcomes, o => o.ResourceType == "Observation" && o.NotWritable);
        Assert.Empty(pulled.Result.SafetySignals);
    }

    [Fact]
    public async System.Threading.Tasks.Task PushThroughLedger_UnderEpicRules_LedgerHoldsTheQuestionnaireResponsesSent_AChangedProtocolCreatesOnlyTheNewOne()
    {
        await server.ResetAsync();
        var protocol = SyncHarness.Example("phase3-ect-esketamine", "EPIC-LEDGER-1");
        using var sync = new SyncHarness(server.BaseUrl);
        var patientId = await sync.RegisterPatientAsync(server, protocol.Patient);
        var directory = Directory.CreateTempSubdirectory("trd-epic-ledger-");
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero));
        await using var ledger = new SqliteSyncLedger(Path.Combine(directory.FullName, "ledger.db"), time);
        // the ledger maps with the default mapper (Observations): it must map with the channel the push uses (epic: QuestionnaireResponse)
        var ledgerSync = new LedgerSync(ledger, new PushWorkflow(sync.Connection, NullLogger<PushWorkflow>.Instance), ProtocolToFhir.Default,
            new LedgerSyncOptions { Worker = "epic-test", DrainRetryHorizon = TimeSpan.Zero }, time, NullLogger<LedgerSync>.Instance);
        await ledgerSync.RecoverAsync(CancellationToken.None);

        var first = await ledgerSync.PushNowAsync(protocol, CancellationToken.None);

        Assert.Equal(WorkState.Confirmed, first.Item.State);
        var rows = await ledger.ResourcesAsync(protocol.Id, CancellationToken.None);
        var responses = rows.Where(r => r.ResourceType == "QuestionnaireResponse").ToArray();
        Assert.Equal(protocol.Phq9.Count, responses.Length);
        Assert.All(responses, r => Assert.Equal(ResourceState.Confirmed, r.State));
        Assert.All(responses, r => Assert.False(string.IsNullOrEmpty(r.ServerId)));
        Assert.DoesNotContain(rows, r => r.ResourceType == "Observation" && r.IdentifierValue.Contains("/phq9-", StringComparison.Ordinal));

        var last = protocol.Phq9[^1];
        var changed = protocol with { Phq9 = [.. protocol.Phq9, last with { Date = last.Date.AddDays(14) }] };
        var second = await ledgerSync.PushNowAsync(changed, CancellationToken.None);

        Assert.Equal(WorkState.Confirmed, second.Item.State);
        Assert.Equal(1, second.Report!.Outcomes.Count(o => o.ResourceType == "QuestionnaireResponse" && o.State == PushState.Created));
        Assert.Equal(protocol.Phq9.Count, second.Report.Outcomes.Count(o => o.ResourceType == "QuestionnaireResponse" && o.State == PushState.Unchanged));
        Assert.Equal(protocol.Phq9.Count + 1, await CountAsync("QuestionnaireResponse", patientId));
        Assert.Equal(protocol.Phq9.Count + 1, (await ledger.ResourcesAsync(protocol.Id, CancellationToken.None))
            .Count(r => r.ResourceType == "QuestionnaireResponse" && r.State == ResourceState.Confirmed));
        directory.Delete(recursive: true);
    }

    private static string Repo()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Trd.Fhir.sln")))
            root = Path.GetDirectoryName(root)!;
        return root;
    }

    private static List<(string Type, string State)> Outcomes(string json)
    {
        using var document = System.Text.Json.JsonDocument.Parse(json);
        return document.RootElement[0].GetProperty("outcomes").EnumerateArray()
            .Select(o => (o.GetProperty("type").GetString()!, o.GetProperty("state").GetString()!)).ToList();
    }

    /// <summary>How many resources the push put in the plan DocumentReference's FHIR attachment (not written, not PHQ-9).</summary>
    private static int PlanParts(PushReport report) =>
        report.Outcomes.Count(o => o.NotWritable && o.ResourceType != "Observation");

    [Fact]
    public async System.Threading.Tasks.Task Push_UnderEpicRules_PlanDocument_CarriesTheReadOutAsHtmlAndThePlanAsText_WithTheIdentifierBase()
    {
        await server.ResetAsync();
        var protocol = SyncHarness.Example("phase3-ect-esketamine", "EPIC-DOC-1");
        using var sync = new SyncHarness(server.BaseUrl);
        var patientId = await sync.RegisterPatientAsync(server, protocol.Patient);
        var identity = new Identity("https://ehr.example.org/ids");
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 10, 26, 9, 0, 0, TimeSpan.Zero)) { };
        time.SetLocalTimeZone(TimeZoneInfo.Utc);

        var report = await sync.PushAsync(protocol, identity: identity, time: time);

        Assert.Equal(PushState.Created, Assert.Single(report.Outcomes, o => o.ResourceType == "DocumentReference").State);
        var found = await server.CreateClient().SearchAsync(new SearchParams().Add("patient", $"Patient/{patientId}"), "DocumentReference");
        var document = Assert.IsType<DocumentReference>(Assert.Single(found!.Entry).Resource);
        var identifier = Assert.Single(document.Identifier);
        Assert.Equal("https://ehr.example.org/ids/documentreference", identifier.System);
        Assert.Equal($"{protocol.Id}/plan-document", identifier.Value);
        var coding = Assert.Single(document.Type.Coding);
        Assert.Equal(("https://trd-fhir.example.org/fhir/CodeSystem/trd-careplan-kind", "protocol"), (coding.System, coding.Code)); // the project's CodeSystem: terminology.md confirms no LOINC note type
        Assert.Equal(["text/plain; charset=utf-8", "text/html; charset=utf-8", "application/fhir+json"], document.Content.Select(c => c.Attachment.ContentType));
        var parts = Assert.IsType<Bundle>(Trd.Fhir.Adapter.Mapping.FhirJson.Parse(document.Content[2].Attachment.Data, out _));
        Assert.Equal(Bundle.BundleType.Collection, parts.Type);
        Assert.Equal(report.Outcomes.Where(o => o.NotWritable).Select(o => o.ResourceType).Order(), parts.Entry.Select(e => e.Resource.TypeName).Order());
        Assert.Equal(4, parts.Entry.Count(e => e.Resource is CarePlan));
        // references to the other resources of the push are logical (type + business identifier): they resolve on any server
        var activity = parts.Entry.Select(e => e.Resource).OfType<CarePlan>().SelectMany(c => c.Activity).First(a => a.Reference is not null).Reference;
        Assert.Null(activity.Reference);
        Assert.StartsWith("https://ehr.example.org/ids/", activity.Identifier.System, StringComparison.Ordinal);
        var text = System.Text.Encoding.UTF8.GetString(document.Content[0].Attachment.Data);
        var html = System.Text.Encoding.UTF8.GetString(document.Content[1].Attachment.Data);
        Assert.Contains("CarePlan: ", text, StringComparison.Ordinal); // the plan Epic does not store, as text
        Assert.Contains("MedicationRequest: ", text, StringComparison.Ordinal);
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("<h1>TRD clinical read-out</h1>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>As of</dt><dd>2026-10-26</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dt>Current phase</dt><dd>phase 3 (", html, StringComparison.Ordinal);
        Assert.Contains("<dt>Latest PHQ-9</dt><dd>15 on 2026-10-19", html, StringComparison.Ordinal);
        Assert.Contains("<section id=\"safety\">", html, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"safety-signal\"><td>2026-10-19</td><td>1</td><td>15</td></tr>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"validation\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task CliPush_UnderEpicRules_CreateAnswersLost_LooksAgainBeforeCreatingAgain_EachResourceOnce_NoPatientDataInLogs()
    {
        await server.ResetAsync();
        const string secret = "MRN-EPIC-LOST-5521";
        var protocol = SyncHarness.Example("phase2-tms-partial-response", secret);
        using var direct = new SyncHarness(server.BaseUrl);
        var patientId = await direct.RegisterPatientAsync(server, protocol.Patient);
        var file = Path.Combine(Directory.CreateTempSubdirectory("trd-epic-lost-").FullName, "protocol.json");
        await File.WriteAllTextAsync(file, Trd.Fhir.Adapter.Protocol.ProtocolWriter.Write(protocol));
        string[] kinds = ["Condition", "ServiceRequest", "Procedure", "QuestionnaireResponse", "DocumentReference"];
        var lost = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        // The first create of each kind reaches the server and its answer is lost (the connection is reset): without
        // conditional create, sending it again blindly would store it twice.
        using var gateway = new Faults.FaultProxy(server.BaseUrl, Faults.FaultPlan.Always(Faults.FaultKind.None, TimeSpan.Zero), (method, path) =>
            method == "POST" && kinds.FirstOrDefault(k => path.EndsWith("/" + k, StringComparison.Ordinal)) is { } kind && lost.TryAdd(kind, true)
                ? Faults.FaultKind.ResetAfterServer : Faults.FaultKind.None);

        var push = Run("push", file, "--server", gateway.BaseUrl.ToString(), "--format", "json", "--verbose");
        await gateway.WhenIdleAsync();

        Assert.True(push.Exit == 0, push.Out + push.Err);
        Assert.Equal(kinds.Length, gateway.WriteCounts[Faults.FaultKind.ResetAfterServer]);
        using var json = System.Text.Json.JsonDocument.Parse(push.Out);
        var outcomes = json.RootElement[0].GetProperty("outcomes").EnumerateArray()
            .Select(o => (Type: o.GetProperty("type").GetString()!, State: o.GetProperty("state").GetString()!)).ToList();
        Assert.DoesNotContain(outcomes, o => o.State == "failed");
        foreach (var kind in kinds)
        {
            var stored = await IdentifiersAsync(kind, patientId);
            Assert.Empty(stored.GroupBy(v => v).Where(g => g.Count() > 1).Select(g => $"{kind} {g.Key} ×{g.Count()}")); // each once
            Assert.Equal(outcomes.Count(o => o.Type == kind && o.State == "created"), stored.Count);
            Assert.NotEmpty(stored);
        }
        Assert.Contains("the answer to a Condition create was lost; looking it up again before another create", push.Err, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, push.Err, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Synthetic", push.Err, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("1980-01-01", push.Err, StringComparison.Ordinal);

        var again = await direct.PushAsync(protocol);
        Assert.Equal(0, again.Count(PushState.Created)); // the server state is a direct push's
    }

    private async Task<List<string>> IdentifiersAsync(string type, string patientId)
    {
        var bundle = await server.CreateClient().SearchAsync(new SearchParams().Add("patient", $"Patient/{patientId}").LimitTo(500), type);
        return bundle!.Entry.Select(e => e.Resource).Where(r => r?.TypeName == type)
            .Select(r => Identity.IdentifiersOf(r!).First().Value!).ToList();
    }

    private sealed class ItemsComparer : IEqualityComparer<IReadOnlyList<int>?>
    {
        public bool Equals(IReadOnlyList<int>? x, IReadOnlyList<int>? y) => x is null ? y is null : y is not null && x.SequenceEqual(y);

        public int GetHashCode(IReadOnlyList<int>? obj) => obj?.Sum() ?? 0;
    }

    private async Task<int> CountAsync(string type, string patientId, params (string Name, string Value)[] more)
    {
        var query = new SearchParams().Add("patient", $"Patient/{patientId}").LimitTo(200);
        foreach (var (name, value) in more)
            query.Add(name, value);
        return (await server.CreateClient().SearchAsync(query, type))!.Entry.Count(e => e.Resource?.TypeName == type);
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
