using Npgsql;
using Trd.Fhir.Adapter.Sync.Ledger;

namespace Trd.Fhir.Adapter.Cohort;

/// <summary>A partition a worker holds: who (worker name) and which attempt, so only that holder can finish it.</summary>
public sealed record PartitionClaim(string Job, int Partition, int Partitions, string Worker, int Attempt);

/// <summary>One partition of a job as the ledger records it.</summary>
public sealed record PartitionRow(int Partition, int Partitions, string State, int Attempts, string? ClaimedBy, long? Patients);

/// <summary>
/// The cohort's share of the PostgreSQL ledger (the database <c>push --ledger</c> uses): one row per patient partition of a
/// job (an export read out with given options). Workers claim partitions with <c>SELECT … FOR UPDATE SKIP LOCKED</c>, so two
/// never hold the same one; a claim carries a lease (<c>lease_until</c>, renewed while the work runs) and a crashed
/// worker's partition becomes claimable again when its lease ends. A partition is finished only by the claim that holds
/// it (worker and attempt), with its read-out stored as JSON, so each partition counts exactly once. Timestamps come from
/// the injected clock.
/// </summary>
public sealed class CohortLedger : IAsyncDisposable
{
    // Any constant: serialises schema creation between processes that start together.
    private const long SchemaLockKey = 0x7472_6463_6f68_7274; // "trdcohrt"

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS trd_cohort_partition (
            job         text        NOT NULL,
            partition   integer     NOT NULL,
            partitions  integer     NOT NULL,
            state       text        NOT NULL CHECK (state IN ('pending', 'claimed', 'done')),
            attempts    integer     NOT NULL DEFAULT 0,
            claimed_by  text,
            lease_until timestamptz,
            patients    bigint,
            result      text,
            updated_at  timestamptz NOT NULL,
            PRIMARY KEY (job, partition)
        );
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _time;

    public CohortLedger(string connectionString, TimeProvider time)
    {
        _dataSource = NpgsqlDataSource.Create(PostgresSyncLedger.ParseConnectionString(connectionString));
        _time = time;
    }

    public const string Table = "trd_cohort_partition";

    private DateTimeOffset Now => _time.GetUtcNow().ToUniversalTime();

    public Task InitializeAsync(CancellationToken cancellationToken) =>
        PostgresDialect.CreateSchemaAsync(_dataSource, SchemaLockKey, Schema, cancellationToken);

    /// <summary>Creates the job's partitions unless another worker already did; returns the job's partition count (the first worker's).</summary>
    public async Task<int> JoinAsync(string job, int partitions, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // one joiner at a time per job: the first creates the partitions, the others find them
        await using (var lockJob = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext(@job))", connection, transaction))
        {
            lockJob.Parameters.AddWithValue("job", job);
            await lockJob.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO {Table} (job, partition, partitions, state, updated_at)
            SELECT @job, g, @n, 'pending', @now FROM generate_series(0, @n - 1) AS g
            WHERE NOT EXISTS (SELECT 1 FROM {Table} WHERE job = @job)
            ON CONFLICT DO NOTHING
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("job", job);
            insert.Parameters.AddWithValue("n", partitions);
            insert.Parameters.AddWithValue("now", Now);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var count = new NpgsqlCommand($"SELECT max(partitions) FROM {Table} WHERE job = @job", connection, transaction);
        count.Parameters.AddWithValue("job", job);
        var existing = (int)(await count.ExecuteScalarAsync(cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return existing;
    }

    /// <summary>The first pending partition (or one whose lease ran out), claimed for <paramref name="worker"/>; null when none is free.</summary>
    public async Task<PartitionClaim?> ClaimAsync(string job, string worker, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        // SKIP LOCKED: a partition another worker is claiming right now is passed over, not waited for.
        await using var command = new NpgsqlCommand($"""
            UPDATE {Table}
            SET state = 'claimed', claimed_by = @worker, lease_until = @until, attempts = attempts + 1, updated_at = @now
            WHERE job = @job AND partition = (
                SELECT partition FROM {Table}
                WHERE job = @job AND (state = 'pending' OR (state = 'claimed' AND lease_until <= @now))
                ORDER BY partition LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING partition, partitions, attempts
            """, connection);
        var now = Now;
        command.Parameters.AddWithValue("job", job);
        command.Parameters.AddWithValue("worker", worker);
        command.Parameters.AddWithValue("until", now + lease);
        command.Parameters.AddWithValue("now", now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new PartitionClaim(job, reader.GetInt32(0), reader.GetInt32(1), worker, reader.GetInt32(2))
            : null;
    }

    /// <summary>Pushes the lease of a partition still held by this claim further out; false when the claim was lost.</summary>
    public async Task<bool> RenewAsync(PartitionClaim claim, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            UPDATE {Table} SET lease_until = @until, updated_at = @now
            WHERE job = @job AND partition = @partition AND state = 'claimed' AND claimed_by = @worker AND attempts = @attempt
            """, connection);
        AddClaim(command, claim);
        command.Parameters.AddWithValue("until", Now + lease);
        command.Parameters.AddWithValue("now", Now);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Marks the partition done with its read-out, if this claim still holds it; false when another worker took it over.</summary>
    public async Task<bool> CompleteAsync(PartitionClaim claim, long patients, string result, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            UPDATE {Table} SET state = 'done', patients = @patients, result = @result, lease_until = NULL, updated_at = @now
            WHERE job = @job AND partition = @partition AND state = 'claimed' AND claimed_by = @worker AND attempts = @attempt
            """, connection);
        AddClaim(command, claim);
        command.Parameters.AddWithValue("patients", patients);
        command.Parameters.AddWithValue("result", result);
        command.Parameters.AddWithValue("now", Now);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>The job's partitions done, and in all.</summary>
    public async Task<(int Done, int Total)> ProgressAsync(string job, CancellationToken cancellationToken)
    {
        var rows = await ListAsync(job, cancellationToken);
        return (rows.Count(r => r.State == "done"), rows.Count);
    }

    /// <summary>The stored read-outs of the job's finished partitions, in partition order.</summary>
    public async Task<List<string>> ResultsAsync(string job, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"SELECT result FROM {Table} WHERE job = @job AND state = 'done' ORDER BY partition", connection);
        command.Parameters.AddWithValue("job", job);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var results = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
            results.Add(reader.GetString(0));
        return results;
    }

    public async Task<List<PartitionRow>> ListAsync(string job, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"SELECT partition, partitions, state, attempts, claimed_by, patients FROM {Table} WHERE job = @job ORDER BY partition", connection);
        command.Parameters.AddWithValue("job", job);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<PartitionRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new PartitionRow(reader.GetInt32(0), reader.GetInt32(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetInt64(5)));
        }
        return rows;
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static void AddClaim(NpgsqlCommand command, PartitionClaim claim)
    {
        command.Parameters.AddWithValue("job", claim.Job);
        command.Parameters.AddWithValue("partition", claim.Partition);
        command.Parameters.AddWithValue("worker", claim.Worker);
        command.Parameters.AddWithValue("attempt", claim.Attempt);
    }
}
