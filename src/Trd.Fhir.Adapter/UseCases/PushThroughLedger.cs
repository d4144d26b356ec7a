using Microsoft.Data.Sqlite;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Sync.Ledger;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>One protocol of a ledger run as it stands afterwards: the file it came from (null when pushed from the queue),
/// its work item and its resources.</summary>
public sealed record LedgerRunRow(string? File, WorkItem Item, IReadOnlyList<LedgerResource> Resources);

/// <summary>What a ledger run did: abandoned claims recovered, pushes processed, protocols unchanged since their last
/// confirmed push, one row per protocol concerned; <see cref="Failure"/> when the ledger itself failed mid-run.</summary>
public sealed record LedgerRun(int Recovered, int Processed, IReadOnlySet<string> Unchanged, IReadOnlyList<LedgerRunRow> Rows, string? Failure)
{
    public bool AllConfirmed => Failure is null && Rows.All(r => r.Item.State == WorkState.Confirmed);
}

/// <summary>
/// The push through the ledger (CLI <c>push --ledger</c>, API <c>POST /protocols</c>): queue, claim, push, record, over one
/// <see cref="LedgerSync"/>. Every wait is on the injected <see cref="TimeProvider"/>.
/// </summary>
public sealed class PushThroughLedger(LedgerSync sync, TimeProvider time)
{
    /// <summary>How often a run looks again at protocols another process is still pushing.</summary>
    public static readonly TimeSpan OtherProcessPoll = TimeSpan.FromSeconds(1);

    /// <summary>How long a request waits for this process's own background worker to finish a push it claimed.</summary>
    public static readonly TimeSpan OwnWorkerWait = TimeSpan.FromMinutes(5);

    public LedgerSync Sync { get; } = sync;

    /// <summary>Opens and initialises the ledger named by <paramref name="spec"/>; a spec or store problem gives null and a
    /// message with the fix.</summary>
    public static async Task<(ISyncLedger? Ledger, string? Error)> OpenAsync(string spec, TimeProvider time, CancellationToken cancellationToken)
    {
        ISyncLedger ledger;
        try
        {
            ledger = SyncLedgers.Open(spec, time);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            return (null, $"--ledger: {e.Message} (fix: give {SyncLedgers.SpecHint})");
        }
        try
        {
            await ledger.InitializeAsync(cancellationToken);
            return (ledger, null);
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException or System.Data.Common.DbException or TimeoutException)
        {
            await ledger.DisposeAsync();
            return (null, $"the ledger {ledger.Location} cannot be opened: {e.Message} (fix: check the path, its permissions, or that the database is reachable)");
        }
    }

    /// <summary>
    /// Recover abandoned claims, queue every protocol, push what is due with <paramref name="parallel"/> workers (failed pushes
    /// due for a retry within the drain horizon are waited for), then wait for protocols of this run another process is still
    /// pushing (a shared PostgreSQL ledger): a live worker confirms them, a claim whose lease ends is taken over here. Without
    /// protocols, pushes what the ledger has queued (e.g. after <c>ledger retry</c>).
    /// </summary>
    public async Task<LedgerRun> RunAsync(IReadOnlyList<(string? File, TrdProtocol Protocol)> protocols, int parallel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(protocols);
        var ledger = Sync.Ledger;
        var unchanged = new HashSet<string>(StringComparer.Ordinal);
        int recovered, processed;
        try
        {
            recovered = await Sync.RecoverAsync(cancellationToken);
            foreach (var (_, protocol) in protocols)
            {
                var queued = await Sync.EnqueueAsync(protocol, cancellationToken);
                if (!queued.Queued && queued.Item.State == WorkState.Confirmed)
                    unchanged.Add(protocol.Id);
            }
            processed = await Sync.DrainAsync(parallel, cancellationToken);

            var ours = protocols.Select(p => p.Protocol.Id).ToHashSet(StringComparer.Ordinal);
            while ((await ledger.ListAsync(WorkState.Claimed, cancellationToken)).Any(i => ours.Count == 0 || ours.Contains(i.ProtocolId)))
            {
                await Task.Delay(OtherProcessPoll, time, cancellationToken);
                processed += await Sync.DrainAsync(parallel, cancellationToken);
            }
        }
        catch (System.Data.Common.DbException e)
        {
            // The ledger failed mid-run (disk full, database gone): what it recorded stays; the next run resumes from there.
            return new LedgerRun(0, 0, unchanged, [], $"the ledger {ledger.Location} failed: {e.Message} (fix: check the disk or the database, then run the same command again)");
        }

        var ids = protocols.Count > 0
            ? protocols.Select(p => (p.File, Id: p.Protocol.Id)).ToList()
            : (await ledger.ListAsync(null, cancellationToken)).Select(i => (File: (string?)null, Id: i.ProtocolId)).ToList();
        var rows = new List<LedgerRunRow>();
        foreach (var (file, id) in ids)
            rows.Add(new LedgerRunRow(file, (await ledger.GetAsync(id, cancellationToken))!, await ledger.ResourcesAsync(id, cancellationToken)));
        return new LedgerRun(recovered, processed, unchanged, rows, null);
    }

    /// <summary>Queues the protocol for the background worker (<c>Prefer: respond-async</c>).</summary>
    public async Task<WorkItem> EnqueueAsync(TrdProtocol protocol, CancellationToken cancellationToken) =>
        (await Sync.EnqueueAsync(protocol, cancellationToken)).Item;

    /// <summary>Queues and pushes the protocol now. When this process's own background worker claimed it between the enqueue
    /// and this claim, its push is under way: wait for it (bounded by <see cref="OwnWorkerWait"/>) instead of answering
    /// "queued" for work this very process is doing.</summary>
    public async Task<LedgerPushResult> PushNowAsync(TrdProtocol protocol, CancellationToken cancellationToken)
    {
        var result = await Sync.PushNowAsync(protocol, cancellationToken);
        if (result.Report is not null || result.Item.State != WorkState.Claimed || result.Item.ClaimedBy != Sync.Worker)
            return result;
        var item = result.Item;
        var deadline = time.GetUtcNow() + OwnWorkerWait;
        while (item.State == WorkState.Claimed && time.GetUtcNow() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
            item = await Sync.Ledger.GetAsync(item.ProtocolId, cancellationToken) ?? item;
        }
        return new LedgerPushResult(item, null);
    }
}
