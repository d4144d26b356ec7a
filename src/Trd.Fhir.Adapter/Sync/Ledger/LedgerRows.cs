using System.Data.Common;

namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>
/// What the SQLite and PostgreSQL ledgers share: the state names as stored (lower case; the stored form is a contract, so
/// the names are spelled out rather than derived from the enums) and the reading of work-item and resource rows, whose
/// column order both stores' queries follow. Each store brings its own timestamp reader (text in SQLite, timestamptz in PostgreSQL).
/// </summary>
internal static class LedgerRows
{
    public static string Name(WorkState state) => state switch
    {
        WorkState.Queued => "queued",
        WorkState.Claimed => "claimed",
        WorkState.Confirmed => "confirmed",
        WorkState.Failed => "failed",
        WorkState.Dead => "dead",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    public static string Name(ResourceState state) => state switch
    {
        ResourceState.Pending => "pending",
        ResourceState.Sent => "sent",
        ResourceState.Confirmed => "confirmed",
        ResourceState.Failed => "failed",
        ResourceState.Dead => "dead",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    public static WorkState ParseWorkState(string name) => name switch
    {
        "queued" => WorkState.Queued,
        "claimed" => WorkState.Claimed,
        "confirmed" => WorkState.Confirmed,
        "failed" => WorkState.Failed,
        "dead" => WorkState.Dead,
        _ => throw new InvalidOperationException($"Unknown work state '{name}' in the ledger."),
    };

    public static ResourceState ParseResourceState(string name) => name switch
    {
        "pending" => ResourceState.Pending,
        "sent" => ResourceState.Sent,
        "confirmed" => ResourceState.Confirmed,
        "failed" => ResourceState.Failed,
        "dead" => ResourceState.Dead,
        _ => throw new InvalidOperationException($"Unknown resource state '{name}' in the ledger."),
    };

    /// <summary>Columns: id, protocol_id, document_hash, state, attempts, last_error, claimed_by, next_attempt_at, created_at, updated_at.</summary>
    public static WorkItem ReadWorkItem(DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> time) => new(
        Id: reader.GetInt64(0),
        ProtocolId: reader.GetString(1),
        DocumentHash: reader.GetString(2),
        State: ParseWorkState(reader.GetString(3)),
        Attempts: reader.GetInt32(4),
        LastError: NullableString(reader, 5),
        ClaimedBy: NullableString(reader, 6),
        NextAttemptAt: reader.IsDBNull(7) ? null : time(reader, 7),
        CreatedAt: time(reader, 8),
        UpdatedAt: time(reader, 9));

    /// <summary>Columns: protocol_id, resource_type, identifier_system, identifier_value, content_hash, state, server_id,
    /// server_version, attempts, last_error, pushed_by, updated_at.</summary>
    public static LedgerResource ReadResource(DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> time) => new(
        ProtocolId: reader.GetString(0),
        ResourceType: reader.GetString(1),
        IdentifierSystem: reader.GetString(2),
        IdentifierValue: reader.GetString(3),
        ContentHash: reader.GetString(4),
        State: ParseResourceState(reader.GetString(5)),
        ServerId: NullableString(reader, 6),
        ServerVersion: NullableString(reader, 7),
        Attempts: reader.GetInt32(8),
        LastError: NullableString(reader, 9),
        PushedBy: NullableString(reader, 10),
        UpdatedAt: time(reader, 11));

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
