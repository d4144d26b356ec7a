using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.IntegrationTests.Sync;

namespace Trd.Fhir.IntegrationTests.Ledger;

/// <summary>
/// Two real <c>trd-fhir push --ledger postgres://…</c> processes share one PostgreSQL ledger and push the same 200 synthetic
/// protocols to the real test server at the same time: no resource lost, none duplicated, each pushed by exactly one of them,
/// and both did part of the work.
/// </summary>
public sealed class SharedLedgerTests(SharedLedgerTests.Server server, PostgresFixture postgres)
    : IClassFixture<SharedLedgerTests.Server>, IClassFixture<PostgresFixture>, IDisposable
{
    /// <summary>A test FHIR server of its own: the engine's searches scan its whole store, so other suites' data would slow
    /// every conditional create here.</summary>
    public sealed class Server : FhirServerFixture;

    private const int Protocols = 200;
    private readonly string _directory = Directory.CreateTempSubdirectory("trd-shared-ledger-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Push_TwoProcessesOnOnePostgresLedger_EveryResourceOnceEachPushedByOneWorkerBothWorked()
    {
        var cases = SyntheticProtocols.Generate(Protocols, seed: 42, tag: "shared-pg");
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction(cases));
        var documents = Path.Combine(_directory, "protocols");
        SyntheticProtocols.WriteDocuments(cases, documents);
        var expected = SyntheticProtocols.ExpectedIdentifiers(cases);
        var database = await postgres.CreateDatabaseAsync();
        await using var ledger = new PostgresSyncLedger(database, TimeProvider.System);
        await ledger.InitializeAsync(CancellationToken.None);

        // Start gate: the test holds an exclusive lock on the work table until both processes are waiting on the ledger, so
        // neither can enqueue or claim anything before the other has started (process start-up times differ by seconds here).
        await using var gate = new NpgsqlConnection(database);
        await gate.OpenAsync();
        var gateTransaction = await gate.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE trd_work_item IN ACCESS EXCLUSIVE MODE", gate, gateTransaction))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        // The processes may wait at the gate longer than Npgsql's default 30 s command timeout on a busy machine.
        var url = postgres.UrlFor(database) + "?Command%20Timeout=600";
        // One request per resource: the test engine's transactions and batches with conditional entries cost a linear scan
        // per entry inside the isolated transaction (seconds each once a few thousand resources are stored); this test is about
        // the ledger, and per-resource conditional creates are where a duplicate would show.
        string[] push = ["push", "--ledger", url, "--server", server.BaseUrl.ToString(), "--strategy", "individual", "--parallel", "2", documents];
        using var first = AdapterProcess.Start(push);
        using var second = AdapterProcess.Start(push);
        await WaitUntilBothWaitOnTheLedgerAsync(database, first, second);
        await gateTransaction.CommitAsync();
        await gateTransaction.DisposeAsync();
        var exits = await Task.WhenAll(first.WaitAsync(), second.WaitAsync());

        Assert.True(exits.All(e => e == 0), $"exit codes {exits[0]} and {exits[1]}\n--- first stderr:\n{first.Stderr}\n--- second stderr:\n{second.Stderr}");

        // The server: every expected resource, exactly once.
        var onServer = await SyntheticProtocols.OnServerAsync(server.CreateClient(), cases, SyntheticProtocols.ResourceTypes(cases));
        var duplicates = onServer.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => $"{g.Key.ResourceType} {g.Key.Identifier} ×{g.Count()}").ToList();
        Assert.Empty(duplicates);
        Assert.Empty(expected.Except(onServer));
        Assert.Equal(expected.Count, onServer.Count);

        // The ledger: every protocol confirmed after one claim; every resource row confirmed, tried once, by one of the two.
        var items = await ledger.ListAsync(null, CancellationToken.None);
        Assert.Equal(Protocols, items.Count);
        Assert.All(items, item => Assert.Equal((WorkState.Confirmed, 1), (item.State, item.Attempts)));
        var rows = await ledger.ResourcesAsync(null, CancellationToken.None);
        Assert.Equal(expected.Order(), rows.Select(r => (r.ResourceType, $"{r.IdentifierSystem}|{r.IdentifierValue}")).Order());
        Assert.All(rows, row => Assert.Equal((ResourceState.Confirmed, 1), (row.State, row.Attempts)));

        // Who did what: worker names are host:pid:instance — exactly our two processes, each with a share.
        var pids = new[] { first.Id, second.Id };
        var rowsByProcess = rows.GroupBy(r => Pid(r.PushedBy)).ToDictionary(g => g.Key, g => g.Count());
        var itemsByProcess = items.GroupBy(i => Pid(i.ClaimedBy)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(pids.Order(), rowsByProcess.Keys.Order());
        Assert.Equal(pids.Order(), itemsByProcess.Keys.Order());
        Assert.All(pids, pid => Assert.True(itemsByProcess[pid] > 0 && rowsByProcess[pid] > 0));
        Assert.Equal(Protocols, itemsByProcess.Values.Sum());
    }

    private static int Pid(string? worker)
    {
        var parts = (worker ?? "").Split(':');
        return parts.Length >= 3 && int.TryParse(parts[^2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? pid
            : throw new InvalidOperationException($"worker name '{worker}' is not host:pid:instance");
    }

    /// <summary>Until two sessions of the ledger's database wait for a lock (the gate's); fails when a process exits first.</summary>
    private static async Task WaitUntilBothWaitOnTheLedgerAsync(string database, AdapterProcess first, AdapterProcess second)
    {
        // its own connection, outside the gate's transaction: pg_stat_activity is a snapshot for the length of a transaction
        await using var watcher = new NpgsqlConnection(database);
        await watcher.OpenAsync();
        await using var waiting = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", watcher);
        var started = Stopwatch.StartNew();
        while ((long)(await waiting.ExecuteScalarAsync())! < 2)
        {
            foreach (var process in new[] { first, second })
            {
                if (process.HasExited)
                {
                    Assert.Fail($"trd-fhir exited with {await process.WaitAsync()} before it reached the ledger after {started.Elapsed} (waiting {await waiting.ExecuteScalarAsync()}):\n{process.Stderr}");
                }
            }

            // A guard against a hung start, not a performance limit: both processes normally wait on the ledger within seconds.
            Assert.True(started.Elapsed < TimeSpan.FromMinutes(3), $"the two processes did not reach the ledger:\n{first.Stderr}\n{second.Stderr}");
            await Task.Delay(50);
        }
    }
}

/// <summary>A real <c>trd-fhir</c> child process (<c>dotnet trd-fhir.dll</c> from the test output), its output captured.</summary>
internal sealed class AdapterProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private AdapterProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static AdapterProcess Start(IEnumerable<string> arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        startInfo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "trd-fhir.dll"));
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var adapter = new AdapterProcess(new Process { StartInfo = startInfo });
        adapter._process.OutputDataReceived += (_, e) => Append(adapter._stdout, e.Data);
        adapter._process.ErrorDataReceived += (_, e) => Append(adapter._stderr, e.Data);
        adapter._process.Start();
        adapter._process.BeginOutputReadLine();
        adapter._process.BeginErrorReadLine();
        return adapter;
    }

    public async Task<int> WaitAsync()
    {
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL (no clean-up runs, as a crash or an OOM kill) and waits until the process is gone.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (buffer)
        {
            if (buffer.Length < 256 * 1024)
            {
                buffer.AppendLine(line);
            }
        }
    }
}
