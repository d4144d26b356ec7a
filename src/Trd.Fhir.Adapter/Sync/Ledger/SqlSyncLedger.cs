using System.Data;
using System.Data.Common;

namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>
/// The sync ledger over SQL, written once: the queue of work items (one per protocol), claims with leases, the resource
/// rows (intent → sent → confirmed/failed/dead) and dead letters. What differs between SQLite and PostgreSQL (connections,
/// schema, how a claim avoids other workers, timestamps) is the <see cref="LedgerDialect"/>. Every timestamp comes from the
/// injected <see cref="TimeProvider"/>, never from the database's clock, so tests run on a fake clock.
/// </summary>
public class SqlSyncLedger : ISyncLedger
{
    private const string Columns = "id, protocol_id, document_hash, state, attempts, last_error, claimed_by, next_attempt_at, created_at, updated_at";

    // Due: queued; failed and its retry time has come; claimed by a worker whose lease has ended.
    private const string Due = "(state = 'queued' OR (state = 'failed' AND (next_attempt_at IS NULL OR next_attempt_at <= @now)) OR (state = 'claimed' AND lease_until <= @now))";

    private readonly LedgerDialect _dialect;
    private readonly TimeProvider _time;
    private readonly string _work;
    private readonly string _resource;

    public SqlSyncLedger(LedgerDialect dialect, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        ArgumentNullException.ThrowIfNull(time);
        _dialect = dialect;
        _time = time;
        _work = dialect.WorkTable;
        _resource = dialect.ResourceTable;
    }

    /// <inheritdoc />
    public string Location => _dialect.Location;

    /// <inheritdoc />
    public Task InitializeAsync(CancellationToken cancellationToken) => _dialect.InitializeAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _dialect.OpenAsync(cancellationToken);
            await using var command = Command(connection, null, $"SELECT count(*) FROM {_work} WHERE 1 = 0");
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        catch (Exception e) when (e is DbException or TimeoutException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async Task<EnqueueResult> EnqueueAsync(string protocolId, string document, string documentHash, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocolId);
        ArgumentNullException.ThrowIfNull(document);
        ArgumentException.ThrowIfNullOrEmpty(documentHash);
        await using (var connection = await _dialect.OpenAsync(cancellationToken))
        {
            // New: inserted. Changed document, or failed/dead: re-queued with the new document, attempts reset (the last error is
            // kept until the next attempt). Same document already confirmed, queued or claimed: untouched (no row returned).
            await using var command = Command(connection, null, $"""
                INSERT INTO {_work} (protocol_id, document, document_hash, state, attempts, created_at, updated_at)
                VALUES (@protocol_id, @document, @document_hash, 'queued', 0, @now, @now)
                ON CONFLICT (protocol_id) DO UPDATE
                SET document = excluded.document, document_hash = excluded.document_hash, state = 'queued', attempts = 0,
                    claimed_by = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = excluded.updated_at
                WHERE {_work}.document_hash <> excluded.document_hash OR {_work}.state IN ('failed', 'dead')
                RETURNING {Columns}
                """);
            Text(command, "protocol_id", protocolId);
            Text(command, "document", document);
            Text(command, "document_hash", documentHash);
            Time(command, "now", Now());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
                return new EnqueueResult(ReadWorkItem(reader), Queued: true);
        }
        var existing = await GetAsync(protocolId, cancellationToken)
            ?? throw new InvalidOperationException($"Work item for protocol '{protocolId}' vanished while it was being queued.");
        return new EnqueueResult(existing, Queued: false);
    }

    /// <inheritdoc />
    public Task<ClaimedWork?> ClaimNextAsync(string worker, TimeSpan lease, CancellationToken cancellationToken) =>
        ClaimCoreAsync(null, worker, lease, cancellationToken);

    /// <inheritdoc />
    public Task<ClaimedWork?> ClaimAsync(string protocolId, string worker, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(protocolId);
        return ClaimCoreAsync(protocolId, worker, lease, cancellationToken);
    }

