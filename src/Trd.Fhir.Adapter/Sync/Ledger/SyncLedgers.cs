namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>Opens the ledger a spec names (<c>--ledger</c>, configuration).</summary>
public static class SyncLedgers
{
    public const string SpecHint = "a file path or sqlite:PATH (embedded SQLite), or postgres://user:password@host:5432/database or Host=…;Database=…;Username=… (PostgreSQL)";

    /// <summary>
    /// <c>sqlite:PATH</c> or a plain file path → <see cref="SqliteSyncLedger"/>; <c>postgres://…</c>, <c>postgresql://…</c> or a
    /// key=value connection string starting with <c>Host=</c> → PostgreSQL. Not initialised: call
    /// <see cref="ISyncLedger.InitializeAsync"/>. <see cref="ArgumentException"/> for an empty spec.
    /// </summary>
    public static ISyncLedger Open(string spec, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (string.IsNullOrWhiteSpace(spec))
            throw new ArgumentException($"the ledger spec is empty; give {SpecHint}", nameof(spec));
        var text = spec.Trim();
        if (IsPostgres(text))
            return new PostgresSyncLedger(text, time);
        if (text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
            text = text["sqlite:".Length..];
        if (text.Length == 0)
            throw new ArgumentException($"the ledger spec 'sqlite:' has no path; give {SpecHint}", nameof(spec));
        return new SqliteSyncLedger(text, time);
    }

    public static bool IsPostgres(string spec) =>
        spec.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
        || spec.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || spec.StartsWith("Host=", StringComparison.OrdinalIgnoreCase);
}
