using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary><c>push</c>, <c>pull</c> and <c>probe</c>: parse the options, call the use case, render its result.</summary>
internal static class SyncCommands
{
    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal static bool Ready(ServerOptions server, ParseResult parse, CliConsole console, out FhirServerOptions options)
    {
        options = server.Read(parse);
        if (ServerOptions.Incomplete(options) is { } problem)
        {
            console.Error($"trd-fhir: {problem}");
            return false;
        }
        return true;
    }

    // ---------------- push ----------------

    public static Command Push(CliConsole console, TimeProvider time)
    {
        var server = new ServerOptions();
        var inputs = new Argument<string[]>("inputs") { Description = "Protocol document(s) (.json) or directories of them (with --ledger: none pushes what the ledger has queued)", Arity = ArgumentArity.ZeroOrMore };
        var strategy = new Option<string>("--strategy") { Description = "auto (from the server's CapabilityStatement) | transaction | batch | individual", DefaultValueFactory = _ => "auto" };
        var format = new Option<string>("--format") { Description = "text | json", DefaultValueFactory = _ => "text" };
        var identifierBase = new Option<string>("--identifier-base") { Description = "Base URL of the business identifier systems", DefaultValueFactory = _ => Identity.DefaultBase };
        var ledger = LedgerCommands.LedgerOption(required: false);
        var parallel = new Option<int>("--parallel") { Description = "With --ledger: protocols pushed at once (1–64)", DefaultValueFactory = _ => 1 };
        var strict = new Option<bool>("--strict") { Description = "Exit 1 when a resource is not writable on this server (by default those are reported and the push exits 0)" };
        var noValidate = new Option<bool>("--no-validate") { Description = "Do not validate the mapped Bundles against the profiles before sending (by default a protocol whose Bundle does not conform stops the push before anything is sent, exit 1)" };
        var igs = new Option<string[]>("--ig") { Description = "With validation: a FHIR NPM package (.tgz) or directory of artefacts to add to the profiles (repeatable)", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false };
        var phq9As = new Option<string?>("--phq9-as") { Description = "How PHQ-9 assessments are written: observation, questionnaire-response or both (default: the server profile's channel — questionnaire-response on Epic, observation elsewhere)" };
        phq9As.AcceptOnlyFromAmong([.. Phq9Channels.Names]);
        var command = new Command("push", "Map protocol documents, validate the Bundles and push them to a FHIR server (idempotent: a re-run creates nothing new). With --ledger, what was sent and confirmed is recorded: unchanged protocols are not sent again, an interrupted run resumes, failures are retried and dead letters kept") { inputs, strategy, format, identifierBase, ledger, parallel, noValidate, igs, strict, phq9As };
        var progressWanted = ProgressLine.Option();
        command.Options.Add(progressWanted);
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!Ready(server, parse, console, out var options))
                return ExitCodes.UsageOrInput;
            PushStrategy? forced = parse.GetValue(strategy) switch
            {
                "auto" => null,
                "transaction" => PushStrategy.Transaction,
                "batch" => PushStrategy.Batch,
                "individual" => PushStrategy.Individual,
                var other => throw new ArgumentException($"--strategy '{other}' is not one of auto, transaction, batch, individual"),
            };
            var ledgerSpec = parse.GetValue(ledger);
            if (parse.GetValue(inputs) is not { Length: > 0 } && ledgerSpec is null)
            {
                console.Error("trd-fhir: push needs protocol documents (or --ledger SPEC to push what a ledger has queued)");
                return ExitCodes.UsageOrInput;
            }
            var files = InputFiles.Protocols(parse.GetValue(inputs) ?? [], out var missing, out var empty);
            foreach (var path in missing)
                console.Error($"{path}: no such file or directory (fix: check the path)");
            foreach (var directory in empty)
                console.Error($"push: no protocol documents (*.json) in {directory} (fix: give a .json file or a directory that holds some)");
            if (missing.Count > 0 || empty.Count > 0)
                return ExitCodes.UsageOrInput;
            var protocols = new List<(string File, TrdProtocol Protocol)>();
            foreach (var file in files)
            {
                var read = ProtocolReader.Read(File.ReadAllBytes(file));
                console.Problems(file, read.Problems.Where(p => p.IsError));
                if (read.Protocol is null)
                    return ExitCodes.UsageOrInput;
                protocols.Add((file, read.Protocol));
            }

