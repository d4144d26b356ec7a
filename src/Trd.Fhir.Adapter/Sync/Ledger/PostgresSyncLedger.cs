using System.Data.Common;
using Npgsql;

namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>
/// The shared ledger: several adapter processes on one PostgreSQL database. Work is claimed with
/// <c>SELECT … FOR UPDATE SKIP LOCKED</c>, so two workers never hold the same protocol; a claim carries a lease
/// (<c>lease_until</c>) and a crashed worker's claim becomes due again when its lease ends. Every timestamp comes from the
/// injected <see cref="TimeProvider"/>, never from the server's <c>now()</c>, so tests run on a fake clock.
/// </summary>
public sealed class PostgresSyncLedger : ISyncLedger
{
    // Any constant: serialises schema creation between processes that start together (CREATE TABLE IF NOT EXISTS alone
    // can fail with a unique violation on pg_type when two sessions race).
    private const long SchemaLockKey = 0x7472_6466_6869_7231; // "trdfhir1"

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS trd_work_item (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            protocol_id     text        NOT NULL UNIQUE,
            document        text        NOT NULL,
            document_hash   text        NOT NULL,
            state           text        NOT NULL CHECK (state IN ('queued', 'claimed', 'confirmed', 'failed', 'dead')),
            attempts        integer     NOT NULL DEFAULT 0,
            last_error      text,
            claimed_by      text,
            lease_until     timestamptz,
            next_attempt_at timestamptz,
            created_at      timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS trd_work_item_due ON trd_work_item (state, id);
        CREATE TABLE IF NOT EXISTS trd_resource (
            work_id           bigint  NOT NULL REFERENCES trd_work_item (id) ON DELETE CASCADE,
            resource_type     text    NOT NULL,
            identifier_system text    NOT NULL,
            identifier_value  text    NOT NULL,
            content_hash      text    NOT NULL,
            state             text    NOT NULL CHECK (state IN ('pending', 'sent', 'confirmed', 'failed', 'dead')),
            server_id         text,
            server_version    text,
            attempts          integer NOT NULL DEFAULT 0,
            last_error        text,
            pushed_by         text,
            updated_at        timestamptz NOT NULL,
            PRIMARY KEY (work_id, identifier_system, identifier_value)
        );
        """;

    private const string WorkColumns =
        "w.id, w.protocol_id, w.document_hash, w.state, w.attempts, w.last_error, w.claimed_by, w.next_attempt_at, w.created_at, w.updated_at";

    // Due: queued; failed and its retry time has come; claimed by a worker whose lease has ended.
    private const string Due =
        "(w.state = 'queued' OR (w.state = 'failed' AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= @now)) OR (w.state = 'claimed' AND w.lease_until <= @now))";

    private const string ClaimSql = $"""
        WITH next AS (
            SELECT w.id FROM trd_work_item w
            WHERE {Due} AND (@protocol_id::text IS NULL OR w.protocol_id = @protocol_id)
            ORDER BY w.id
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
        UPDATE trd_work_item w
        SET state = 'claimed', claimed_by = @worker, lease_until = @lease_until, attempts = w.attempts + 1, updated_at = @now
        FROM next WHERE w.id = next.id
        RETURNING {WorkColumns}, w.document
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _time;

    /// <param name="connectionString">A URL (<c>postgres://user:password@host:5432/db?sslmode=require</c>) or a key=value
    /// connection string (<c>Host=…;Database=…;Username=…</c>).</param>
    public PostgresSyncLedger(string connectionString, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var builder = ParseConnectionString(connectionString);
        Location = Describe(builder);
        _dataSource = NpgsqlDataSource.Create(builder);
        _time = time;
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>Parses a <c>postgres://</c> / <c>postgresql://</c> URL or a key=value connection string.
    /// <see cref="ArgumentException"/> (naming the part at fault, never the password) when it is neither.</summary>
    public static NpgsqlConnectionStringBuilder ParseConnectionString(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var text = connectionString.Trim();
        if (!text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            && !text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return new NpgsqlConnectionStringBuilder(text);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException(
                    $"Not a PostgreSQL connection string ({ex.Message}). Use postgres://user:password@host:5432/database or Host=…;Database=…;Username=….",
                    nameof(connectionString), ex);
            }
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ArgumentException(
                "Not a valid postgres:// URL. Use postgres://user:password@host:5432/database (percent-encode special characters in the password).",
                nameof(connectionString));
        }

        var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host.Trim('[', ']') };
        if (!uri.IsDefaultPort && uri.Port > 0)
        {
            builder.Port = uri.Port;
        }

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var value = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            try
            {
                builder[key.ToLowerInvariant() switch
                {
                    "sslmode" => "SSL Mode",
                    "application_name" => "Application Name",
                    "connect_timeout" => "Timeout",
                    _ => key,
                }] = value;
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
            {
                throw new ArgumentException($"The postgres:// URL has a query parameter Npgsql does not accept: '{key}' ({ex.Message}).",
                    nameof(connectionString), ex);
            }
        }

        return builder;
    }

    private static string Describe(NpgsqlConnectionStringBuilder builder)
    {
        var user = string.IsNullOrEmpty(builder.Username) ? "" : Uri.EscapeDataString(builder.Username) + "@";
        var host = builder.Host ?? "localhost";
        return $"postgres://{user}{host}:{builder.Port}/{builder.Database ?? ""}";
    }

    /// <inheritdoc />
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            command.Parameters.AddWithValue("key", SchemaLockKey);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var command = new NpgsqlCommand(Schema, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = _dataSource.CreateCommand("SELECT count(*) FROM trd_work_item WHERE false");
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
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

        // New: inserted. Changed document, or failed/dead: re-queued with the new document, attempts reset (the last error is
        // kept until the next attempt). Same document already confirmed, queued or claimed: untouched (no row returned).
        const string upsert = $"""
            INSERT INTO trd_work_item AS w (protocol_id, document, document_hash, state, attempts, created_at, updated_at)
            VALUES (@protocol_id, @document, @document_hash, 'queued', 0, @now, @now)
            ON CONFLICT (protocol_id) DO UPDATE
            SET document = excluded.document, document_hash = excluded.document_hash, state = 'queued', attempts = 0,
                claimed_by = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = excluded.updated_at
            WHERE w.document_hash <> excluded.document_hash OR w.state IN ('failed', 'dead')
            RETURNING {WorkColumns}
            """;
        await using (var command = _dataSource.CreateCommand(upsert))
        {
            command.Parameters.AddWithValue("protocol_id", protocolId);
            command.Parameters.AddWithValue("document", document);
            command.Parameters.AddWithValue("document_hash", documentHash);
            command.Parameters.AddWithValue("now", now);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                return new EnqueueResult(ReadWorkItem(reader), Queued: true);
            }
        }

        var existing = await GetAsync(protocolId, cancellationToken)
            ?? throw new InvalidOperationException($"Work item for protocol '{protocolId}' vanished while it was being queued.");
        return new EnqueueResult(existing, Queued: false);
    }

