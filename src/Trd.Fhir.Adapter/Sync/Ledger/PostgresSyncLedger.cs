using System.Data;
using System.Data.Common;
using Npgsql;

namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>
/// The shared ledger: several adapter processes on one PostgreSQL database. The flow is <see cref="SqlSyncLedger"/>'s; this
/// names the <see cref="PostgresDialect"/>.
/// </summary>
/// <param name="connectionString">A URL (<c>postgres://user:password@host:5432/db?sslmode=require</c>) or a key=value
/// connection string (<c>Host=…;Database=…;Username=…</c>).</param>
public sealed class PostgresSyncLedger(string connectionString, TimeProvider time) : SqlSyncLedger(new PostgresDialect(connectionString), time)
{
    /// <inheritdoc cref="PostgresDialect.ParseConnectionString"/>
    public static NpgsqlConnectionStringBuilder ParseConnectionString(string connectionString) => PostgresDialect.ParseConnectionString(connectionString);
}

/// <summary>
/// PostgreSQL: work is claimed with <c>SELECT … FOR UPDATE SKIP LOCKED</c>, so two workers never hold the same protocol; a
/// claim carries a lease (<c>lease_until</c>) and a crashed worker's claim becomes due again when its lease ends. Timestamps
/// are <c>timestamptz</c> from the injected clock, never the server's <c>now()</c>, so tests run on a fake clock.
/// </summary>
public sealed class PostgresDialect : LedgerDialect
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

    private readonly NpgsqlDataSource _dataSource;

    public PostgresDialect(string connectionString)
    {
        var builder = ParseConnectionString(connectionString);
        Location = Describe(builder);
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    public override string Location { get; }
    public override string WorkTable => "trd_work_item";
    public override string ResourceTable => "trd_resource";
    public override string RecoverableClaims => "state = 'claimed' AND lease_until <= @now";
    public override DbType TimeType => DbType.DateTimeOffset;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    public override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        connection.BeginTransactionAsync(cancellationToken);

    public override Task InitializeAsync(CancellationToken cancellationToken) =>
        CreateSchemaAsync(_dataSource, SchemaLockKey, Schema, cancellationToken);

    /// <summary>Runs <paramref name="schema"/> (idempotent DDL) under the transaction-scoped advisory lock
    /// <paramref name="lockKey"/>, so processes that start together create it one after the other (the sync ledger, the
    /// cohort ledger).</summary>
    internal static async Task CreateSchemaAsync(NpgsqlDataSource dataSource, long lockKey, string schema, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            command.Parameters.AddWithValue("key", lockKey);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await using (var command = new NpgsqlCommand(schema, connection, transaction))
            await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    // SKIP LOCKED: an item another worker is claiming right now is passed over, not waited for.
    public override string ClaimSql(string due, string columns) => $"""
        UPDATE trd_work_item
        SET state = 'claimed', claimed_by = @worker, lease_until = @lease_until, attempts = attempts + 1, updated_at = @now
        WHERE id = (SELECT id FROM trd_work_item WHERE {due} AND (CAST(@protocol_id AS TEXT) IS NULL OR protocol_id = @protocol_id)
                    ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING {columns}, document
        """;

    // timestamptz takes UTC DateTimeOffsets only; PostgreSQL keeps microseconds.
    public override object Time(DateTimeOffset time) => time.ToUniversalTime();

    public override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) => reader.GetFieldValue<DateTimeOffset>(ordinal);

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

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
}
