using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Trd.Fhir.Adapter.Cohort;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.IntegrationTests.Ledger;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Bulk;

/// <summary>
/// One cohort read-out shared by several workers through the PostgreSQL ledger (issue 15 item 3): patient partitions that
/// add up to the whole, claims with SKIP LOCKED and leases, and two real <c>trd-fhir cohort --ledger</c> processes that
/// each read out part of one export and both write the same merged read-out, equal to the generator's truth.
/// </summary>
[Collection(PostgresFixture.CollectionName)]
public sealed class SharedCohortTests(PostgresFixture postgres) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-shared-cohort-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Json(CohortResult r) => JsonSerializer.Serialize(r.Tally.ToJson(r.Resources, r.Skipped, r.InvalidResources));

    [Fact]
    public void Run_ThreePartitionsMerged_TheSameReadOutAsOneRunWithLinesOfNoPatientCountedOnce()
    {
        var input = Path.Combine(_dir, "population");
        PopulationGenerator.WriteBulk(input, 150, seed: 12, tag: "parts", linesPerFile: 400);
        File.WriteAllLines(Path.Combine(input, "Medication-1.ndjson"), [FhirJson.Serialize(new Medication { Id = "m1" }, pretty: false), "{not json"]);
        var workflow = new CohortWorkflow(new FhirToProtocol(new Identity(Identity.DefaultBase)), TimeProvider.System)
        {
            Clinical = new Adapter.Clinical.ClinicalOptions { AsOf = new DateOnly(2026, 12, 1) },
        };

        var whole = workflow.Run(input, null);
        var parts = Enumerable.Range(0, 3).Select(i => workflow.Run(input, null, new CohortPartition(i, 3))).ToList();
        var merged = CohortWorkflow.Merge(new DateOnly(2026, 12, 1), 90, parts);

        Assert.Equal(Json(whole), Json(merged));
        Assert.Equal(150, merged.Tally.Patients);
        Assert.All(parts, p => Assert.InRange(p.Tally.Patients, 1, 149)); // each partition holds some, none all
        Assert.Equal(new Dictionary<string, long> { ["Medication not tied to a patient"] = 1, ["not valid JSON"] = 1 }, merged.Skipped);
        Assert.Equal(parts[0].Skipped, merged.Skipped); // counted by partition 0 only
        Assert.Equal(whole.Resources, merged.Resources);
    }

    [Fact]
    public async Task Ledger_ClaimsSkipWhatIsHeldALeaseThatRunsOutIsTakenOverAndOnlyTheNewHolderCanFinish()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero));
        await using var ledger = new CohortLedger(await postgres.CreateDatabaseAsync(), clock);
        await ledger.InitializeAsync(CancellationToken.None);
        var lease = TimeSpan.FromMinutes(10);

        Assert.Equal(2, await ledger.JoinAsync("job", 2, CancellationToken.None));
        Assert.Equal(2, await ledger.JoinAsync("job", 5, CancellationToken.None)); // the first worker's count stands
        var a = await ledger.ClaimAsync("job", "host-a:1", lease, CancellationToken.None);
        var b = await ledger.ClaimAsync("job", "host-b:2", lease, CancellationToken.None);
        Assert.Equal((0, 1), (a!.Partition, a.Attempt));
        Assert.Equal((1, 1), (b!.Partition, b.Attempt));
        Assert.Null(await ledger.ClaimAsync("job", "host-c:3", lease, CancellationToken.None)); // both held
        Assert.True(await ledger.CompleteAsync(b, 40, "{}", CancellationToken.None));

        clock.Advance(lease + TimeSpan.FromSeconds(1)); // host-a went silent
        var c = await ledger.ClaimAsync("job", "host-c:3", lease, CancellationToken.None);

        Assert.Equal((0, 2), (c!.Partition, c.Attempt));
        Assert.False(await ledger.RenewAsync(a, lease, CancellationToken.None));
        Assert.False(await ledger.CompleteAsync(a, 99, "{\"late\":true}", CancellationToken.None)); // host-a's late result does not count
        Assert.True(await ledger.CompleteAsync(c, 60, "{}", CancellationToken.None));
        Assert.Equal(
            [new PartitionRow(0, 2, "done", 2, "host-c:3", 60), new PartitionRow(1, 2, "done", 1, "host-b:2", 40)],
            await ledger.ListAsync("job", CancellationToken.None));
        Assert.Equal((2, 2), await ledger.ProgressAsync("job", CancellationToken.None));
        Assert.Null(await ledger.ClaimAsync("job", "host-d:4", lease, CancellationToken.None));
    }

    [Fact]
    public async Task Cohort_TwoProcessesOnOnePostgresLedger_EveryPartitionReadOutOnceBothWorkedBothWriteTheTruth()
    {
        const int Patients = 400, Partitions = 6;
        var input = Path.Combine(_dir, "export");
        var truth = PopulationGenerator.WriteBulk(input, Patients, seed: 13, tag: "shared", linesPerFile: 900);
        var database = await postgres.CreateDatabaseAsync();
        await using var ledger = new CohortLedger(database, TimeProvider.System);
        await ledger.InitializeAsync(CancellationToken.None);

        // Start gate: the test holds an exclusive lock on the partition table until both processes wait on the ledger, so
        // neither can create or claim a partition before the other has started (start-up times differ by seconds here).
        await using var gate = new NpgsqlConnection(database);
        await gate.OpenAsync();
        var gateTransaction = await gate.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand($"LOCK TABLE {CohortLedger.Table} IN ACCESS EXCLUSIVE MODE", gate, gateTransaction))
            await lockTable.ExecuteNonQueryAsync();

        var url = postgres.UrlFor(database) + "?Command%20Timeout=600";
        var protocols = Path.Combine(_dir, "protocols");
        string[] Worker(string output) => ["cohort", input, "--ledger", url, "--partitions", Partitions.ToString(CultureInfo.InvariantCulture), "--format", "json",
            "--as-of", "2026-12-01", "-o", Path.Combine(_dir, output), "--protocols", protocols];
        using var first = AdapterProcess.Start(Worker("first.json"));
        using var second = AdapterProcess.Start(Worker("second.json"));
        await WaitUntilBothWaitOnTheLedgerAsync(database, first, second);
        await gateTransaction.CommitAsync();
        await gateTransaction.DisposeAsync();
        var exits = await Task.WhenAll(first.WaitAsync(), second.WaitAsync());

        Assert.True(exits.All(e => e == 0), $"exit codes {exits[0]} and {exits[1]}\n--- first:\n{first.Stderr}\n--- second:\n{second.Stderr}");
        // both wrote the whole read-out, the same, and it is the truth
        var readOut = await File.ReadAllTextAsync(Path.Combine(_dir, "first.json"));
        Assert.Equal(readOut, await File.ReadAllTextAsync(Path.Combine(_dir, "second.json")));
        using (var json = JsonDocument.Parse(readOut))
            CohortTests.AssertMatches(truth, json.RootElement);
        Assert.Equal(Patients, Directory.GetFiles(protocols, "*.json").Length);

        // one job (both derived the same key), every partition done after one claim, the patients adding up exactly
        var job = SharedCohort.JobKey(input, "2026-12-01", "90", Identity.DefaultBase, "");
        var rows = await ledger.ListAsync(job, CancellationToken.None);
        await using (var all = new NpgsqlCommand($"SELECT count(*) FROM {CohortLedger.Table}", gate))
            Assert.Equal((long)Partitions, (long)(await all.ExecuteScalarAsync())!);
        Assert.Equal(Enumerable.Range(0, Partitions), rows.Select(r => r.Partition));
        Assert.All(rows, r => Assert.Equal(("done", 1), (r.State, r.Attempts)));
        Assert.Equal(Patients, rows.Sum(r => r.Patients));
        Assert.All(rows, r => Assert.Equal(PatientsIn(input, r.Partition, Partitions), r.Patients));
        // who did what: exactly our two processes, each with a share
        var byProcess = rows.GroupBy(r => int.Parse(r.ClaimedBy!.Split(':')[^1], CultureInfo.InvariantCulture)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new[] { first.Id, second.Id }.Order(), byProcess.Keys.Order());
        Assert.All(byProcess.Values, n => Assert.InRange(n, 1, Partitions - 1));
        Assert.Contains($"all {Partitions} partitions done", first.Stderr);
    }

    /// <summary>The patients of a partition, counted from the Patient files (independently of the workers).</summary>
    private static long PatientsIn(string input, int partition, int partitions) =>
        Directory.GetFiles(input, "Patient-*.ndjson").SelectMany(File.ReadLines)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()!)
            .LongCount(id => CohortPartition.Of(id, partitions) == partition);

    /// <summary>Until two sessions of the database wait for a lock (the gate's); fails when a process exits first.</summary>
    private static async Task WaitUntilBothWaitOnTheLedgerAsync(string database, AdapterProcess first, AdapterProcess second)
    {
        await using var watcher = new NpgsqlConnection(database);
        await watcher.OpenAsync();
        await using var waiting = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", watcher);
        var started = Stopwatch.StartNew();
        while ((long)(await waiting.ExecuteScalarAsync())! < 2)
        {
            foreach (var process in new[] { first, second })
            {
                if (process.HasExited)
                    Assert.Fail($"trd-fhir exited with {await process.WaitAsync()} before it reached the ledger:\n{process.Stderr}");
            }
            // A guard against a hung start, not a performance limit.
            Assert.True(started.Elapsed < TimeSpan.FromMinutes(3), $"the two processes did not reach the ledger:\n{first.Stderr}\n{second.Stderr}");
            await Task.Delay(50);
        }
    }
}
