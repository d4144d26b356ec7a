using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.Adapter.Tests.Transport.Push;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>
/// The push through the ledger waits, on the injected clock, for a protocol of its run that another process is pushing:
/// it polls every <see cref="PushThroughLedger.OtherProcessPoll"/> and ends once that process confirms it — without sending
/// anything itself. A SQLite ledger in a temporary folder, seen as a shared one (<see cref="SharedLedger"/>: a live claim of
/// another worker survives this run's recovery, as in PostgreSQL before its lease ends); a clock that says when a wait
/// starts, so the test advances it exactly then (no real sleeps).
/// </summary>
public sealed class PushThroughLedgerTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-ledger-usecase-").FullName;
    private readonly SignallingClock _time = new(new DateTimeOffset(2026, 12, 4, 22, 0, 0, TimeSpan.Zero));
    private ISyncLedger _ledger = null!;

    public async System.Threading.Tasks.Task InitializeAsync()
    {
        _ledger = SyncLedgers.Open(Path.Combine(_dir, "ledger.db"), _time);
        await _ledger.InitializeAsync(CancellationToken.None);
    }

    public async System.Threading.Tasks.Task DisposeAsync()
    {
        await _ledger.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private sealed class SignallingClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        public SemaphoreSlim WaitStarted { get; } = new(0);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime != Timeout.InfiniteTimeSpan) WaitStarted.Release();
            return timer;
        }
    }

    /// <summary>Returns once the run starts its next wait on the clock; a run that ends instead is awaited (its exception or
    /// result shows).</summary>
    /// <summary>The SQLite ledger with the recovery of a shared ledger whose other worker is alive: nothing to recover.</summary>
    private sealed class SharedLedger(ISyncLedger inner) : ISyncLedger
    {
        public string Location => inner.Location;
        public System.Threading.Tasks.Task InitializeAsync(CancellationToken cancellationToken) => inner.InitializeAsync(cancellationToken);
        public System.Threading.Tasks.Task<bool> IsReadyAsync(CancellationToken cancellationToken) => inner.IsReadyAsync(cancellationToken);
        public System.Threading.Tasks.Task<EnqueueResult> EnqueueAsync(string protocolId, string document, string documentHash, CancellationToken cancellationToken) => inner.EnqueueAsync(protocolId, document, documentHash, cancellationToken);
        public System.Threading.Tasks.Task<ClaimedWork?> ClaimNextAsync(string worker, TimeSpan lease, CancellationToken cancellationToken) => inner.ClaimNextAsync(worker, lease, cancellationToken);
        public System.Threading.Tasks.Task<ClaimedWork?> ClaimAsync(string protocolId, string worker, TimeSpan lease, CancellationToken cancellationToken) => inner.ClaimAsync(protocolId, worker, lease, cancellationToken);
        public System.Threading.Tasks.Task<int> RecoverAsync(CancellationToken cancellationToken) => System.Threading.Tasks.Task.FromResult(0);
        public System.Threading.Tasks.Task RecordIntentAsync(long workId, string worker, IReadOnlyList<ResourceIntent> resources, CancellationToken cancellationToken) => inner.RecordIntentAsync(workId, worker, resources, cancellationToken);
        public System.Threading.Tasks.Task RecordSentAsync(long workId, IReadOnlyList<(string IdentifierSystem, string IdentifierValue)> resources, CancellationToken cancellationToken) => inner.RecordSentAsync(workId, resources, cancellationToken);
        public System.Threading.Tasks.Task RecordOutcomesAsync(long workId, IReadOnlyList<ResourceOutcome> outcomes, CancellationToken cancellationToken) => inner.RecordOutcomesAsync(workId, outcomes, cancellationToken);
        public System.Threading.Tasks.Task CompleteAsync(long workId, string worker, WorkState state, string? error, DateTimeOffset? retryAt, CancellationToken cancellationToken) => inner.CompleteAsync(workId, worker, state, error, retryAt, cancellationToken);
        public System.Threading.Tasks.Task<WorkItem?> GetAsync(string protocolId, CancellationToken cancellationToken) => inner.GetAsync(protocolId, cancellationToken);
        public System.Threading.Tasks.Task<IReadOnlyList<WorkItem>> ListAsync(WorkState? state, CancellationToken cancellationToken) => inner.ListAsync(state, cancellationToken);
        public System.Threading.Tasks.Task<IReadOnlyList<LedgerResource>> ResourcesAsync(string? protocolId, CancellationToken cancellationToken) => inner.ResourcesAsync(protocolId, cancellationToken);
        public System.Threading.Tasks.Task<int> RetryDeadAsync(IReadOnlyCollection<string>? protocolIds, CancellationToken cancellationToken) => inner.RetryDeadAsync(protocolIds, cancellationToken);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the test disposes the inner ledger
    }

    private async System.Threading.Tasks.Task NextWaitAsync(System.Threading.Tasks.Task run)
    {
        var wait = _time.WaitStarted.WaitAsync(TimeSpan.FromMinutes(1)); // a guard against a hang, not a time limit on the code under test
        if (await System.Threading.Tasks.Task.WhenAny(wait, run) == run)
        {
            await run;
            Assert.Fail("the run ended instead of waiting for the other process");
        }
        Assert.True(await wait, "the run never started to wait");
    }

    [Fact]
    public async System.Threading.Tasks.Task RunAsync_AnotherProcessHoldsTheProtocol_PollsOnTheClockUntilItIsConfirmedSendsNothing()
    {
        var protocol = ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", "phase1-augmentation.json"))).Protocol!;
        var (document, hash) = LedgerSync.Canonical(protocol);
        await _ledger.EnqueueAsync(protocol.Id, document, hash, CancellationToken.None);
        var other = (await _ledger.ClaimAsync(protocol.Id, "other-host:4242:1", TimeSpan.FromMinutes(10), CancellationToken.None))!;
        var server = new StubServer();
        var sync = new LedgerSync(new SharedLedger(_ledger), new PushWorkflow(server.Connection(), NullLogger<PushWorkflow>.Instance), new ProtocolToFhir(new Identity(Identity.DefaultBase)),
            new LedgerSyncOptions { Worker = "this-host:1:1" }, _time, NullLogger<LedgerSync>.Instance);

        var run = new PushThroughLedger(sync, _time).RunAsync([("p.json", protocol)], 1, CancellationToken.None);
        await NextWaitAsync(run);
        _time.Advance(PushThroughLedger.OtherProcessPoll);
        await NextWaitAsync(run);
        Assert.False(run.IsCompleted);
        await _ledger.CompleteAsync(other.Item.Id, "other-host:4242:1", WorkState.Confirmed, null, null, CancellationToken.None);
        _time.Advance(PushThroughLedger.OtherProcessPoll);
        var result = await run;

        Assert.Null(result.Failure);
        Assert.Equal((0, 0), (result.Recovered, result.Processed));
        var row = Assert.Single(result.Rows);
        Assert.Equal(("p.json", WorkState.Confirmed), (row.File, row.Item.State));
        Assert.True(result.AllConfirmed);
        Assert.Empty(server.Requests);
    }
}