    /// <inheritdoc />
    public Task<ClaimedWork?> ClaimNextAsync(string worker, TimeSpan lease, CancellationToken cancellationToken) =>
        ClaimCoreAsync(protocolId: null, worker, lease, cancellationToken);

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
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        ClaimedWork? claimed = null;
        await using (var command = new NpgsqlCommand(ClaimSql, connection, transaction))
        {
            command.Parameters.AddWithValue("now", now);
            command.Parameters.AddWithValue("lease_until", now + lease);
            command.Parameters.AddWithValue("worker", worker);
            command.Parameters.Add(new NpgsqlParameter("protocol_id", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)protocolId ?? DBNull.Value });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                claimed = new ClaimedWork(ReadWorkItem(reader), reader.GetString(10));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return claimed;
    }

    /// <inheritdoc />
    public async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        // Only claims whose lease has ended: a live worker in another process keeps its claim.
        await using var command = _dataSource.CreateCommand("""
            UPDATE trd_work_item
            SET state = 'queued', claimed_by = NULL, lease_until = NULL, updated_at = @now
            WHERE state = 'claimed' AND lease_until <= @now
            """);
        command.Parameters.AddWithValue("now", Now());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task RecordIntentAsync(long workId, string worker, IReadOnlyList<ResourceIntent> resources, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(worker);
        ArgumentNullException.ThrowIfNull(resources);
        if (resources.Count == 0)
        {
            return;
        }

        // One statement for the whole protocol; a resource already confirmed with the same content is left alone.
        await using var command = _dataSource.CreateCommand("""
            INSERT INTO trd_resource AS r (work_id, resource_type, identifier_system, identifier_value, content_hash, state, attempts, pushed_by, updated_at)
            SELECT @work_id, t.resource_type, t.identifier_system, t.identifier_value, t.content_hash, 'pending', 1, @worker, @now
            FROM unnest(@types, @systems, @values, @hashes) AS t (resource_type, identifier_system, identifier_value, content_hash)
            ON CONFLICT (work_id, identifier_system, identifier_value) DO UPDATE
            SET resource_type = excluded.resource_type, content_hash = excluded.content_hash, state = 'pending',
                attempts = r.attempts + 1, pushed_by = excluded.pushed_by, updated_at = excluded.updated_at
            WHERE NOT (r.state = 'confirmed' AND r.content_hash = excluded.content_hash)
            """);
        command.Parameters.AddWithValue("work_id", workId);
        command.Parameters.AddWithValue("worker", worker);
        command.Parameters.AddWithValue("now", Now());
        command.Parameters.AddWithValue("types", resources.Select(r => r.ResourceType).ToArray());
        command.Parameters.AddWithValue("systems", resources.Select(r => r.IdentifierSystem).ToArray());
        command.Parameters.AddWithValue("values", resources.Select(r => r.IdentifierValue).ToArray());
        command.Parameters.AddWithValue("hashes", resources.Select(r => r.ContentHash).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task RecordSentAsync(long workId, IReadOnlyList<(string IdentifierSystem, string IdentifierValue)> resources, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resources);
        if (resources.Count == 0)
        {
            return;
        }

        await using var command = _dataSource.CreateCommand("""
            UPDATE trd_resource r SET state = 'sent', updated_at = @now
            FROM unnest(@systems, @values) AS t (identifier_system, identifier_value)
            WHERE r.work_id = @work_id AND r.identifier_system = t.identifier_system AND r.identifier_value = t.identifier_value
            """);
        command.Parameters.AddWithValue("work_id", workId);
        command.Parameters.AddWithValue("now", Now());
        command.Parameters.AddWithValue("systems", resources.Select(r => r.IdentifierSystem).ToArray());
        command.Parameters.AddWithValue("values", resources.Select(r => r.IdentifierValue).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task RecordOutcomesAsync(long workId, IReadOnlyList<ResourceOutcome> outcomes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        if (outcomes.Count == 0)
        {
            return;
        }

        await using var command = _dataSource.CreateCommand("""
            UPDATE trd_resource r
            SET state = t.state,
                server_id = COALESCE(t.server_id, r.server_id),
                server_version = COALESCE(t.server_version, r.server_version),
                last_error = t.error,
                updated_at = @now
            FROM unnest(@systems, @values, @states, @server_ids, @server_versions, @errors)
                 AS t (identifier_system, identifier_value, state, server_id, server_version, error)
            WHERE r.work_id = @work_id AND r.identifier_system = t.identifier_system AND r.identifier_value = t.identifier_value
            """);
        command.Parameters.AddWithValue("work_id", workId);
        command.Parameters.AddWithValue("now", Now());
        command.Parameters.AddWithValue("systems", outcomes.Select(o => o.IdentifierSystem).ToArray());
        command.Parameters.AddWithValue("values", outcomes.Select(o => o.IdentifierValue).ToArray());
        command.Parameters.AddWithValue("states", outcomes.Select(o => LedgerRows.Name(o.State)).ToArray());
        command.Parameters.AddWithValue("server_ids", TextArray(outcomes.Select(o => o.ServerId)));
        command.Parameters.AddWithValue("server_versions", TextArray(outcomes.Select(o => o.ServerVersion)));
        command.Parameters.AddWithValue("errors", TextArray(outcomes.Select(o => o.Error)));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task CompleteAsync(long workId, string worker, WorkState state, string? error, DateTimeOffset? retryAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(worker);
        if (state is not (WorkState.Confirmed or WorkState.Failed or WorkState.Dead))
        {
            throw new ArgumentOutOfRangeException(nameof(state), state, "A claim ends Confirmed, Failed or Dead.");
        }

        await using var command = _dataSource.CreateCommand("""
            UPDATE trd_work_item
            SET state = @state, last_error = @error, next_attempt_at = @retry_at, lease_until = NULL, updated_at = @now
            WHERE id = @id AND state = 'claimed' AND claimed_by = @worker
            """);
        command.Parameters.AddWithValue("id", workId);
        command.Parameters.AddWithValue("worker", worker);
        command.Parameters.AddWithValue("state", LedgerRows.Name(state));
        command.Parameters.Add(new NpgsqlParameter("error", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)error ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("retry_at", NpgsqlTypes.NpgsqlDbType.TimestampTz)
        {
            Value = state == WorkState.Failed && retryAt is { } at ? at.ToUniversalTime() : DBNull.Value,
        });
        command.Parameters.AddWithValue("now", Now());
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 0)
        {
            throw new InvalidOperationException(
                $"Work item {workId} is not claimed by worker '{worker}' (its lease ended and it was re-queued or claimed by another worker).");
        }
    }

    /// <inheritdoc />
    public async Task<WorkItem?> GetAsync(string protocolId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT {WorkColumns} FROM trd_work_item w WHERE w.protocol_id = @protocol_id");
        command.Parameters.AddWithValue("protocol_id", protocolId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadWorkItem(reader) : null;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<WorkItem>> ListAsync(WorkState? state, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            $"SELECT {WorkColumns} FROM trd_work_item w WHERE (@state::text IS NULL OR w.state = @state) ORDER BY w.created_at, w.id");
        command.Parameters.Add(new NpgsqlParameter("state", NpgsqlTypes.NpgsqlDbType.Text)
        {
            Value = state is { } s ? LedgerRows.Name(s) : DBNull.Value,
        });
        var items = new List<WorkItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(ReadWorkItem(reader));
        }

        return items;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerResource>> ResourcesAsync(string? protocolId, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("""
            SELECT w.protocol_id, r.resource_type, r.identifier_system, r.identifier_value, r.content_hash, r.state,
                   r.server_id, r.server_version, r.attempts, r.last_error, r.pushed_by, r.updated_at
            FROM trd_resource r JOIN trd_work_item w ON w.id = r.work_id
            WHERE (@protocol_id::text IS NULL OR w.protocol_id = @protocol_id)
            ORDER BY w.protocol_id, r.resource_type, r.identifier_system, r.identifier_value
            """);
        command.Parameters.Add(new NpgsqlParameter("protocol_id", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)protocolId ?? DBNull.Value });
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
        await using var command = _dataSource.CreateCommand("""
            UPDATE trd_work_item
            SET state = 'queued', attempts = 0, claimed_by = NULL, lease_until = NULL, next_attempt_at = NULL, updated_at = @now
            WHERE state = 'dead' AND (@ids::text[] IS NULL OR protocol_id = ANY (@ids))
            """);
        command.Parameters.AddWithValue("now", Now());
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text)
        {
            Value = protocolIds is null ? DBNull.Value : protocolIds.ToArray(),
        });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    // timestamptz takes UTC DateTimeOffsets only; PostgreSQL keeps microseconds.
    private DateTimeOffset Now() => _time.GetUtcNow().ToUniversalTime();

    private static WorkItem ReadWorkItem(DbDataReader reader) => LedgerRows.ReadWorkItem(reader, ReadTime);

    private static DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);

    private static string?[] TextArray(IEnumerable<string?> values) => values.ToArray();
}
