using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>
/// The embedded ledger: one SQLite file (plus its <c>-wal</c>/<c>-shm</c> companions), owned by one adapter process. WAL
/// journal (readers never block the writer), a busy timeout for the short write locks, claims inside <c>BEGIN IMMEDIATE</c>
/// so two workers of the process never claim the same item. A new file is created readable by its owner only (0600): it holds
/// protocol documents, i.e. patient data at rest (docs/ledger.md). Timestamps come from the injected <see cref="TimeProvider"/>
/// and are stored as fixed-width UTC ISO-8601 text (readable with the sqlite3 shell, ordered as text).
/// </summary>
public sealed class SqliteSyncLedger : ISyncLedger
{
    private const int BusyTimeoutSeconds = 30;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS work_item (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            protocol_id     TEXT    NOT NULL UNIQUE,
            document        TEXT    NOT NULL,
            document_hash   TEXT    NOT NULL,
            state           TEXT    NOT NULL CHECK (state IN ('queued', 'claimed', 'confirmed', 'failed', 'dead')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            last_error      TEXT,
            claimed_by      TEXT,
            lease_until     TEXT,
            next_attempt_at TEXT,
            created_at      TEXT    NOT NULL,
            updated_at      TEXT    NOT NULL
        );
        CREATE INDEX IF NOT EXISTS work_item_due ON work_item (state, id);
        CREATE TABLE IF NOT EXISTS resource (
            work_id           INTEGER NOT NULL REFERENCES work_item (id) ON DELETE CASCADE,
            resource_type     TEXT    NOT NULL,
            identifier_system TEXT    NOT NULL,
            identifier_value  TEXT    NOT NULL,
            content_hash      TEXT    NOT NULL,
            state             TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'confirmed', 'failed', 'dead')),
            server_id         TEXT,
            server_version    TEXT,
            attempts          INTEGER NOT NULL DEFAULT 0,
            last_error        TEXT,
            pushed_by         TEXT,
            updated_at        TEXT    NOT NULL,
            PRIMARY KEY (work_id, identifier_system, identifier_value)
        );
        PRAGMA user_version = 1;
        """;

    private const string WorkColumns = "id, protocol_id, document_hash, state, attempts, last_error, claimed_by, next_attempt_at, created_at, updated_at";

    // Due: queued; failed and its retry time has come; claimed by a worker whose lease has ended.
    private const string Due = "(state = 'queued' OR (state = 'failed' AND (next_attempt_at IS NULL OR next_attempt_at <= $now)) OR (state = 'claimed' AND lease_until <= $now))";

    private readonly string _connectionString;
    private readonly TimeProvider _time;

    public SqliteSyncLedger(string path, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(time);
        Location = Path.GetFullPath(path);
        _time = time;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Location,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = BusyTimeoutSeconds,
        }.ToString();
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Location);
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);
        if (!File.Exists(Location))
        {
            // Created owner-only before SQLite opens it; SQLite gives the -wal/-shm files the same permissions.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            try
            {
                await using (new FileStream(Location, options)) { }
            }
            catch (IOException) when (File.Exists(Location))
            {
                // another process created it at the same moment
            }
        }

        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE
        await ExecuteAsync(connection, transaction, Schema, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var command = Command(connection, null, "SELECT count(*) FROM work_item WHERE 0");
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        catch (SqliteException)
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
        var now = Now();
        await using var connection = await OpenAsync(cancellationToken);
        // New: inserted. Changed document, or failed/dead: re-queued with the new document, attempts reset (the last error is
        // kept until the next attempt). Same document already confirmed, queued or claimed: untouched (no row returned).
        await using (var command = Command(connection, null, $"""
            INSERT INTO work_item (protocol_id, document, document_hash, state, attempts, created_at, updated_at)
            VALUES ($protocol_id, $document, $document_hash, 'queued', 0, $now, $now)
            ON CONFLICT (protocol_id) DO UPDATE
            SET document = excluded.document, document_hash = excluded.document_hash, state = 'queued', attempts = 0,
                claimed_by = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = excluded.updated_at
            WHERE work_item.document_hash <> excluded.document_hash OR work_item.state IN ('failed', 'dead')
            RETURNING {WorkColumns}
            """))
        {
            command.Parameters.AddWithValue("$protocol_id", protocolId);
            command.Parameters.AddWithValue("$document", document);
            command.Parameters.AddWithValue("$document_hash", documentHash);
            command.Parameters.AddWithValue("$now", now);
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
        var now = _time.GetUtcNow();
        await using var connection = await OpenAsync(cancellationToken);
        // BEGIN IMMEDIATE: the write lock is taken before the item is chosen, so no other connection can choose it too.
        await using var transaction = connection.BeginTransaction(deferred: false);
        ClaimedWork? claimed = null;
        await using (var command = Command(connection, transaction, $"""
            UPDATE work_item
            SET state = 'claimed', claimed_by = $worker, lease_until = $lease_until, attempts = attempts + 1, updated_at = $now
            WHERE id = (SELECT id FROM work_item WHERE {Due} AND ($protocol_id IS NULL OR protocol_id = $protocol_id) ORDER BY id LIMIT 1)
            RETURNING {WorkColumns}, document
            """))
        {
            command.Parameters.AddWithValue("$now", Text(now));
            command.Parameters.AddWithValue("$lease_until", Text(now + lease));
            command.Parameters.AddWithValue("$worker", worker);
            command.Parameters.AddWithValue("$protocol_id", (object?)protocolId ?? DBNull.Value);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
                claimed = new ClaimedWork(ReadWorkItem(reader), reader.GetString(10));
        }
        await transaction.CommitAsync(cancellationToken);
        return claimed;
    }

    /// <inheritdoc />
    /// <remarks>One process owns the file: every claim found at start was left by a crashed (or killed) run.</remarks>
    public async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "UPDATE work_item SET state = 'queued', lease_until = NULL, claimed_by = NULL, updated_at = $now WHERE state = 'claimed'");
        command.Parameters.AddWithValue("$now", Now());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task RecordIntentAsync(long workId, string worker, IReadOnlyList<ResourceIntent> resources, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(worker);
        ArgumentNullException.ThrowIfNull(resources);
        if (resources.Count == 0)
            return;
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE
        await using var command = Command(connection, transaction, """
            INSERT INTO resource (work_id, resource_type, identifier_system, identifier_value, content_hash, state, attempts, pushed_by, updated_at)
            VALUES ($work_id, $type, $system, $value, $hash, 'pending', 1, $worker, $now)
            ON CONFLICT (work_id, identifier_system, identifier_value) DO UPDATE
            SET resource_type = excluded.resource_type, content_hash = excluded.content_hash, state = 'pending',
                attempts = resource.attempts + 1, pushed_by = excluded.pushed_by, updated_at = excluded.updated_at
            WHERE NOT (resource.state = 'confirmed' AND resource.content_hash = excluded.content_hash)
            """);
        command.Parameters.AddWithValue("$work_id", workId);
        command.Parameters.AddWithValue("$worker", worker);
        command.Parameters.AddWithValue("$now", Now());
        var type = command.Parameters.Add("$type", SqliteType.Text);
        var system = command.Parameters.Add("$system", SqliteType.Text);
        var value = command.Parameters.Add("$value", SqliteType.Text);
        var hash = command.Parameters.Add("$hash", SqliteType.Text);
        foreach (var resource in resources)
        {
            type.Value = resource.ResourceType;
            system.Value = resource.IdentifierSystem;
            value.Value = resource.IdentifierValue;
            hash.Value = resource.ContentHash;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task RecordSentAsync(long workId, IReadOnlyList<(string IdentifierSystem, string IdentifierValue)> resources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resources);
        if (resources.Count == 0)
            return;
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE
        await using var command = Command(connection, transaction, "UPDATE resource SET state = 'sent', updated_at = $now WHERE work_id = $work_id AND identifier_system = $system AND identifier_value = $value");
        command.Parameters.AddWithValue("$work_id", workId);
        command.Parameters.AddWithValue("$now", Now());
        var system = command.Parameters.Add("$system", SqliteType.Text);
        var value = command.Parameters.Add("$value", SqliteType.Text);
        foreach (var (s, v) in resources)
        {
            system.Value = s;
            value.Value = v;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task RecordOutcomesAsync(long workId, IReadOnlyList<ResourceOutcome> outcomes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        if (outcomes.Count == 0)
            return;
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE
        await using var command = Command(connection, transaction, """
            UPDATE resource
            SET state = $state, server_id = COALESCE($server_id, server_id), server_version = COALESCE($server_version, server_version),
                last_error = $error, updated_at = $now
            WHERE work_id = $work_id AND identifier_system = $system AND identifier_value = $value
            """);
        command.Parameters.AddWithValue("$work_id", workId);
        command.Parameters.AddWithValue("$now", Now());
        var system = command.Parameters.Add("$system", SqliteType.Text);
        var value = command.Parameters.Add("$value", SqliteType.Text);
        var state = command.Parameters.Add("$state", SqliteType.Text);
        var serverId = command.Parameters.Add("$server_id", SqliteType.Text);
        var serverVersion = command.Parameters.Add("$server_version", SqliteType.Text);
        var error = command.Parameters.Add("$error", SqliteType.Text);
        foreach (var outcome in outcomes)
        {
            system.Value = outcome.IdentifierSystem;
            value.Value = outcome.IdentifierValue;
            state.Value = LedgerRows.Name(outcome.State);
            serverId.Value = (object?)outcome.ServerId ?? DBNull.Value;
            serverVersion.Value = (object?)outcome.ServerVersion ?? DBNull.Value;
            error.Value = (object?)outcome.Error ?? DBNull.Value;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task CompleteAsync(long workId, string worker, WorkState state, string? error, DateTimeOffset? retryAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(worker);
        if (state is not (WorkState.Confirmed or WorkState.Failed or WorkState.Dead))
            throw new ArgumentOutOfRangeException(nameof(state), state, "A claim ends Confirmed, Failed or Dead.");
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            UPDATE work_item
            SET state = $state, last_error = $error, next_attempt_at = $retry_at, lease_until = NULL, updated_at = $now
            WHERE id = $id AND state = 'claimed' AND claimed_by = $worker
            """);
        command.Parameters.AddWithValue("$id", workId);
        command.Parameters.AddWithValue("$worker", worker);
        command.Parameters.AddWithValue("$state", LedgerRows.Name(state));
        command.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("$retry_at", state == WorkState.Failed && retryAt is { } at ? Text(at) : DBNull.Value);
        command.Parameters.AddWithValue("$now", Now());
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
            throw new InvalidOperationException($"Work item {workId} is not claimed by worker '{worker}' (its lease ended and it was re-queued or claimed by another worker).");
    }

    /// <inheritdoc />
    public async Task<WorkItem?> GetAsync(string protocolId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {WorkColumns} FROM work_item WHERE protocol_id = $protocol_id");
        command.Parameters.AddWithValue("$protocol_id", protocolId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadWorkItem(reader) : null;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkItem>> ListAsync(WorkState? state, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, $"SELECT {WorkColumns} FROM work_item WHERE ($state IS NULL OR state = $state) ORDER BY created_at, id");
        command.Parameters.AddWithValue("$state", state is { } s ? LedgerRows.Name(s) : DBNull.Value);
        var items = new List<WorkItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            items.Add(ReadWorkItem(reader));
        return items;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerResource>> ResourcesAsync(string? protocolId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT w.protocol_id, r.resource_type, r.identifier_system, r.identifier_value, r.content_hash, r.state,
                   r.server_id, r.server_version, r.attempts, r.last_error, r.pushed_by, r.updated_at
            FROM resource r JOIN work_item w ON w.id = r.work_id
            WHERE ($protocol_id IS NULL OR w.protocol_id = $protocol_id)
            ORDER BY w.protocol_id, r.resource_type, r.identifier_system, r.identifier_value
            """);
        command.Parameters.AddWithValue("$protocol_id", (object?)protocolId ?? DBNull.Value);
        var rows = new List<LedgerResource>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(LedgerRows.ReadResource(reader, ReadTime));
        }
        return rows;
    }

    /// <inheritdoc />
    public async Task<int> RetryDeadAsync(IReadOnlyCollection<string>? protocolIds, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE
        const string retry = "UPDATE work_item SET state = 'queued', attempts = 0, claimed_by = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = $now WHERE state = 'dead'";
        await using var command = Command(connection, transaction, protocolIds is null ? retry : retry + " AND protocol_id = $protocol_id");
        command.Parameters.AddWithValue("$now", Now());
        var count = 0;
        if (protocolIds is null)
            count = await command.ExecuteNonQueryAsync(cancellationToken);
        else
        {
            var id = command.Parameters.Add("$protocol_id", SqliteType.Text);
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
    public ValueTask DisposeAsync()
    {
        // Pooled connections keep the file open: release them so the file can be moved, deleted or opened by another process.
        using (var connection = new SqliteConnection(_connectionString))
            SqliteConnection.ClearPool(connection);
        return ValueTask.CompletedTask;
    }

    // ---- plumbing ----

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null, $"PRAGMA busy_timeout = {BusyTimeoutSeconds * 1000}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql) =>
        new(sql, connection, transaction) { CommandTimeout = BusyTimeoutSeconds };

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private string Now() => Text(_time.GetUtcNow());

    // Fixed width, UTC, 100 ns: compares as text in time order and round-trips exactly.
    private static string Text(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static WorkItem ReadWorkItem(DbDataReader reader) => LedgerRows.ReadWorkItem(reader, ReadTime);

    private static DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => ParseTime(reader.GetString(ordinal));
}
