using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Sync.Ledger;

namespace Trd.Fhir.IntegrationTests.Ledger;

/// <summary>The embedded SQLite ledger: the contract, plus what only a file-based ledger has (file, permissions, reopen, spec).</summary>
public sealed class SqliteLedgerTests : LedgerContract
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "trd-ledger-tests", Path.GetRandomFileName());
    private int _files;

    protected override bool RecoverReleasesLiveClaims => true;

    protected override async Task<ISyncLedger> CreateLedgerAsync(FakeTimeProvider time)
    {
        var ledger = new SqliteSyncLedger(Path.Combine(_directory, $"ledger-{++_files}.db"), time);
        await ledger.InitializeAsync(CancellationToken.None);
        return ledger;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task InitializeAsync_NewFile_OwnerOnlyWalAndSchema()
    {
        var path = Path.Combine(_directory, "sub", "ledger.db");
        await using var ledger = new SqliteSyncLedger(path, new FakeTimeProvider(Start));

        await ledger.InitializeAsync(CancellationToken.None);

        Assert.Equal(path, ledger.Location);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode; ";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
        command.CommandText = "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name)";
        Assert.Equal("resource,work_item", (string?)await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Reopen_AfterDispose_SeesEverythingWritten()
    {
        var path = Path.Combine(_directory, "reopen.db");
        var time = new FakeTimeProvider(Start);
        await using (var first = new SqliteSyncLedger(path, time))
        {
            await first.InitializeAsync(CancellationToken.None);
            await first.EnqueueAsync("p1", "{}", "h", CancellationToken.None);
            var claim = await first.ClaimNextAsync("w1", Lease, CancellationToken.None);
            await first.RecordIntentAsync(claim!.Item.Id, "w1", [new ResourceIntent("Goal", "s", "p1/goal", "c1")], CancellationToken.None);
        }

        await using var second = new SqliteSyncLedger(path, time);
        await second.InitializeAsync(CancellationToken.None);

        Assert.Equal((WorkState.Claimed, "w1"), ((await second.GetAsync("p1", CancellationToken.None))!.State, (await second.GetAsync("p1", CancellationToken.None))!.ClaimedBy));
        Assert.Equal("p1/goal", Assert.Single(await second.ResourcesAsync("p1", CancellationToken.None)).IdentifierValue);
        Assert.Equal(1, await second.RecoverAsync(CancellationToken.None));
    }

    [Fact]
    public async Task TwoInstancesOnOneFile_ConcurrentClaimers_NeverShareAnItem()
    {
        var path = Path.Combine(_directory, "shared.db");
        var time = new FakeTimeProvider(Start);
        await using var a = new SqliteSyncLedger(path, time);
        await using var b = new SqliteSyncLedger(path, time);
        await Task.WhenAll(a.InitializeAsync(CancellationToken.None), b.InitializeAsync(CancellationToken.None));
        for (var i = 0; i < 40; i++)
            await a.EnqueueAsync($"p{i}", "{}", "h", CancellationToken.None);
        var claimed = new System.Collections.Concurrent.ConcurrentBag<string>();

        await Task.WhenAll(new[] { (ISyncLedger)a, b, a, b }.Select((ledger, n) => Task.Run(async () =>
        {
            while (await ledger.ClaimNextAsync($"w{n}", Lease, CancellationToken.None) is { } claim)
                claimed.Add(claim.Item.ProtocolId);
        })));

        Assert.Equal(40, claimed.Count);
        Assert.Equal(40, claimed.Distinct().Count());
    }

    [Theory]
    [InlineData("sqlite:ledger.db", "ledger.db")]
    [InlineData("state/ledger.sqlite", "state/ledger.sqlite")]
    public async Task Open_FileSpec_SqliteAtThatPath(string spec, string expectedRelative)
    {
        await using var ledger = SyncLedgers.Open(spec, TimeProvider.System);

        Assert.IsType<SqliteSyncLedger>(ledger);
        Assert.Equal(Path.GetFullPath(expectedRelative), ledger.Location);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("sqlite:")]
    public void Open_EmptySpec_ArgumentExceptionWithHint(string spec)
    {
        var ex = Assert.Throws<ArgumentException>(() => SyncLedgers.Open(spec, TimeProvider.System));

        Assert.Contains("sqlite:PATH", ex.Message, StringComparison.Ordinal);
    }
}
