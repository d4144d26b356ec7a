using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Trd.Fhir.Adapter.Sync.Ledger;

namespace Trd.Fhir.IntegrationTests.Ledger;

/// <summary>
/// The PostgreSQL ledger against a real PostgreSQL (a throwaway cluster, one database per ledger): the contract, plus what
/// only a shared ledger has — claimers in several pools (processes) racing, schema creation racing, lease-only recovery.
/// </summary>
[Collection(PostgresFixture.CollectionName)]
public sealed class PostgresLedgerTests(PostgresFixture postgres) : LedgerContract
{
    private readonly List<PostgresSyncLedger> _ledgers = [];

    protected override async Task<ISyncLedger> CreateLedgerAsync(FakeTimeProvider time)
    {
        var ledger = new PostgresSyncLedger(await postgres.CreateDatabaseAsync(), time); // disposed by the contract
        await ledger.InitializeAsync(CancellationToken.None);
        return ledger;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var ledger in _ledgers)
        {
            await ledger.DisposeAsync();
        }
    }

    /// <summary>A ledger on a new database, or a second one (another pool, as another process) on <paramref name="connectionString"/>.</summary>
    private async Task<PostgresSyncLedger> NewLedgerAsync(TimeProvider time, string? connectionString = null)
    {
        var ledger = new PostgresSyncLedger(connectionString ?? await postgres.CreateDatabaseAsync(), time);
        _ledgers.Add(ledger);
        await ledger.InitializeAsync(CancellationToken.None);
        return ledger;
    }

    private static async Task EnqueueAsync(ISyncLedger ledger, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var id = "p-" + i.ToString("D4", CultureInfo.InvariantCulture);
            var result = await ledger.EnqueueAsync(id, "{\"id\":\"" + id + "\"}", "hash-" + id, CancellationToken.None);
            Assert.True(result.Queued);
        }
    }

    /// <summary>Each claimer takes one item, waits until every claimer holds one (all claims open at once), then drains the queue.</summary>
    private static async Task<ConcurrentBag<(string Worker, string ProtocolId)>> DrainAsync(IReadOnlyList<(ISyncLedger Ledger, string Worker)> claimers)
    {
        var claims = new ConcurrentBag<(string, string)>();
        var holding = 0;
        var allHoldOne = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await Task.WhenAll(claimers.Select(c => Task.Run(async () =>
        {
            var first = true;
            while (await c.Ledger.ClaimNextAsync(c.Worker, Lease, CancellationToken.None) is { } work)
            {
                claims.Add((c.Worker, work.Item.ProtocolId));
                if (first)
                {
                    first = false;
                    if (Interlocked.Increment(ref holding) == claimers.Count)
                    {
                        allHoldOne.SetResult();
                    }

                    await allHoldOne.Task.WaitAsync(TimeSpan.FromMinutes(2));
                }

                await c.Ledger.CompleteAsync(work.Item.Id, c.Worker, WorkState.Confirmed, null, null, CancellationToken.None);
            }

            Assert.False(first, $"{c.Worker} claimed nothing");
        })));
        return claims;
    }

    [Fact]
    public async Task ClaimNextAsync_SixteenConcurrentClaimers_EveryItemClaimedExactlyOnce()
    {
        var ledger = await NewLedgerAsync(new FakeTimeProvider());
        await EnqueueAsync(ledger, 400);

        var claims = await DrainAsync(Enumerable.Range(1, 16).Select(i => ((ISyncLedger)ledger, "worker-" + i)).ToList());

        Assert.Equal(400, claims.Count);
        Assert.Equal(400, claims.Select(c => c.ProtocolId).Distinct().Count());
        Assert.Equal(16, claims.Select(c => c.Worker).Distinct().Count());
        var items = await ledger.ListAsync(null, CancellationToken.None);
        Assert.Equal(400, items.Count);
        Assert.All(items, item =>
        {
            Assert.Equal(WorkState.Confirmed, item.State);
            Assert.Equal(1, item.Attempts);
        });
    }

    [Fact]
    public async Task ClaimNextAsync_TwoLedgersOnOneDatabaseRacing_EveryItemClaimedExactlyOnceAndBothWork()
    {
        var time = new FakeTimeProvider();
        var database = await postgres.CreateDatabaseAsync();
        // two data sources (two connection pools), as two processes would have
        var first = await NewLedgerAsync(time, database);
        var second = await NewLedgerAsync(time, database);
        await EnqueueAsync(first, 300);

        var claimers = Enumerable.Range(1, 8)
            .SelectMany(i => new[] { ((ISyncLedger)first, "a-" + i), ((ISyncLedger)second, "b-" + i) })
            .ToList();
        var claims = await DrainAsync(claimers);

        Assert.Equal(300, claims.Count);
        Assert.Equal(300, claims.Select(c => c.ProtocolId).Distinct().Count());
        Assert.Equal(16, claims.Select(c => c.Worker).Distinct().Count());
        Assert.Contains(claims, c => c.Worker.StartsWith("a-", StringComparison.Ordinal));
        Assert.Contains(claims, c => c.Worker.StartsWith("b-", StringComparison.Ordinal));
        Assert.Equal(300, (await second.ListAsync(WorkState.Confirmed, CancellationToken.None)).Count);
        Assert.Empty(await first.ListAsync(WorkState.Queued, CancellationToken.None));
    }

    [Fact]
    public async Task ClaimAsync_SameProtocolFromTwoLedgersAtOnce_ExactlyOneGetsIt()
    {
        var time = new FakeTimeProvider();
        var database = await postgres.CreateDatabaseAsync();
        var first = await NewLedgerAsync(time, database);
        var second = await NewLedgerAsync(time, database);
        await EnqueueAsync(first, 50);

        // 50 protocols, each asked for by both ledgers at the same moment
        var results = await Task.WhenAll(Enumerable.Range(0, 50).SelectMany(i =>
        {
            var id = "p-" + i.ToString("D4", CultureInfo.InvariantCulture);
            return new[]
            {
                Task.Run(() => first.ClaimAsync(id, "a", Lease, CancellationToken.None)),
                Task.Run(() => second.ClaimAsync(id, "b", Lease, CancellationToken.None)),
            };
        }));

        var won = results.Where(r => r is not null).Select(r => r!.Item.ProtocolId).ToList();
        Assert.Equal(50, won.Count);
        Assert.Equal(50, won.Distinct().Count());
        Assert.Equal(50, (await first.ListAsync(WorkState.Claimed, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task InitializeAsync_EightProcessesStartingTogether_SchemaCreatedOnceWithoutError()
    {
        var database = await postgres.CreateDatabaseAsync();
        var ledgers = Enumerable.Range(0, 8).Select(_ => new PostgresSyncLedger(database, TimeProvider.System)).ToList();
        _ledgers.AddRange(ledgers);

        await Task.WhenAll(ledgers.Select(l => Task.Run(() => l.InitializeAsync(CancellationToken.None))));

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = 'public'", connection);
        Assert.Equal("trd_resource,trd_work_item", await command.ExecuteScalarAsync());
        Assert.True(await ledgers[7].IsReadyAsync(CancellationToken.None));
    }

    [Fact]
    public async Task RecoverAsync_OtherWorkersLeaseStillRunning_KeepsTheClaim()
    {
        var time = new FakeTimeProvider();
        var database = await postgres.CreateDatabaseAsync();
        var running = await NewLedgerAsync(time, database);
        var restarted = await NewLedgerAsync(time, database);
        await EnqueueAsync(running, 2);
        var live = await running.ClaimNextAsync("live", TimeSpan.FromMinutes(10), CancellationToken.None);
        var crashed = await running.ClaimNextAsync("crashed", TimeSpan.FromMinutes(1), CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(2));

        var recovered = await restarted.RecoverAsync(CancellationToken.None);

        Assert.Equal(1, recovered);
        var liveItem = await restarted.GetAsync(live!.Item.ProtocolId, CancellationToken.None);
        Assert.Equal((WorkState.Claimed, "live"), (liveItem!.State, liveItem.ClaimedBy));
        var crashedItem = await restarted.GetAsync(crashed!.Item.ProtocolId, CancellationToken.None);
        Assert.Equal((WorkState.Queued, (string?)null), (crashedItem!.State, crashedItem.ClaimedBy));
        Assert.Equal(time.GetUtcNow(), crashedItem.UpdatedAt);
    }

    [Fact]
    public async Task ClaimNextAsync_LeaseEndedInOtherProcess_SecondWorkerTakesOverAndFirstCannotComplete()
    {
        var time = new FakeTimeProvider();
        var database = await postgres.CreateDatabaseAsync();
        var first = await NewLedgerAsync(time, database);
        var second = await NewLedgerAsync(time, database);
        await EnqueueAsync(first, 1);
        var stale = await first.ClaimNextAsync("a", TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.Null(await second.ClaimNextAsync("b", Lease, CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(61));

        var taken = await second.ClaimNextAsync("b", Lease, CancellationToken.None);

        Assert.Equal(stale!.Item.Id, taken!.Item.Id);
        Assert.Equal(("b", 2), (taken.Item.ClaimedBy, taken.Item.Attempts));
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(
            () => first.CompleteAsync(stale.Item.Id, "a", WorkState.Confirmed, null, null, CancellationToken.None));
        Assert.Contains("not claimed by worker 'a'", ex.Message, StringComparison.Ordinal);
        await second.CompleteAsync(taken.Item.Id, "b", WorkState.Confirmed, null, null, CancellationToken.None);
        Assert.Equal(WorkState.Confirmed, (await first.GetAsync("p-0000", CancellationToken.None))!.State);
    }

    [Fact]
    public async Task Timestamps_ComeFromTheInjectedClock_NotTheDatabase()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 3, 4, 5, 6, 7, TimeSpan.Zero));
        var ledger = await NewLedgerAsync(time);

        var queued = await ledger.EnqueueAsync("p-1", "{}", "h1", CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(3));
        var claimed = await ledger.ClaimNextAsync("w", Lease, CancellationToken.None);
        await ledger.CompleteAsync(claimed!.Item.Id, "w", WorkState.Failed, "503 from server", time.GetUtcNow().AddMinutes(1), CancellationToken.None);

        Assert.Equal(new DateTimeOffset(2031, 3, 4, 5, 6, 7, TimeSpan.Zero), queued.Item.CreatedAt);
        var item = await ledger.GetAsync("p-1", CancellationToken.None);
        Assert.Equal(new DateTimeOffset(2031, 3, 4, 5, 9, 7, TimeSpan.Zero), item!.UpdatedAt);
        Assert.Equal(new DateTimeOffset(2031, 3, 4, 5, 10, 7, TimeSpan.Zero), item.NextAttemptAt);
        Assert.Null(await ledger.ClaimNextAsync("w", Lease, CancellationToken.None)); // not due yet on the fake clock
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("p-1", (await ledger.ClaimNextAsync("w", Lease, CancellationToken.None))!.Item.ProtocolId);
    }

    [Fact]
    public async Task Constructor_UrlWithPassword_ConnectsAndLocationHidesThePassword()
    {
        var database = await postgres.CreateDatabaseAsync();
        // trust authentication: the password is parsed and sent only if asked for, never shown
        var url = postgres.UrlFor(database).Replace("postgres@", "postgres:s3cr%40t@", StringComparison.Ordinal) + "?application_name=trd-test";
        var ledger = await NewLedgerAsync(new FakeTimeProvider(), url);

        Assert.Equal(postgres.UrlFor(database), ledger.Location);
        Assert.DoesNotContain("s3cr", ledger.Location, StringComparison.Ordinal);
        Assert.True(await ledger.IsReadyAsync(CancellationToken.None));
        Assert.Equal("s3cr@t", PostgresSyncLedger.ParseConnectionString(url).Password);
    }
}