            await using var services = server.Compose(parse, options, console, time, parse.GetValue(identifierBase), forced, Phq9Channels.Parse(parse.GetValue(phq9As)));
            // The ledger is opened first: a wrong --ledger fails at once, and on a shared ledger this process queues up with
            // the others before the (long) validation of many protocols.
            var ledgerStore = ledgerSpec is null ? null : await LedgerCommands.OpenForPushAsync(console, services, ledgerSpec, parse.GetValue(parallel), cancellationToken);
            if (ledgerSpec is not null && ledgerStore is null)
                return ExitCodes.UsageOrInput;
            await using var ownedLedger = ledgerStore;
            if (!Trd.Fhir.Profiles.ValidatorPool.TryOpen(parse.GetValue(igs) ?? [], new Dictionary<string, string>(), out var pool, out var problem))
            {
                console.Error(problem!);
                return ExitCodes.UsageOrInput;
            }
            using var lease = pool!;
            var push = (parse.GetValue(igs) ?? []).Length == 0
                ? services.GetRequiredService<PushProtocols>()
                : new PushProtocols(new MapProtocol(services.GetRequiredService<Identity>(), lease), services.GetRequiredService<PushWorkflow>());
            // The whole run shares one wait budget (--max-wait) for throttling and an open circuit breaker.
            using var runWaits = Transport.Resilience.TransportWaits.Begin();
            // Validated first, every one of them: nothing is sent while one protocol maps to a Bundle that does not conform.
            var prepared = await push.PrepareAsync(protocols.Select(p => p.Protocol).ToList(), validate: !parse.GetValue(noValidate), cancellationToken);
            var conform = true;
            for (var i = 0; i < prepared.Count; i++)
            {
                if (prepared[i].Validation is { } outcome)
                    conform &= ValidateCommand.ReportMapped(protocols[i].File, prepared[i].Bundle!, outcome, console, "push");
            }
            if (!conform)
                return ExitCodes.ValidationFailed;

