using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Trd.Fhir.Adapter.Cohort;

/// <summary>
/// One cohort read-out shared by N identical worker processes (on one host or many) through the PostgreSQL ledger: each
/// worker joins the job (the first creates its patient partitions), claims partitions one at a time
/// (<see cref="CohortLedger"/>, SKIP LOCKED), reads out only that partition's patients (<see cref="CohortWorkflow"/> with a
/// <see cref="CohortPartition"/>), stores the partial read-out in the ledger, and when no partition is left waits for the
/// others to finish theirs (taking over any whose lease ran out). Then every worker merges the stored partials into the
/// same whole read-out.
/// </summary>
public sealed class SharedCohort(CohortLedger ledger, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new();

    /// <summary>How long a claim holds without renewal (renewed every third of it while the partition is read out).</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>This worker in the ledger: <c>host:pid</c>.</summary>
    public string Worker { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";

    public Action<string>? Progress { get; init; }

    public async Task<CohortResult> RunAsync(CohortWorkflow workflow, string directory, string? protocolsDirectory, string job, int partitions,
        DateOnly asOf, int staleDays, CancellationToken cancellationToken)
    {
        await ledger.InitializeAsync(cancellationToken);
        var count = await ledger.JoinAsync(job, partitions, cancellationToken);
        Progress?.Invoke($"job {job}: {count} partitions; worker {Worker}");
        var mine = 0;
        while (true)
        {
            var claim = await ledger.ClaimAsync(job, Worker, Lease, cancellationToken);
            if (claim is null)
            {
                var (done, total) = await ledger.ProgressAsync(job, cancellationToken);
                if (done == total)
                    break;
                await Task.Delay(PollInterval, time, cancellationToken);
                continue;
            }
            var partition = new CohortPartition(claim.Partition, claim.Partitions);
            Progress?.Invoke($"partition {partition} claimed{(claim.Attempt > 1 ? $" (attempt {claim.Attempt}: its previous worker's lease ran out)" : "")}");
            var result = await ReadOutAsync(workflow, directory, protocolsDirectory, claim, partition, cancellationToken);
            if (await ledger.CompleteAsync(claim, result.Tally.Patients, JsonSerializer.Serialize(result, Json), cancellationToken))
            {
                mine++;
                Progress?.Invoke($"partition {partition} done: {result.Tally.Patients:N0} patients");
            }
            else
            {
                Progress?.Invoke($"partition {partition}: another worker took it over (the lease ran out); its read-out counts, not this one");
            }
        }
        var parts = (await ledger.ResultsAsync(job, cancellationToken)).Select(r => JsonSerializer.Deserialize<CohortResult>(r, Json)!).ToList();
        Progress?.Invoke($"job {job}: all {parts.Count} partitions done ({mine} by this worker); merged");
        return CohortWorkflow.Merge(asOf, staleDays, parts);
    }

    /// <summary>Reads out one partition while a heartbeat renews its lease.</summary>
    private async Task<CohortResult> ReadOutAsync(CohortWorkflow workflow, string directory, string? protocolsDirectory, PartitionClaim claim, CohortPartition partition, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var heartbeat = HeartbeatAsync(claim, stop.Token);
        try
        {
            return await Task.Run(() => workflow.Run(directory, protocolsDirectory, partition), cancellationToken);
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await heartbeat;
            }
            catch (OperationCanceledException)
            {
                // stopped with the work
            }
        }
    }

    private async Task HeartbeatAsync(PartitionClaim claim, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Lease / 3, time);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            if (!await ledger.RenewAsync(claim, Lease, cancellationToken))
                return;
        }
    }

    /// <summary>
    /// The job a directory and the read-out options make: the same export (its NDJSON file names and sizes) read out with
    /// the same options gives the same key on every host, wherever the directory is mounted.
    /// </summary>
    public static string JobKey(string directory, params string[] options)
    {
        var text = new StringBuilder();
        foreach (var file in Directory.GetFiles(directory, "*.ndjson").Order(StringComparer.Ordinal))
            text.Append(Path.GetFileName(file)).Append(':').Append(new FileInfo(file).Length.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var option in options)
            text.Append(option).Append('\n');
        return "cohort-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }
}
