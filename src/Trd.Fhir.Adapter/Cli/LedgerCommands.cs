using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Cli;

/// <summary><c>push --ledger</c> (the ledger-driven push) and <c>ledger list|retry</c>: thin handlers over <see cref="LedgerSync"/>
/// and <see cref="ISyncLedger"/>.</summary>
internal static class LedgerCommands
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Option<string?> LedgerOption(bool required) => new("--ledger")
    {
        Description = "The sync ledger: a SQLite file (PATH or sqlite:PATH) or PostgreSQL (postgres://user@host/db or Host=…;Database=…)",
        Required = required,
    };

    // ---------------- push --ledger ----------------

    /// <summary>
    /// Recover abandoned claims, queue every protocol, push what is due with <paramref name="parallel"/> workers (failed pushes
    /// due for a retry within two minutes are waited for), then one line per protocol. Without inputs, pushes what the ledger
    /// has queued (e.g. after <c>ledger retry</c>). Exit 0 when every protocol concerned is confirmed, 1 otherwise.
    /// </summary>
    public static async Task<int> PushAsync(
        CliConsole console, IServiceProvider services, string spec, int parallel, PushStrategy? strategy, Identity identity,
        IReadOnlyList<(string File, TrdProtocol Protocol)> protocols, bool json, CancellationToken cancellationToken)
    {
        if (parallel is < 1 or > 64)
        {
            console.Error($"trd-fhir: --parallel {parallel} is out of range (fix: 1–64)");
            return ExitCodes.UsageOrInput;
        }
        await using var ledger = await OpenAsync(console, spec, cancellationToken);
        if (ledger is null)
            return ExitCodes.UsageOrInput;
        var push = new PushWorkflow(services.GetRequiredService<FhirServerConnection>(), services.GetRequiredService<ILogger<PushWorkflow>>()) { ForcedStrategy = strategy };
        var sync = new LedgerSync(ledger, push, new ProtocolToFhir(identity), new LedgerSyncOptions(), TimeProvider.System, services.GetRequiredService<ILogger<LedgerSync>>());

        var unchanged = new HashSet<string>(StringComparer.Ordinal);
        int processed;
        try
        {
            var recovered = await sync.RecoverAsync(cancellationToken);
            if (recovered > 0)
                console.Error($"recovered {recovered} protocol push(es) an earlier run left unfinished: reconciled with the server by identifier, nothing is sent twice");
            foreach (var (_, protocol) in protocols)
            {
                var queued = await sync.EnqueueAsync(protocol, cancellationToken);
                if (!queued.Queued && queued.Item.State == WorkState.Confirmed)
                    unchanged.Add(protocol.Id);
            }
            processed = await sync.DrainAsync(parallel, cancellationToken);

            // A shared ledger (PostgreSQL): protocols of this run that another process is still pushing. Wait for them — a
            // live worker confirms them, a claim whose lease ends is taken over here — so the run ends with each one settled.
            var ours = protocols.Select(p => p.Protocol.Id).ToHashSet(StringComparer.Ordinal);
            while ((await ledger.ListAsync(WorkState.Claimed, cancellationToken)).Any(i => ours.Count == 0 || ours.Contains(i.ProtocolId)))
            {
                await Task.Delay(TimeSpan.FromSeconds(1), TimeProvider.System, cancellationToken);
                processed += await sync.DrainAsync(parallel, cancellationToken);
            }
        }
        catch (System.Data.Common.DbException e)
        {
            // The ledger failed mid-run (disk full, database gone): what it recorded stays; the next run resumes from there.
            console.Error($"trd-fhir: the ledger {ledger.Location} failed: {e.Message} (fix: check the disk or the database, then run the same command again)");
            return ExitCodes.ValidationFailed;
        }
        console.Error($"ledger {ledger.Location}: {processed} push(es) processed, {unchanged.Count} protocol(s) unchanged since their last confirmed push");

        var rows = protocols.Count > 0
            ? protocols.Select(p => (File: (string?)p.File, Id: p.Protocol.Id)).ToList()
            : (await ledger.ListAsync(null, cancellationToken)).Select(i => (File: (string?)null, Id: i.ProtocolId)).ToList();
        var summary = new List<(string? File, WorkItem Item, IReadOnlyList<LedgerResource> Resources)>();
        foreach (var (file, id) in rows)
            summary.Add((file, (await ledger.GetAsync(id, cancellationToken))!, await ledger.ResourcesAsync(id, cancellationToken)));

        if (json)
        {
            console.Write(JsonSerializer.Serialize(summary.Select(s => new
            {
                file = s.File,
                protocol = s.Item.ProtocolId,
                state = Name(s.Item.State),
                unchanged = unchanged.Contains(s.Item.ProtocolId),
                attempts = s.Item.Attempts,
                nextAttemptAt = s.Item.NextAttemptAt,
                lastError = s.Item.LastError,
                resources = s.Resources.GroupBy(r => r.State).OrderBy(g => g.Key).ToDictionary(g => Name(g.Key), g => g.Count()),
            }), Json) + "\n");
        }
        else
        {
            foreach (var (file, item, resources) in summary)
            {
                var counts = string.Join(", ", resources.GroupBy(r => r.State).OrderBy(g => g.Key).Select(g => $"{g.Count()} {Name(g.Key)}"));
                var what = unchanged.Contains(item.ProtocolId) ? "unchanged since the last confirmed push, nothing sent" : $"{Name(item.State)} after {item.Attempts} attempt(s)";
                console.Out($"{(file is null ? "" : file + " → ")}protocol {item.ProtocolId}: {what}; resources: {(counts.Length == 0 ? "none" : counts)}");
                if (item.State != WorkState.Confirmed && item.LastError is { } error)
                    console.Out($"  {(item.State == WorkState.Failed ? $"retry at {item.NextAttemptAt:O}" : "reason")}: {error}");
            }
        }
        return summary.All(s => s.Item.State == WorkState.Confirmed) ? ExitCodes.Success : ExitCodes.ValidationFailed;
    }

    // ---------------- ledger list | retry ----------------

    public static Command Create(CliConsole console) => new("ledger", "Inspect the sync ledger and re-queue dead letters")
    {
        List(console),
        Retry(console),
    };

    private static Command List(CliConsole console)
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
            await using var ledger = await OpenAsync(console, parse.GetValue(ledgerOption)!, cancellationToken);
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

    private static Command Retry(CliConsole console)
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
            await using var ledger = await OpenAsync(console, parse.GetValue(ledgerOption)!, cancellationToken);
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
    private static async Task<ISyncLedger?> OpenAsync(CliConsole console, string spec, CancellationToken cancellationToken)
    {
        ISyncLedger ledger;
        try
        {
            ledger = SyncLedgers.Open(spec, TimeProvider.System);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            console.Error($"trd-fhir: --ledger: {e.Message} (fix: give {SyncLedgers.SpecHint})");
            return null;
        }
        try
        {
            await ledger.InitializeAsync(cancellationToken);
            return ledger;
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException or System.Data.Common.DbException or TimeoutException)
        {
            console.Error($"trd-fhir: the ledger {ledger.Location} cannot be opened: {e.Message} (fix: check the path, its permissions, or that the database is reachable)");
            await ledger.DisposeAsync();
            return null;
        }
    }

    private static string Name(WorkState state) => state.ToString().ToLowerInvariant();

    private static string Name(ResourceState state) => state.ToString().ToLowerInvariant();
}