            if (ledgerStore is not null)
                return await LedgerCommands.PushAsync(console, services, ledgerStore, parse.GetValue(parallel), protocols, parse.GetValue(format) == "json", cancellationToken);
            var progress = ProgressLine.For(console, parse.GetValue(progressWanted), time, "push", "protocol(s)", protocols.Count);
            var reports = await push.PushAsync(prepared, i =>
            {
                if (protocols.Count > 1)
                    console.Error($"[{i + 1}/{protocols.Count}] {protocols[i].File}{progress.Suffix(i)}");
            }, cancellationToken);
            var results = protocols.Select(p => p.File).Zip(reports).ToList();
            if (parse.GetValue(format) == "json")
                console.Write(JsonSerializer.Serialize(results.Select(r => new { file = r.First, protocol = r.Second.ProtocolId, strategy = r.Second.Strategy?.ToString().ToLowerInvariant(), success = r.Second.Ok(parse.GetValue(strict)), serverProfile = r.Second.ServerProfile, notWritable = r.Second.NotWritable, notes = r.Second.Notes, waits = r.Second.Waits.Any ? new { throttled = r.Second.Waits.Throttled, throttledSeconds = r.Second.Waits.ThrottledTime.TotalSeconds, circuitOpen = r.Second.Waits.CircuitOpen, circuitOpenSeconds = r.Second.Waits.CircuitOpenTime.TotalSeconds, totalSeconds = r.Second.Waits.Total.TotalSeconds, budgetSpent = r.Second.Waits.BudgetSpent } : null, outcomes = r.Second.Outcomes.Select(o => new { type = o.ResourceType, identifier = o.Identifier, state = o.State.ToString().ToLowerInvariant(), serverId = o.ServerId, reason = o.Reason, notWritable = o.NotWritable }) }), Json) + "\n");
            else
                foreach (var (file, report) in results)
                    WriteSummary(console, file, report);
            return reports.All(r => r.Ok(parse.GetValue(strict))) ? ExitCodes.Success : ExitCodes.ValidationFailed;
        });
        return command;
    }

    private static void WriteSummary(CliConsole console, string file, PushReport report)
    {
        console.Out($"{file} → protocol {report.ProtocolId}: {(report.Ok(strict: false) ? "ok" : "FAILED")}, strategy {report.Strategy?.ToString().ToLowerInvariant() ?? "none (nothing to send)"}");
        if (report.ServerProfile is { } profile)
            console.Out($"  server profile: {profile}");
        if (report.NotWritable > 0)
            console.Out($"  not writable on this server: {report.NotWritable} resource(s) ({string.Join(", ", report.Outcomes.Where(o => o.NotWritable).GroupBy(o => o.ResourceType).Select(g => $"{g.Key} {g.Count()}"))}) — reported, not sent (--strict makes this an error)");
        foreach (var note in report.Notes)
            console.Out($"  note: {note}");
        if (report.Waits.Any)
            console.Out($"  {report.Waits.Describe()}");
        console.Out($"  {"resource",-22}{"created",8}{"updated",8}{"unchanged",10}{"failed",8}{"skipped",8}");
        foreach (var (type, created, updated, unchanged, failed, skipped) in report.ByType())
            console.Out($"  {type,-22}{created,8}{updated,8}{unchanged,10}{failed,8}{skipped,8}");
        foreach (var outcome in report.Outcomes.Where(o => o.State is PushState.Failed or PushState.Skipped))
            console.Out($"  {outcome.State.ToString().ToLowerInvariant()}: {outcome.ResourceType} {outcome.Identifier}: {outcome.Reason}");
    }

    // ---------------- pull ----------------

    public static Command Pull(CliConsole console, TimeProvider time)
    {
        var server = new ServerOptions();
        var patient = new Option<string>("--patient") { Description = "The patient's identifier as system|value", Required = true };
        var output = new Option<string?>("--output", "-o") { Description = "Write the protocol document here (stdout by default)" };
        var since = new Option<DateTimeOffset?>("--since") { Description = "Only resources changed since this instant (_lastUpdated), e.g. 2026-11-01T00:00:00Z" };
        var identifierBase = new Option<string>("--identifier-base") { Description = "Base URL of the business identifier systems", DefaultValueFactory = _ => Identity.DefaultBase };
        var command = new Command("pull", "Read a patient's TRD data from a FHIR server and rebuild the protocol document") { patient, output, since, identifierBase };
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!Ready(server, parse, console, out var options))
                return ExitCodes.UsageOrInput;
            var text = parse.GetValue(patient)!;
            if (!PatientKey.TryParse(text, out var who))
            {
                console.Error($"trd-fhir: --patient '{text}' is not system|value (fix: {ServerOptions.PatientHint})");
                return ExitCodes.UsageOrInput;
            }
            await using var services = server.Compose(parse, options, console, time, parse.GetValue(identifierBase));
            var pulled = await PullAsync(services, console, who, parse.GetValue(since), cancellationToken);
            if (pulled.Protocol is not { } protocol)
                return ExitCodes.ValidationFailed;
            var json = ProtocolWriter.Write(protocol);
            if (parse.GetValue(output) is { } file)
                await File.WriteAllTextAsync(file, json, cancellationToken);
            else
                console.Write(json);
            console.Error($"pulled {pulled.ResourcesRead} resources: {protocol.Phases.Count} phases, {protocol.Sessions.Count} sessions, {protocol.Phq9.Count} PHQ-9 assessments");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The pull of <c>pull</c> and <c>report --server</c>: notes and problems go to stderr.</summary>
    internal static async Task<PulledProtocol> PullAsync(IServiceProvider services, CliConsole console, PatientKey patient, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        var pulled = await services.GetRequiredService<PullProtocol>().PullAsync(patient, since, cancellationToken);
        foreach (var note in pulled.Notes)
            console.Error($"note: {note}");
        console.Problems("pull", pulled.Problems);
        return pulled;
    }

    // ---------------- probe ----------------

    public static Command Probe(CliConsole console, TimeProvider time)
    {
        var server = new ServerOptions();
        var live = new Option<bool>("--live") { Description = "Also run real checks (create, read, conditional create twice, delete) with a sandbox identifier" };
        var format = new Option<string>("--format") { Description = "text | json", DefaultValueFactory = _ => "text" };
        var command = new Command("probe", "Tell which parts of the TRD protocol a FHIR server can store and read, and how pushes will reach it") { live, format };
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!Ready(server, parse, console, out var options))
                return ExitCodes.UsageOrInput;
            await using var services = server.Compose(parse, options, console, time);
            var probe = await services.GetRequiredService<ProbeServer>().ProbeAsync(parse.GetValue(live), cancellationToken);
            if (parse.GetValue(format) == "json")
            {
                console.Write(JsonSerializer.Serialize(probe.Describe(), Json) + "\n");
            }
            else
            {
                var capabilities = probe.Capabilities;
                var profile = probe.Profile!;
                console.Out($"{probe.Server} — {capabilities.Software}");
                console.Out($"server profile: {profile.Name} — {profile.Reason}");
                console.Out($"  {profile.Description}");
                console.Out(profile.Bundles ? $"push strategy: {capabilities.PreferredStrategy.ToString().ToLowerInvariant()} (transaction {Yes(capabilities.Transaction)}, batch {Yes(capabilities.Batch)}; falls back on refusal)" : "push strategy: individual (this server profile sends no transaction or batch Bundles)");
                if (profile.PlanDocument)
                    console.Out("plan parts this server does not store are written as one DocumentReference (text + HTML)");
                console.Out($"PHQ-9 write channel: {profile.Phq9Channel}; look-ups: {(profile.IdentifierSearch ? "patient-scoped identifier search" : "patient-scoped search by code/category, identifiers matched by Trd.Fhir")}");
                console.Out($"  {"resource",-22}{"read",6}{"search",8}{"create",8}{"update",8}{"cond.create",13}{"cond.update",13}");
                foreach (var (type, caps) in probe.Kinds)
                    console.Out($"  {type,-22}{Yes(caps.Read),6}{Yes(caps.Search),8}{Yes(caps.Create),8}{Yes(caps.Update),8}{Yes(caps.ConditionalCreate),13}{Yes(caps.ConditionalUpdate),13}");
                var unwritable = probe.Kinds.Where(k => !ServerProbe.Pushable(k.Type, k.Caps, capabilities, profile))
                    .Select(k => ServerProbe.PushedAnyway(k.Type, profile) is { } anyway ? $"{k.Type} (except {anyway})" : k.Type).ToArray();
                var unreadable = probe.Kinds.Where(k => !k.Caps.Search).Select(k => k.Type).ToArray();
                console.Out(unwritable.Length == 0 ? "every resource kind of the protocol can be pushed" : $"will NOT be pushed (reported per resource): {string.Join(", ", unwritable)}");
                console.Out(unreadable.Length == 0 ? "every resource kind of the protocol can be pulled" : $"will NOT be pulled: {string.Join(", ", unreadable)}");
                foreach (var check in probe.Live ?? [])
                    console.Out($"live: {check.Check}: {(check.Ok ? "ok" : "FAILED")} — {check.Detail}");
            }
            return probe.LiveFailed ? ExitCodes.ValidationFailed : ExitCodes.Success;
        });
        return command;
    }

    private static string Yes(bool value) => value ? "yes" : "no";
}
