using System.Data;
using System.Data.Common;

namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>
/// What differs between the ledger's SQL stores, and nothing else: how to open a connection and start a write transaction,
/// the schema and table names, how a claim picks its item without another worker picking it too, which claims recovery
/// re-queues, and how timestamps are stored. <see cref="SqlSyncLedger"/> holds the flow, written once. Parameters are
/// named <c>@name</c> (both SQLite and PostgreSQL accept it).
/// </summary>
public abstract class LedgerDialect : IAsyncDisposable
{
    /// <summary>Where the ledger lives, for logs and <c>ledger list</c> (no password).</summary>
    public abstract string Location { get; }

    public abstract string WorkTable { get; }

    public abstract string ResourceTable { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A transaction that holds the write lock from its start (SQLite: BEGIN IMMEDIATE).</summary>
    public abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Creates the schema if missing, safe when several processes start together.</summary>
    public abstract Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Claims the oldest due item (optionally of one protocol): sets it claimed by <c>@worker</c> until <c>@lease_until</c>,
    /// attempts + 1, and returns <paramref name="columns"/> then <c>document</c>. <paramref name="due"/> is the condition, on
    /// unqualified columns; parameters <c>@now</c>, <c>@lease_until</c>, <c>@worker</c>, <c>@protocol_id</c> (null: any).
    /// </summary>
    public abstract string ClaimSql(string due, string columns);

    /// <summary>The claims <c>ledger</c> start-up recovery re-queues (SQLite: every claim, as one process owns the file;
    /// PostgreSQL: those whose lease has ended, as live workers in other processes keep theirs).</summary>
    public abstract string RecoverableClaims { get; }

    /// <summary>A timestamp as the store keeps it.</summary>
    public abstract object Time(DateTimeOffset time);

    public abstract DbType TimeType { get; }

    public abstract DateTimeOffset ReadTime(DbDataReader reader, int ordinal);

    public abstract ValueTask DisposeAsync();
}
