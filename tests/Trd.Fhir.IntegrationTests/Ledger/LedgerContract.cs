using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Sync.Ledger;

namespace Trd.Fhir.IntegrationTests.Ledger;

/// <summary>
/// What every <see cref="ISyncLedger"/> must do, as documented on the interface. A provider's test class derives from this
/// and says how to make an empty, initialised ledger on a given clock.
/// </summary>
public abstract class LedgerContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset Start = new(2026, 11, 27, 9, 0, 0, TimeSpan.Zero);
    protected static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly List<ISyncLedger> _ledgers = [];

    /// <summary>An empty ledger, <see cref="ISyncLedger.InitializeAsync"/> already called, on <paramref name="time"/>.</summary>
    protected abstract Task<ISyncLedger> CreateLedgerAsync(FakeTimeProvider time);

    /// <summary>True when <see cref="ISyncLedger.RecoverAsync"/> also releases claims whose lease has not ended (SQLite: one
    /// process owns the file, so every claim found at start is abandoned).</summary>
    protected virtual bool RecoverReleasesLiveClaims => false;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var ledger in _ledgers)
            await ledger.DisposeAsync();
    }

    private async Task<(ISyncLedger Ledger, FakeTimeProvider Time)> NewAsync()
    {
        var time = new FakeTimeProvider(Start);
        var ledger = await CreateLedgerAsync(time);
        _ledgers.Add(ledger);
        return (ledger, time);
    }

    private static string Doc(string id, int version = 1) => $"{{\"id\":\"{id}\",\"v\":{version}}}";

    private static Task<EnqueueResult> EnqueueAsync(ISyncLedger ledger, string id, int version = 1) =>
        ledger.EnqueueAsync(id, Doc(id, version), $"hash-{id}-v{version}", None);

    private static ResourceIntent Intent(string value, string hash = "h1", string type = "Observation") =>
        new(type, "https://trd.example/id/" + type.ToLowerInvariant(), value, hash);

    private static ResourceOutcome Confirmed(string value, string id, string version, string type = "Observation") =>
        new("https://trd.example/id/" + type.ToLowerInvariant(), value, ResourceState.Confirmed, id, version, null);

    // ---- initialise, ready ----

    [Fact]
    public async Task InitializeAsync_Twice_KeepsDataAndIsReady()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");

        await ledger.InitializeAsync(None);

        Assert.True(await ledger.IsReadyAsync(None));
        Assert.Equal("p1", Assert.Single(await ledger.ListAsync(null, None)).ProtocolId);
        Assert.False(string.IsNullOrWhiteSpace(ledger.Location));
    }

    // ---- enqueue ----

    [Fact]
    public async Task EnqueueAsync_New_QueuedWithNoAttempts()
    {
        var (ledger, _) = await NewAsync();

        var result = await EnqueueAsync(ledger, "p1");

        Assert.True(result.Queued);
        Assert.Equal(("p1", "hash-p1-v1", WorkState.Queued, 0, (string?)null, (DateTimeOffset?)null), (result.Item.ProtocolId, result.Item.DocumentHash, result.Item.State, result.Item.Attempts, result.Item.ClaimedBy, result.Item.NextAttemptAt));
        Assert.Equal(Start, result.Item.CreatedAt);
        Assert.Equal(result.Item, await ledger.GetAsync("p1", None));
    }

    [Fact]
    public async Task EnqueueAsync_SameHashWhileQueuedClaimedOrConfirmed_NothingQueued()
    {
        var (ledger, time) = await NewAsync();
        var first = await EnqueueAsync(ledger, "p1");
        time.Advance(TimeSpan.FromSeconds(1));

        var whileQueued = await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        var whileClaimed = await EnqueueAsync(ledger, "p1");
        await ledger.CompleteAsync(claim!.Item.Id, "w1", WorkState.Confirmed, null, null, None);
        var whileConfirmed = await EnqueueAsync(ledger, "p1");

        Assert.Equal((false, WorkState.Queued, first.Item.Id), (whileQueued.Queued, whileQueued.Item.State, whileQueued.Item.Id));
        Assert.Equal((false, WorkState.Claimed, "w1"), (whileClaimed.Queued, whileClaimed.Item.State, whileClaimed.Item.ClaimedBy));
        Assert.Equal((false, WorkState.Confirmed), (whileConfirmed.Queued, whileConfirmed.Item.State));
        Assert.Single(await ledger.ListAsync(null, None));
    }

    [Fact]
    public async Task EnqueueAsync_ChangedDocumentAfterConfirmed_RequeuedWithNewDocumentAndAttemptsReset()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        await ledger.CompleteAsync(claim!.Item.Id, "w1", WorkState.Confirmed, null, null, None);

        var result = await EnqueueAsync(ledger, "p1", version: 2);
        var again = await ledger.ClaimNextAsync("w1", Lease, None);

        Assert.True(result.Queued);
        Assert.Equal((claim.Item.Id, WorkState.Queued, 0, "hash-p1-v2"), (result.Item.Id, result.Item.State, result.Item.Attempts, result.Item.DocumentHash));
        Assert.Equal(Doc("p1", 2), again!.Document);
        Assert.Equal(1, again.Item.Attempts);
    }

    [Theory]
    [InlineData(WorkState.Failed)]
    [InlineData(WorkState.Dead)]
    public async Task EnqueueAsync_SameHashAfterFailedOrDead_RequeuedAttemptsReset(WorkState ended)
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        await ledger.CompleteAsync(claim!.Item.Id, "w1", ended, "server said 503", Start.AddHours(1), None);

        var result = await EnqueueAsync(ledger, "p1");

        Assert.True(result.Queued);
        Assert.Equal((WorkState.Queued, 0, (DateTimeOffset?)null), (result.Item.State, result.Item.Attempts, result.Item.NextAttemptAt));
        Assert.NotNull(await ledger.ClaimNextAsync("w1", Lease, None)); // due now, not at the old retry time
    }

    // ---- claim ----

    [Fact]
    public async Task ClaimNextAsync_ThreeQueued_OldestFirstThenNull()
    {
        var (ledger, time) = await NewAsync();
        foreach (var id in new[] { "c", "a", "b" })
        {
            await EnqueueAsync(ledger, id);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        var claims = new List<ClaimedWork?>();
        for (var i = 0; i < 4; i++)
            claims.Add(await ledger.ClaimNextAsync("w1", Lease, None));

        Assert.Equal(["c", "a", "b", null], claims.Select(c => c?.Item.ProtocolId));
        Assert.Equal(Doc("c"), claims[0]!.Document);
        Assert.All(claims.Take(3), c => Assert.Equal((WorkState.Claimed, "w1", 1), (c!.Item.State, c.Item.ClaimedBy, c.Item.Attempts)));
    }

    [Fact]
    public async Task ClaimNextAsync_FailedItem_DueOnlyAtItsRetryTime()
    {
        var (ledger, time) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        var retryAt = Start.AddSeconds(30);
        await ledger.CompleteAsync(claim!.Item.Id, "w1", WorkState.Failed, "429 Too Many Requests", retryAt, None);

        var failed = await ledger.GetAsync("p1", None);
        var early = await ledger.ClaimNextAsync("w1", Lease, None);
        time.Advance(TimeSpan.FromSeconds(29));
        var stillEarly = await ledger.ClaimNextAsync("w1", Lease, None);
        time.Advance(TimeSpan.FromSeconds(1));
        var due = await ledger.ClaimNextAsync("w2", Lease, None);

        Assert.Equal((WorkState.Failed, "429 Too Many Requests", (DateTimeOffset?)retryAt, 1), (failed!.State, failed.LastError, failed.NextAttemptAt, failed.Attempts));
        Assert.Null(early);
        Assert.Null(stillEarly);
        Assert.Equal(("p1", "w2", 2), (due!.Item.ProtocolId, due.Item.ClaimedBy, due.Item.Attempts));
    }

    [Fact]
    public async Task ClaimNextAsync_LeaseExpired_AnotherWorkerTakesItAndTheFirstCannotComplete()
    {
        var (ledger, time) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var first = await ledger.ClaimNextAsync("w1", TimeSpan.FromMinutes(1), None);

        var whileHeld = await ledger.ClaimNextAsync("w2", Lease, None);
        time.Advance(TimeSpan.FromSeconds(59));
        var justBefore = await ledger.ClaimNextAsync("w2", Lease, None);
        time.Advance(TimeSpan.FromSeconds(1));
        var taken = await ledger.ClaimNextAsync("w2", Lease, None);

        Assert.Null(whileHeld);
        Assert.Null(justBefore);
        Assert.Equal((first!.Item.Id, "w2", 2), (taken!.Item.Id, taken.Item.ClaimedBy, taken.Item.Attempts));
        await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.CompleteAsync(first.Item.Id, "w1", WorkState.Confirmed, null, null, None));
        await ledger.CompleteAsync(taken.Item.Id, "w2", WorkState.Confirmed, null, null, None);
        Assert.Equal(WorkState.Confirmed, (await ledger.GetAsync("p1", None))!.State);
    }

    [Fact]
    public async Task ClaimAsync_OneProtocol_TakesThatOneNotTheOldest()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "old");
        await EnqueueAsync(ledger, "mine");

        var mine = await ledger.ClaimAsync("mine", "api", Lease, None);
        var heldByOther = await ledger.ClaimAsync("mine", "other", Lease, None);
        var unknown = await ledger.ClaimAsync("nope", "api", Lease, None);
        var next = await ledger.ClaimNextAsync("w1", Lease, None);

        Assert.Equal(("mine", "api", WorkState.Claimed), (mine!.Item.ProtocolId, mine.Item.ClaimedBy, mine.Item.State));
        Assert.Null(heldByOther);
        Assert.Null(unknown);
        Assert.Equal("old", next!.Item.ProtocolId);
    }

    [Fact]
    public async Task ClaimAsync_Confirmed_Null()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimAsync("p1", "api", Lease, None);
        await ledger.CompleteAsync(claim!.Item.Id, "api", WorkState.Confirmed, null, null, None);

        Assert.Null(await ledger.ClaimAsync("p1", "api", Lease, None));
    }

    [Fact]
    public async Task ClaimNextAsync_EightConcurrentClaimers_EveryItemClaimedExactlyOnce()
    {
        var (ledger, _) = await NewAsync();
        for (var i = 0; i < 60; i++)
            await EnqueueAsync(ledger, "p" + i.ToString("D3", CultureInfo.InvariantCulture));
        var claims = new ConcurrentBag<(string Worker, string ProtocolId)>();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var worker = "w" + w.ToString(CultureInfo.InvariantCulture);
            while (await ledger.ClaimNextAsync(worker, Lease, None) is { } claim)
            {
                claims.Add((worker, claim.Item.ProtocolId));
                await ledger.CompleteAsync(claim.Item.Id, worker, WorkState.Confirmed, null, null, None);
            }
        })));

        Assert.Equal(60, claims.Count);
        Assert.Equal(60, claims.Select(c => c.ProtocolId).Distinct().Count());
        Assert.Equal(60, (await ledger.ListAsync(WorkState.Confirmed, None)).Count);
    }

    // ---- recover ----

    [Fact]
    public async Task RecoverAsync_ExpiredClaim_BackToQueue()
    {
        var (ledger, time) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        await EnqueueAsync(ledger, "p2");
        await ledger.ClaimNextAsync("crashed", Lease, None);
        time.Advance(Lease + TimeSpan.FromSeconds(1));

        var recovered = await ledger.RecoverAsync(None);

        Assert.Equal(1, recovered);
        var item = await ledger.GetAsync("p1", None);
        Assert.Equal((WorkState.Queued, 1), (item!.State, item.Attempts));
        Assert.Equal("p1", (await ledger.ClaimNextAsync("w1", Lease, None))!.Item.ProtocolId);
    }

    [Fact]
    public async Task RecoverAsync_LiveClaim_ReleasedOnlyWhereOneProcessOwnsTheLedger()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        await ledger.ClaimNextAsync("w1", Lease, None);

        var recovered = await ledger.RecoverAsync(None);

        Assert.Equal(RecoverReleasesLiveClaims ? 1 : 0, recovered);
        Assert.Equal(RecoverReleasesLiveClaims ? WorkState.Queued : WorkState.Claimed, (await ledger.GetAsync("p1", None))!.State);
    }

    // ---- resources ----

    [Fact]
    public async Task RecordIntentAsync_New_PendingWithOneAttemptByWorker()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);

        await ledger.RecordIntentAsync(claim!.Item.Id, "w1", [Intent("p1/b"), Intent("p1/a", type: "CarePlan")], None);

        var rows = await ledger.ResourcesAsync("p1", None);
        Assert.Equal(["CarePlan p1/a", "Observation p1/b"], rows.Select(r => $"{r.ResourceType} {r.IdentifierValue}"));
        Assert.All(rows, r => Assert.Equal(("p1", ResourceState.Pending, 1, "w1", "h1", (string?)null), (r.ProtocolId, r.State, r.Attempts, r.PushedBy, r.ContentHash, r.ServerId)));
        Assert.All(rows, r => Assert.Equal(Start, r.UpdatedAt));
    }

    [Fact]
    public async Task RecordSentAsync_MarksOnlyTheNamedResources()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        await ledger.RecordIntentAsync(claim!.Item.Id, "w1", [Intent("p1/a"), Intent("p1/b")], None);

        await ledger.RecordSentAsync(claim.Item.Id, [("https://trd.example/id/observation", "p1/a")], None);

        Assert.Equal([ResourceState.Sent, ResourceState.Pending], (await ledger.ResourcesAsync("p1", None)).Select(r => r.State));
    }

    [Fact]
    public async Task RecordOutcomesAsync_ConfirmedFailedDead_KeptWithIdVersionAndReason()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        await ledger.RecordIntentAsync(claim!.Item.Id, "w1", [Intent("p1/a"), Intent("p1/b"), Intent("p1/c")], None);

        await ledger.RecordOutcomesAsync(claim.Item.Id,
        [
            Confirmed("p1/a", "srv-1", "v7"),
            new("https://trd.example/id/observation", "p1/b", ResourceState.Failed, null, null, "503 Service Unavailable"),
            new("https://trd.example/id/observation", "p1/c", ResourceState.Dead, null, null, "422: code is not in the value set"),
        ], None);

        Assert.Equal(
            [
                ("p1/a", ResourceState.Confirmed, "srv-1", "v7", null),
                ("p1/b", ResourceState.Failed, null, null, "503 Service Unavailable"),
                ("p1/c", ResourceState.Dead, null, null, "422: code is not in the value set"),
            ],
            (await ledger.ResourcesAsync("p1", None)).Select(r => (r.IdentifierValue, r.State, r.ServerId, r.ServerVersion, r.LastError)));
    }

    [Fact]
    public async Task RecordIntentAsync_ConfirmedSameHash_Untouched_ChangedHash_PendingAgain()
    {
        var (ledger, time) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        await ledger.RecordIntentAsync(claim!.Item.Id, "w1", [Intent("p1/same"), Intent("p1/changed")], None);
        await ledger.RecordOutcomesAsync(claim.Item.Id, [Confirmed("p1/same", "1", "v1"), Confirmed("p1/changed", "2", "v1")], None);
        time.Advance(TimeSpan.FromMinutes(1));

        await ledger.RecordIntentAsync(claim.Item.Id, "w2", [Intent("p1/same", "h1"), Intent("p1/changed", "h2")], None);

        var rows = (await ledger.ResourcesAsync("p1", None)).ToDictionary(r => r.IdentifierValue);
        Assert.Equal((ResourceState.Confirmed, 1, "w1", "h1", "1", Start), (rows["p1/same"].State, rows["p1/same"].Attempts, rows["p1/same"].PushedBy, rows["p1/same"].ContentHash, rows["p1/same"].ServerId, rows["p1/same"].UpdatedAt));
        Assert.Equal((ResourceState.Pending, 2, "w2", "h2", "2"), (rows["p1/changed"].State, rows["p1/changed"].Attempts, rows["p1/changed"].PushedBy, rows["p1/changed"].ContentHash, rows["p1/changed"].ServerId));
    }

    [Fact]
    public async Task RecordOutcomesAsync_NoServerIdGiven_KeepsTheKnownOne()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        await ledger.RecordIntentAsync(claim!.Item.Id, "w1", [Intent("p1/a")], None);
        await ledger.RecordOutcomesAsync(claim.Item.Id, [Confirmed("p1/a", "srv-1", "v1")], None);
        await ledger.RecordIntentAsync(claim.Item.Id, "w1", [Intent("p1/a", "h2")], None);

        await ledger.RecordOutcomesAsync(claim.Item.Id, [new("https://trd.example/id/observation", "p1/a", ResourceState.Failed, null, null, "timeout")], None);

        var row = Assert.Single(await ledger.ResourcesAsync("p1", None));
        Assert.Equal((ResourceState.Failed, "srv-1", "v1", "timeout"), (row.State, row.ServerId, row.ServerVersion, row.LastError));
    }

    [Fact]
    public async Task ResourcesAsync_AllProtocols_OrderedByProtocolTypeIdentifier()
    {
        var (ledger, _) = await NewAsync();
        foreach (var id in new[] { "p2", "p1" })
        {
            await EnqueueAsync(ledger, id);
            var claim = await ledger.ClaimAsync(id, "w1", Lease, None);
            await ledger.RecordIntentAsync(claim!.Item.Id, "w1", [Intent(id + "/z"), Intent(id + "/y", type: "Goal")], None);
        }

        var rows = await ledger.ResourcesAsync(null, None);

        Assert.Equal(["p1 Goal p1/y", "p1 Observation p1/z", "p2 Goal p2/y", "p2 Observation p2/z"], rows.Select(r => $"{r.ProtocolId} {r.ResourceType} {r.IdentifierValue}"));
        Assert.Empty(await ledger.ResourcesAsync("unknown", None));
    }

    // ---- complete ----

    [Fact]
    public async Task CompleteAsync_Dead_KeepsReasonAndIsNotDue()
    {
        var (ledger, time) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);
        time.Advance(TimeSpan.FromSeconds(3));

        await ledger.CompleteAsync(claim!.Item.Id, "w1", WorkState.Dead, "422 Unprocessable Entity: bad code", Start.AddSeconds(10), None);
        time.Advance(TimeSpan.FromDays(1));

        var item = await ledger.GetAsync("p1", None);
        Assert.Equal((WorkState.Dead, "422 Unprocessable Entity: bad code", (DateTimeOffset?)null, Start.AddSeconds(3)), (item!.State, item.LastError, item.NextAttemptAt, item.UpdatedAt));
        Assert.Null(await ledger.ClaimNextAsync("w1", Lease, None));
        Assert.Equal("p1", Assert.Single(await ledger.ListAsync(WorkState.Dead, None)).ProtocolId);
    }

    [Fact]
    public async Task CompleteAsync_ByAnotherWorker_ThrowsAndLeavesTheClaim()
    {
        var (ledger, _) = await NewAsync();
        await EnqueueAsync(ledger, "p1");
        var claim = await ledger.ClaimNextAsync("w1", Lease, None);

        await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.CompleteAsync(claim!.Item.Id, "w2", WorkState.Confirmed, null, null, None));

        Assert.Equal((WorkState.Claimed, "w1"), ((await ledger.GetAsync("p1", None))!.State, (await ledger.GetAsync("p1", None))!.ClaimedBy));
    }

    [Fact]
    public async Task CompleteAsync_NotClaimed_Throws()
    {
        var (ledger, _) = await NewAsync();
        var queued = await EnqueueAsync(ledger, "p1");

        await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.CompleteAsync(queued.Item.Id, "w1", WorkState.Confirmed, null, null, None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ledger.CompleteAsync(queued.Item.Id, "w1", WorkState.Queued, null, null, None));
    }

    // ---- list, retry ----

    [Fact]
    public async Task ListAsync_ByState_OnlyThatStateOldestFirst()
    {
        var (ledger, time) = await NewAsync();
        foreach (var id in new[] { "d2", "ok", "d1", "q" })
        {
            await EnqueueAsync(ledger, id);
            time.Advance(TimeSpan.FromSeconds(1));
        }
        foreach (var id in new[] { "d2", "ok", "d1" })
        {
            var claim = await ledger.ClaimAsync(id, "w1", Lease, None);
            await ledger.CompleteAsync(claim!.Item.Id, "w1", id == "ok" ? WorkState.Confirmed : WorkState.Dead, id == "ok" ? null : "refused", null, None);
        }

        Assert.Equal(["d2", "d1"], (await ledger.ListAsync(WorkState.Dead, None)).Select(i => i.ProtocolId));
        Assert.Equal(["q"], (await ledger.ListAsync(WorkState.Queued, None)).Select(i => i.ProtocolId));
        Assert.Equal(["d2", "ok", "d1", "q"], (await ledger.ListAsync(null, None)).Select(i => i.ProtocolId));
        Assert.Null(await ledger.GetAsync("unknown", None));
    }

    [Fact]
    public async Task RetryDeadAsync_GivenIds_OnlyThoseDeadRequeuedReasonKept()
    {
        var (ledger, _) = await NewAsync();
        foreach (var id in new[] { "d1", "d2", "ok" })
        {
            await EnqueueAsync(ledger, id);
            var claim = await ledger.ClaimAsync(id, "w1", Lease, None);
            await ledger.CompleteAsync(claim!.Item.Id, "w1", id == "ok" ? WorkState.Confirmed : WorkState.Dead, id == "ok" ? null : "out of attempts", null, None);
        }

        var count = await ledger.RetryDeadAsync(["d1", "ok", "unknown"], None);

        Assert.Equal(1, count);
        var d1 = await ledger.GetAsync("d1", None);
        Assert.Equal((WorkState.Queued, 0, "out of attempts"), (d1!.State, d1.Attempts, d1.LastError));
        Assert.Equal(WorkState.Dead, (await ledger.GetAsync("d2", None))!.State);
        Assert.Equal(WorkState.Confirmed, (await ledger.GetAsync("ok", None))!.State);
        Assert.Equal("d1", (await ledger.ClaimNextAsync("w1", Lease, None))!.Item.ProtocolId);
    }

    [Fact]
    public async Task RetryDeadAsync_All_EveryDeadRequeued()
    {
        var (ledger, _) = await NewAsync();
        foreach (var id in new[] { "d1", "d2", "q" })
        {
            await EnqueueAsync(ledger, id);
            if (id == "q")
                continue;
            var claim = await ledger.ClaimAsync(id, "w1", Lease, None);
            await ledger.CompleteAsync(claim!.Item.Id, "w1", WorkState.Dead, "refused", null, None);
        }

        var count = await ledger.RetryDeadAsync(null, None);

        Assert.Equal(2, count);
        Assert.Empty(await ledger.ListAsync(WorkState.Dead, None));
        Assert.Equal(3, (await ledger.ListAsync(WorkState.Queued, None)).Count);
    }
}
