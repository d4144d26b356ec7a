using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Trd.Fhir.Adapter.Composition;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary><c>push --ledger</c> (the ledger-driven push, <see cref="PushThroughLedger"/>) and <c>ledger list|retry</c>: thin
/// handlers over the use case and <see cref="ISyncLedger"/>.</summary>
internal static class LedgerCommands
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Option<string?> LedgerOption(bool required) => new("--ledger")
    {
        Description = "The sync ledger: a SQLite file (PATH or sqlite:PATH) or PostgreSQL (postgres://user@host/db or Host=…;Database=…)",
        Required = required,
    };

    // ---------------- push --ledger ----------------

    /// <summary><c>push --ledger</c>: checks <c>--parallel</c> and opens the ledger; null (after saying why) when either is wrong.</summary>
    public static async Task<ISyncLedger?> OpenForPushAsync(CliConsole console, IServiceProvider services, string spec, int parallel, CancellationToken cancellationToken)
    {
        if (parallel is < 1 or > 64)
        {
            console.Error($"trd-fhir: --parallel {parallel} is out of range (fix: 1–64)");
            return null;
        }
        return await OpenAsync(console, spec, services.GetRequiredService<TimeProvider>(), cancellationToken);
    }

    /// <summary>
    /// <c>push --ledger</c>: the <see cref="PushThroughLedger"/> use case over the opened <paramref name="ledger"/>, then one
    /// line per protocol. Exit 0 when every protocol concerned is confirmed, 1 otherwise.
    /// </summary>
    public static async Task<int> PushAsync(
        CliConsole console, IServiceProvider services, ISyncLedger ledger, int parallel,
        IReadOnlyList<(string File, TrdProtocol Protocol)> protocols, bool json, CancellationToken cancellationToken)
    {
        var run = await services.LedgerRun(ledger).RunAsync(protocols.Select(p => ((string?)p.File, p.Protocol)).ToList(), parallel, cancellationToken);
        if (run.Recovered > 0)
            console.Error($"recovered {run.Recovered} protocol push(es) an earlier run left unfinished: reconciled with the server by identifier, nothing is sent twice");
        if (run.Failure is { } failure)
        {
            console.Error($"trd-fhir: {failure}");
            return ExitCodes.ValidationFailed;
        }
        console.Error($"ledger {ledger.Location}: {run.Processed} push(es) processed, {run.Unchanged.Count} protocol(s) unchanged since their last confirmed push");

        if (json)
        {
            console.Write(JsonSerializer.Serialize(run.Rows.Select(s => new
            {
                file = s.File,
                protocol = s.Item.ProtocolId,
                state = Name(s.Item.State),
                unchanged = run.Unchanged.Contains(s.Item.ProtocolId),
                attempts = s.Item.Attempts,
                nextAttemptAt = s.Item.NextAttemptAt,
                lastError = s.Item.LastError,
                resources = s.Resources.GroupBy(r => r.State).OrderBy(g => g.Key).ToDictionary(g => Name(g.Key), g => g.Count()),
            }), Json) + "\n");
        }
        else
        {
            foreach (var (file, item, resources) in run.Rows)
            {
                var counts = string.Join(", ", resources.GroupBy(r => r.State).OrderBy(g => g.Key).Select(g => $"{g.Count()} {Name(g.Key)}"));
                var what = run.Unchanged.Contains(item.ProtocolId) ? "unchanged since the last confirmed push, nothing sent" : $"{Name(item.State)} after {item.Attempts} attempt(s)";
                console.Out($"{(file is null ? "" : file + " → ")}protocol {item.ProtocolId}: {what}; resources: {(counts.Length == 0 ? "none" : counts)}");
                if (item.State != WorkState.Confirmed && item.LastError is { } error)
                    console.Out($"  {(item.State == WorkState.Failed ? $"retry at {item.NextAttemptAt:O}" : "reason")}: {error}");
            }
        }
        return run.AllConfirmed ? ExitCodes.Success : ExitCodes.ValidationFailed;
    }

    // ---------------- ledger list | retry ----------------

    public static Command Create(CliConsole console, TimeProvider time) => new("ledger", "Inspect the sync ledger and re-queue dead letters")
    {
        List(console, time),
        Retry(console, time),
    };

    private static Command List(CliConsole console, TimeProvider time)
    {
        var ledgerOption = LedgerOption(required: true);
        var state = new Option<string?>("--state") { Description = "Only items in this state: queued | claimed | confirmed | failed | dead" };
        var resources = new Option<bool>("--resources") { Description = "Also list each item's resources (type, identifier, state, server id/version, attempts, error)" };
        var format = new Option<string>("--format") { Description = "text | json", DefaultValueFactory = _ => "text" };
        var command = new Command("list", "List the ledger's protocol pushes, oldest first (dead letters with their reason)") { ledgerOption, state, resources, format };
        command.SetAction(async (parse, cancellationToken) =>
        {
            WorkState? filter = null;
            if (parse.GetValue(state) is { } text)
            {
                if (!Enum.TryParse<WorkState>(text, ignoreCase: true, out var parsed) || int.TryParse(text, out _))
                {
                    console.Error($"trd-fhir: --state '{text}' is not one of queued, claimed, confirmed, failed, dead");
                    return ExitCodes.UsageOrInput;
                }
                filter = parsed;
            }
            if (parse.GetValue(format) is not ("text" or "json"))
            {
                console.Error($"trd-fhir: --format '{parse.GetValue(format)}' is not one of text, json");
                return ExitCodes.UsageOrInput;
            }
            await using var ledger = await OpenAsync(console, parse.GetValue(ledgerOption)!, time, cancellationToken);
            if (ledger is null)
                return ExitCodes.UsageOrInput;
            var items = await ledger.ListAsync(filter, cancellationToken);
            var rows = parse.GetValue(resources) ? (await ledger.ResourcesAsync(null, cancellationToken)).ToLookup(r => r.ProtocolId) : null;
            if (parse.GetValue(format) == "json")
            {
                console.Write(JsonSerializer.Serialize(items.Select(i => new
                {
                    protocol = i.ProtocolId,
                    state = Name(i.State),
                    attempts = i.Attempts,
                    lastError = i.LastError,
                    claimedBy = i.ClaimedBy,
                    nextAttemptAt = i.NextAttemptAt,
                    createdAt = i.CreatedAt,
                    updatedAt = i.UpdatedAt,
                    documentHash = i.DocumentHash,
                    resources = rows?[i.ProtocolId].Select(r => new { type = r.ResourceType, system = r.IdentifierSystem, identifier = r.IdentifierValue, state = Name(r.State), serverId = r.ServerId, serverVersion = r.ServerVersion, attempts = r.Attempts, lastError = r.LastError, pushedBy = r.PushedBy, contentHash = r.ContentHash }),
                }), Json) + "\n");
                return ExitCodes.Success;
            }
            console.Out($"ledger {ledger.Location}: {items.Count} protocol push(es){(filter is { } f ? $" in state {Name(f)}" : "")}");
            if (items.Count > 0)
                console.Out($"  {"protocol",-40} {"state",-10} {"attempts",8}  {"updated (UTC)",-20} last error / next attempt");
            foreach (var item in items)
            {
                var note = item.State switch
                {
                    WorkState.Failed => $"retry at {item.NextAttemptAt:yyyy-MM-dd HH:mm:ss}: {item.LastError}",
                    WorkState.Claimed => $"held by {item.ClaimedBy}",
                    WorkState.Confirmed => "",
                    _ => item.LastError ?? "",
                };
                console.Out($"  {item.ProtocolId,-40} {Name(item.State),-10} {item.Attempts,8}  {item.UpdatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),-20} {note}".TrimEnd());
                foreach (var r in rows?[item.ProtocolId] ?? [])
                    console.Out($"      {r.ResourceType,-20} {r.IdentifierValue,-50} {Name(r.State),-10} {r.ServerId}{(r.ServerVersion is null ? "" : "/_history/" + r.ServerVersion)}{(r.LastError is null ? "" : "  " + r.LastError)}");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Retry(CliConsole console, TimeProvider time)
    {
        var ledgerOption = LedgerOption(required: true);
        var ids = new Argument<string[]>("protocol-ids") { Description = "Protocol ids of dead letters to re-queue", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = "Re-queue every dead letter" };
        var command = new Command("retry", "Re-queue dead letters (attempts reset; the reason is kept until the next attempt). Push them with: trd-fhir push --ledger SPEC --server URL") { ledgerOption, ids, all };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var given = parse.GetValue(ids) ?? [];
            if ((given.Length == 0) != parse.GetValue(all))
            {
                console.Error("trd-fhir: ledger retry needs protocol ids or --all (not both)");
                return ExitCodes.UsageOrInput;
            }
            await using var ledger = await OpenAsync(console, parse.GetValue(ledgerOption)!, time, cancellationToken);
            if (ledger is null)
                return ExitCodes.UsageOrInput;
            var exit = ExitCodes.Success;
            foreach (var id in given)
            {
                var item = await ledger.GetAsync(id, cancellationToken);
                if (item is null)
                {
                    console.Error($"trd-fhir: protocol '{id}' is not in the ledger {ledger.Location} (fix: see trd-fhir ledger list)");
                    exit = ExitCodes.UsageOrInput;
                }
                else if (item.State != WorkState.Dead)
                    console.Error($"protocol '{id}' is not a dead letter (state {Name(item.State)}): left as it is");
            }
            var count = await ledger.RetryDeadAsync(given.Length == 0 ? null : given, cancellationToken);
            console.Out($"re-queued {count} dead letter(s) in {ledger.Location}; push them with: trd-fhir push --ledger SPEC --server URL");
            return exit;
        });
        return command;
    }

    // ---------------- shared ----------------

    /// <summary>Opens and initialises the ledger; a spec or store problem is printed (with a fix) and gives null.</summary>
    private static async Task<ISyncLedger?> OpenAsync(CliConsole console, string spec, TimeProvider time, CancellationToken cancellationToken)
    {
        var (ledger, error) = await PushThroughLedger.OpenAsync(spec, time, cancellationToken);
        if (error is not null)
            console.Error($"trd-fhir: {error}");
        return ledger;
    }

    private static string Name(WorkState state) => state.ToString().ToLowerInvariant();

    private static string Name(ResourceState state) => state.ToString().ToLowerInvariant();
}
