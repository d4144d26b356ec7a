using System.Data;
using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>
/// The embedded ledger: one SQLite file (plus its <c>-wal</c>/<c>-shm</c> companions), owned by one adapter process. The flow
/// is <see cref="SqlSyncLedger"/>'s; this names the <see cref="SqliteDialect"/>.
/// </summary>
public sealed class SqliteSyncLedger(string path, TimeProvider time) : SqlSyncLedger(new SqliteDialect(path), time);

/// <summary>
/// SQLite: WAL journal (readers never block the writer), a busy timeout for the short write locks, claims inside
/// <c>BEGIN IMMEDIATE</c> so two workers of the process never claim the same item. A new file is created readable by its
/// owner only (0600): it holds protocol documents, i.e. patient data at rest (docs/ledger.md). Timestamps are stored as
/// fixed-width UTC ISO-8601 text (readable with the sqlite3 shell, ordered as text).
/// </summary>
public sealed class SqliteDialect : LedgerDialect
{
    private const int BusyTimeoutSeconds = 30;
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

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

    private readonly string _connectionString;

    public SqliteDialect(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Location = Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Location,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = BusyTimeoutSeconds,
        }.ToString();
    }

    public override string Location { get; }
    public override string WorkTable => "work_item";
    public override string ResourceTable => "resource";
    public override string RecoverableClaims => "state = 'claimed'";
    public override DbType TimeType => DbType.String;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
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

    public override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false)); // BEGIN IMMEDIATE

    public override async Task InitializeAsync(CancellationToken cancellationToken)
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
        await using var transaction = await BeginWriteAsync(connection, cancellationToken);
        await ExecuteAsync(connection, transaction, Schema, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    // BEGIN IMMEDIATE (the caller's write transaction) takes the write lock before the item is chosen, so no other
    // connection can choose it too.
    public override string ClaimSql(string due, string columns) => $"""
        UPDATE work_item
        SET state = 'claimed', claimed_by = @worker, lease_until = @lease_until, attempts = attempts + 1, updated_at = @now
        WHERE id = (SELECT id FROM work_item WHERE {due} AND (CAST(@protocol_id AS TEXT) IS NULL OR protocol_id = @protocol_id) ORDER BY id LIMIT 1)
        RETURNING {columns}, document
        """;

    // Fixed width, UTC, 100 ns: compares as text in time order and round-trips exactly.
    public override object Time(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    public override DateTimeOffset ReadTime(DbDataReader reader, int ordinal) =>
        DateTimeOffset.ParseExact(reader.GetString(ordinal), TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    public override ValueTask DisposeAsync()
    {
        // Pooled connections keep the file open: release them so the file can be moved, deleted or opened by another process.
        using (var connection = new SqliteConnection(_connectionString))
            SqliteConnection.ClearPool(connection);
        return ValueTask.CompletedTask;
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.CommandTimeout = BusyTimeoutSeconds;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