    private async Task<ClaimedWork?> ClaimCoreAsync(string? protocolId, string worker, TimeSpan lease, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(worker);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lease, TimeSpan.Zero);
        var now = Now();
        await using var connection = await _dialect.OpenAsync(cancellationToken);
        await using var transaction = await _dialect.BeginWriteAsync(connection, cancellationToken);
        ClaimedWork? claimed = null;
        await using (var command = Command(connection, transaction, _dialect.ClaimSql(Due, Columns)))
        {
            Time(command, "now", now);
            Time(command, "lease_until", now + lease);
            Text(command, "worker", worker);
            Text(command, "protocol_id", protocolId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
                claimed = new ClaimedWork(ReadWorkItem(reader), reader.GetString(10));
        }
        await transaction.CommitAsync(cancellationToken);
        return claimed;
    }

    /// <inheritdoc />
    public async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dialect.OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            $"UPDATE {_work} SET state = 'queued', claimed_by = NULL, lease_until = NULL, updated_at = @now WHERE {_dialect.RecoverableClaims}");
        Time(command, "now", Now());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public Task RecordIntentAsync(long workId, string worker, IReadOnlyList<ResourceIntent> resources, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(worker);
        ArgumentNullException.ThrowIfNull(resources);
        // A resource already confirmed with the same content is left alone.
        return ForEachAsync(workId, resources, $"""
            INSERT INTO {_resource} (work_id, resource_type, identifier_system, identifier_value, content_hash, state, attempts, pushed_by, updated_at)
            VALUES (@work_id, @type, @system, @value, @hash, 'pending', 1, @worker, @now)
            ON CONFLICT (work_id, identifier_system, identifier_value) DO UPDATE
            SET resource_type = excluded.resource_type, content_hash = excluded.content_hash, state = 'pending',
                attempts = {_resource}.attempts + 1, pushed_by = excluded.pushed_by, updated_at = excluded.updated_at
            WHERE NOT ({_resource}.state = 'confirmed' AND {_resource}.content_hash = excluded.content_hash)
            """,
            command => Text(command, "worker", worker),
            (command, resource) =>
            {
                Text(command, "type", resource.ResourceType);
                Text(command, "system", resource.IdentifierSystem);
                Text(command, "value", resource.IdentifierValue);
                Text(command, "hash", resource.ContentHash);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task RecordSentAsync(long workId, IReadOnlyList<(string IdentifierSystem, string IdentifierValue)> resources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resources);
        return ForEachAsync(workId, resources,
            $"UPDATE {_resource} SET state = 'sent', updated_at = @now WHERE work_id = @work_id AND identifier_system = @system AND identifier_value = @value",
            _ => { },
            (command, resource) =>
            {
                Text(command, "system", resource.IdentifierSystem);
                Text(command, "value", resource.IdentifierValue);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task RecordOutcomesAsync(long workId, IReadOnlyList<ResourceOutcome> outcomes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        return ForEachAsync(workId, outcomes, $"""
            UPDATE {_resource}
            SET state = @state, server_id = COALESCE(@server_id, server_id), server_version = COALESCE(@server_version, server_version),
                last_error = @error, updated_at = @now
            WHERE work_id = @work_id AND identifier_system = @system AND identifier_value = @value
            """,
            _ => { },
            (command, outcome) =>
            {
                Text(command, "system", outcome.IdentifierSystem);
                Text(command, "value", outcome.IdentifierValue);
                Text(command, "state", LedgerRows.Name(outcome.State));
                Text(command, "server_id", outcome.ServerId);
                Text(command, "server_version", outcome.ServerVersion);
                Text(command, "error", outcome.Error);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async Task CompleteAsync(long workId, string worker, WorkState state, string? error, DateTimeOffset? retryAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(worker);
        if (state is not (WorkState.Confirmed or WorkState.Failed or WorkState.Dead))
            throw new ArgumentOutOfRangeException(nameof(state), state, "A claim ends Confirmed, Failed or Dead.");
        await using var connection = await _dialect.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            UPDATE {_work}
            SET state = @state, last_error = @error, next_attempt_at = @retry_at, lease_until = NULL, updated_at = @now
            WHERE id = @id AND state = 'claimed' AND claimed_by = @worker
            """);
        Add(command, "id", workId, DbType.Int64);
        Text(command, "worker", worker);
        Text(command, "state", LedgerRows.Name(state));
        Text(command, "error", error);
        Time(command, "retry_at", state == WorkState.Failed ? retryAt : null);
        Time(command, "now", Now());
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            throw new InvalidOperationException($"Work item {workId} is not claimed by worker '{worker}' (its lease ended and it was re-queued or claimed by another worker).");
    }

    /// <inheritdoc />
    public async Task<WorkItem?> GetAsync(string protocolId, CancellationToken cancellationToken)
    {
        await using var connection = await _dialect.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {Columns} FROM {_work} WHERE protocol_id = @protocol_id");
        Text(command, "protocol_id", protocolId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadWorkItem(reader) : null;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkItem>> ListAsync(WorkState? state, CancellationToken cancellationToken)
    {
        await using var connection = await _dialect.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {Columns} FROM {_work} WHERE (CAST(@state AS TEXT) IS NULL OR state = @state) ORDER BY created_at, id");
        Text(command, "state", state is { } s ? LedgerRows.Name(s) : null);
        var items = new List<WorkItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            items.Add(ReadWorkItem(reader));
        return items;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerResource>> ResourcesAsync(string? protocolId, CancellationToken cancellationToken)
    {
        await using var connection = await _dialect.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"""
            SELECT w.protocol_id, r.resource_type, r.identifier_system, r.identifier_value, r.content_hash, r.state,
                   r.server_id, r.server_version, r.attempts, r.last_error, r.pushed_by, r.updated_at
            FROM {_resource} r JOIN {_work} w ON w.id = r.work_id
            WHERE (CAST(@protocol_id AS TEXT) IS NULL OR w.protocol_id = @protocol_id)
            ORDER BY w.protocol_id, r.resource_type, r.identifier_system, r.identifier_value
            """);
        Text(command, "protocol_id", protocolId);
        var rows = new List<LedgerResource>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(LedgerRows.ReadResource(reader, _dialect.ReadTime));
        return rows;
    }

    /// <inheritdoc />
    public async Task<int> RetryDeadAsync(IReadOnlyCollection<string>? protocolIds, CancellationToken cancellationToken)
    {
        const string retry = "SET state = 'queued', attempts = 0, claimed_by = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = @now WHERE state = 'dead'";
        await using var connection = await _dialect.OpenAsync(cancellationToken);
        await using var transaction = await _dialect.BeginWriteAsync(connection, cancellationToken);
        await using var command = Command(connection, transaction, $"UPDATE {_work} {retry}{(protocolIds is null ? "" : " AND protocol_id = @protocol_id")}");
        Time(command, "now", Now());
        var count = 0;
        if (protocolIds is null)
            count = await command.ExecuteNonQueryAsync(cancellationToken);
        else
        {
            var id = Text(command, "protocol_id", null);
            foreach (var protocolId in protocolIds.Distinct(StringComparer.Ordinal))
            {
                id.Value = protocolId;
                count += await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return count;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _dialect.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    // ---- plumbing ----

    /// <summary>One statement per row, all in one write transaction (nothing to do for no rows).</summary>
    private async Task ForEachAsync<T>(long workId, IReadOnlyList<T> rows, string sql, Action<DbCommand> shared, Action<DbCommand, T> bind, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
            return;
        await using var connection = await _dialect.OpenAsync(cancellationToken);
        await using var transaction = await _dialect.BeginWriteAsync(connection, cancellationToken);
        await using var command = Command(connection, transaction, sql);
        Add(command, "work_id", workId, DbType.Int64);
        Time(command, "now", Now());
        shared(command);
        foreach (var row in rows)
        {
            bind(command, row);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.CommandTimeout = 30;
        return command;
    }

    /// <summary>Sets the named parameter, adding it on first use (so a command can be re-run with new values).</summary>
    private static DbParameter Add(DbCommand command, string name, object? value, DbType type)
    {
        var parameter = command.Parameters.Contains(name) ? command.Parameters[name] : null;
        if (parameter is null)
        {
            parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.DbType = type;
            command.Parameters.Add(parameter);
        }
        parameter.Value = value ?? DBNull.Value;
        return parameter;
    }

    private static DbParameter Text(DbCommand command, string name, string? value) => Add(command, name, value, DbType.String);

    private void Time(DbCommand command, string name, DateTimeOffset? value) =>
        Add(command, name, value is { } at ? _dialect.Time(at) : null, _dialect.TimeType);

    private DateTimeOffset Now() => _time.GetUtcNow();

    private WorkItem ReadWorkItem(DbDataReader reader) => LedgerRows.ReadWorkItem(reader, _dialect.ReadTime);
}
