using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Cli;

/// <summary><c>push</c>, <c>pull</c> and <c>probe</c>: thin handlers over Sync and Transport.</summary>
internal static class SyncCommands
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

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

    public static Command Push(CliConsole console)
    {
        var server = new ServerOptions();
        var inputs = new Argument<string[]>("inputs") { Description = "Protocol document(s) (.json) or directories of them (with --ledger: none pushes what the ledger has queued)", Arity = ArgumentArity.ZeroOrMore };
        var strategy = new Option<string>("--strategy") { Description = "auto (from the server's CapabilityStatement) | transaction | batch | individual", DefaultValueFactory = _ => "auto" };
        var format = new Option<string>("--format") { Description = "text | json", DefaultValueFactory = _ => "text" };
        var identifierBase = new Option<string>("--identifier-base") { Description = "Base URL of the business identifier systems", DefaultValueFactory = _ => Identity.DefaultBase };
        var ledger = LedgerCommands.LedgerOption(required: false);
        var parallel = new Option<int>("--parallel") { Description = "With --ledger: protocols pushed at once (1–64)", DefaultValueFactory = _ => 1 };
        var command = new Command("push", "Map protocol documents and push them to a FHIR server (idempotent: a re-run creates nothing new). With --ledger, what was sent and confirmed is recorded: unchanged protocols are not sent again, an interrupted run resumes, failures are retried and dead letters kept") { inputs, strategy, format, identifierBase, ledger, parallel };
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
            var files = InputFiles.Expand(parse.GetValue(inputs) ?? [], console, out var missing);
            if (missing)
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

            await using var services = ServerOptions.Compose(options, console, parse.GetValue(server.JsonLogs), parse.GetValue(server.Verbose));
            if (ledgerSpec is not null)
                return await LedgerCommands.PushAsync(console, services, ledgerSpec, parse.GetValue(parallel), forced, new Identity(parse.GetValue(identifierBase)!), protocols, parse.GetValue(format) == "json", cancellationToken);
            var workflow = new PushWorkflow(services.GetRequiredService<FhirServerConnection>(), services.GetRequiredService<ILogger<PushWorkflow>>()) { ForcedStrategy = forced };
            var mapper = new ProtocolToFhir(new Identity(parse.GetValue(identifierBase)!));
            var reports = new List<(string File, PushReport Report)>();
            for (var i = 0; i < protocols.Count; i++)
            {
                var (file, protocol) = protocols[i];
                if (protocols.Count > 1)
                    console.Error($"[{i + 1}/{protocols.Count}] {file}");
                reports.Add((file, await workflow.PushAsync(protocol, mapper.Map(protocol), cancellationToken)));
            }
            if (parse.GetValue(format) == "json")
                console.Write(JsonSerializer.Serialize(reports.Select(r => new { file = r.File, protocol = r.Report.ProtocolId, strategy = r.Report.Strategy?.ToString().ToLowerInvariant(), success = r.Report.Success, notes = r.Report.Notes, outcomes = r.Report.Outcomes.Select(o => new { type = o.ResourceType, identifier = o.Identifier, state = o.State.ToString().ToLowerInvariant(), serverId = o.ServerId, reason = o.Reason }) }), Json) + "\n");
            else
                foreach (var (file, report) in reports)
                    WriteSummary(console, file, report);
            return reports.All(r => r.Report.Success) ? ExitCodes.Success : ExitCodes.ValidationFailed;
        });
        return command;
    }

    private static void WriteSummary(CliConsole console, string file, PushReport report)
    {
        console.Out($"{file} → protocol {report.ProtocolId}: {(report.Success ? "ok" : "FAILED")}, strategy {report.Strategy?.ToString().ToLowerInvariant() ?? "none (nothing to send)"}");
        foreach (var note in report.Notes)
            console.Out($"  note: {note}");
        console.Out($"  {"resource",-22}{"created",8}{"updated",8}{"unchanged",10}{"failed",8}{"skipped",8}");
        foreach (var (type, created, updated, unchanged, failed, skipped) in report.ByType())
            console.Out($"  {type,-22}{created,8}{updated,8}{unchanged,10}{failed,8}{skipped,8}");
        foreach (var outcome in report.Outcomes.Where(o => o.State is PushState.Failed or PushState.Skipped))
            console.Out($"  {outcome.State.ToString().ToLowerInvariant()}: {outcome.ResourceType} {outcome.Identifier}: {outcome.Reason}");
    }

    // ---------------- pull ----------------

    public static Command Pull(CliConsole console)
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
            if (!ServerOptions.TryParsePatient(text, out var system, out var value))
            {
                console.Error($"trd-fhir: --patient '{text}' is not system|value (fix: {ServerOptions.PatientHint})");
                return ExitCodes.UsageOrInput;
            }
            var (protocol, read) = await PullProtocolAsync(server, parse, options, console, new Identity(parse.GetValue(identifierBase)!), system, value, parse.GetValue(since), cancellationToken);
            if (protocol is null)
                return ExitCodes.ValidationFailed;
            var json = ProtocolWriter.Write(protocol);
            if (parse.GetValue(output) is { } file)
                await File.WriteAllTextAsync(file, json, cancellationToken);
            else
                console.Write(json);
            console.Error($"pulled {read} resources: {protocol.Phases.Count} phases, {protocol.Sessions.Count} sessions, {protocol.Phq9.Count} PHQ-9 assessments");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The pull step shared by <c>pull</c> and <c>report --server</c>: notes and problems go to stderr; the protocol
    /// is null when none could be rebuilt (patient not found, nothing readable).</summary>
    internal static async Task<(TrdProtocol? Protocol, int ResourcesRead)> PullProtocolAsync(
        ServerOptions server, ParseResult parse, FhirServerOptions options, CliConsole console, Identity identity,
        string system, string value, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        await using var services = ServerOptions.Compose(options, console, parse.GetValue(server.JsonLogs), parse.GetValue(server.Verbose));
        var workflow = new PullWorkflow(services.GetRequiredService<FhirServerConnection>(), new FhirToProtocol(identity), services.GetRequiredService<ILogger<PullWorkflow>>());
        var result = await workflow.PullAsync(system, value, since, cancellationToken);
        foreach (var note in result.Notes)
            console.Error($"note: {note}");
        console.Problems("pull", [.. result.Result.Problems, .. result.Result.Notices]);
        return (result.Result.Protocol, result.ResourcesRead);
    }

    // ---------------- probe ----------------

    public static Command Probe(CliConsole console)
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
            await using var services = ServerOptions.Compose(options, console, parse.GetValue(server.JsonLogs), parse.GetValue(server.Verbose));
            var connection = services.GetRequiredService<FhirServerConnection>();
            var capabilities = await connection.CapabilitiesAsync(cancellationToken);
            var kinds = PullWorkflow.ResourceTypes.Select(type => (Type: type, Caps: capabilities.For(type))).ToArray();
            var liveChecks = parse.GetValue(live) ? await LiveChecksAsync(connection, cancellationToken) : null;
            if (parse.GetValue(format) == "json")
            {
                console.Write(JsonSerializer.Serialize(ServerProbe.Describe(connection.BaseUrl, capabilities, liveChecks), Json) + "\n");
            }
            else
            {
                console.Out($"{connection.BaseUrl} — {capabilities.Software}");
                console.Out($"push strategy: {capabilities.PreferredStrategy.ToString().ToLowerInvariant()} (transaction {Yes(capabilities.Transaction)}, batch {Yes(capabilities.Batch)}; falls back on refusal)");
                console.Out($"  {"resource",-22}{"read",6}{"search",8}{"create",8}{"update",8}{"cond.create",13}{"cond.update",13}");
                foreach (var (type, caps) in kinds)
                    console.Out($"  {type,-22}{Yes(caps.Read),6}{Yes(caps.Search),8}{Yes(caps.Create),8}{Yes(caps.Update),8}{Yes(caps.ConditionalCreate),13}{Yes(caps.ConditionalUpdate),13}");
                var unwritable = kinds.Where(k => !k.Caps.Create).Select(k => k.Type).ToArray();
                var unreadable = kinds.Where(k => !k.Caps.Search).Select(k => k.Type).ToArray();
                console.Out(unwritable.Length == 0 ? "every resource kind of the protocol can be pushed" : $"will NOT be pushed (reported per resource): {string.Join(", ", unwritable)}");
                console.Out(unreadable.Length == 0 ? "every resource kind of the protocol can be pulled" : $"will NOT be pulled: {string.Join(", ", unreadable)}");
                foreach (var check in liveChecks ?? [])
                    console.Out($"live: {check.Check}: {(check.Ok ? "ok" : "FAILED")} — {check.Detail}");
            }
            return liveChecks?.All(c => c.Ok) == false ? ExitCodes.ValidationFailed : ExitCodes.Success;
        });
        return command;
    }

    private static string Yes(bool value) => value ? "yes" : "no";

    /// <summary>Real round trip with a synthetic Observation carrying a sandbox identifier (no patient, no PHI), deleted at the end.</summary>
    private static async Task<List<(string Check, bool Ok, string Detail)>> LiveChecksAsync(FhirServerConnection connection, CancellationToken cancellationToken)
    {
        var checks = new List<(string, bool, string)>();
        var system = Identity.DefaultBase + "/probe";
        var value = "probe-" + Identity.NameBasedUuid(connection.BaseUrl.ToString())[..8];
        Observation Sandbox() => new()
        {
            Identifier = [new Identifier(system, value)],
            Status = ObservationStatus.Final,
            Code = new CodeableConcept(Codes.Loinc, Codes.Phq9Total),
            Value = Codes.Score(0),
        };
        var condition = new SearchParams().Add("identifier", $"{system}|{value}");
        string? id = null;
        try
        {
            var client = connection.NewClient();
            var created = await client.ConditionalCreateAsync(Sandbox(), condition, cancellationToken);
            id = created?.Id;
            checks.Add(("create (If-None-Exist)", id is not null, $"{client.LastResult?.Status} id {id}"));
            var read = id is null ? null : await connection.NewClient().ReadAsync<Observation>($"Observation/{id}", ct: cancellationToken);
            checks.Add(("read", read?.Id == id && id is not null, read is null ? "not read" : "read back"));
            var again = connection.NewClient();
            var second = await again.ConditionalCreateAsync(Sandbox(), condition, cancellationToken);
            checks.Add(("conditional create twice", second?.Id == id, second?.Id == id ? $"{again.LastResult?.Status}: matched the existing resource, no duplicate" : $"second create gave id {second?.Id}: the server DUPLICATES on conditional create"));
        }
        catch (Exception e) when (e is FhirOperationException or HttpRequestException)
        {
            checks.Add(("write", false, e.Message));
        }
        finally
        {
            if (id is not null)
            {
                try
                {
                    await connection.NewClient().DeleteAsync($"Observation/{id}", cancellationToken);
                    checks.Add(("delete", true, "sandbox resource removed"));
                }
                catch (Exception e) when (e is FhirOperationException or HttpRequestException)
                {
                    checks.Add(("delete", false, e.Message));
                }
            }
        }
        return checks;
    }
}
