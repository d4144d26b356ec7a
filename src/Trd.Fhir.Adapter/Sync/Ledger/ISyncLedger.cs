namespace Trd.Fhir.Adapter.Sync.Ledger;

/// <summary>Where a protocol's push stands. One work item per protocol id; a new document version re-queues it.</summary>
public enum WorkState
{
    /// <summary>Waiting to be claimed (new, changed, retried, or its earlier claim was abandoned by a crashed worker).</summary>
    Queued,
    /// <summary>A worker holds it (until its lease ends).</summary>
    Claimed,
    /// <summary>Every resource is confirmed on the server.</summary>
    Confirmed,
    /// <summary>The last attempt failed for a reason that may pass (429, 503, timeout…); queued again at <see cref="WorkItem.NextAttemptAt"/>.</summary>
    Failed,
    /// <summary>Dead letter: refused for good or out of attempts. <see cref="WorkItem.LastError"/> says why; <c>ledger retry</c> re-queues it.</summary>
    Dead,
}

/// <summary>Where one resource stands on the server.</summary>
public enum ResourceState
{
    /// <summary>Intent written, nothing sent yet (or not known to have been sent).</summary>
    Pending,
    /// <summary>Handed to the transport; the server may or may not hold it: reconciled by identifier before anything is resent.</summary>
    Sent,
    /// <summary>The server holds exactly this content (<see cref="LedgerResource.ContentHash"/>) at <see cref="LedgerResource.ServerId"/>.</summary>
    Confirmed,
    /// <summary>The last attempt failed; retried with its protocol.</summary>
    Failed,
    /// <summary>Refused for good; the reason is kept.</summary>
    Dead,
}

/// <summary>One protocol's push. <see cref="ProtocolId"/> is the document's id (no patient data); the document itself is kept by the ledger, never logged.</summary>
public sealed record WorkItem(
    long Id,
    string ProtocolId,
    string DocumentHash,
    WorkState State,
    int Attempts,
    string? LastError,
    string? ClaimedBy,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>A claimed work item and the protocol document (JSON text) to push.</summary>
public sealed record ClaimedWork(WorkItem Item, string Document);

/// <summary>The result of <see cref="ISyncLedger.EnqueueAsync"/>: <see cref="Queued"/> is false when the same document is already confirmed, queued or being pushed.</summary>
public sealed record EnqueueResult(WorkItem Item, bool Queued);

/// <summary>What is about to be sent: the resource's business identifier and a hash of its mapped content.</summary>
public sealed record ResourceIntent(string ResourceType, string IdentifierSystem, string IdentifierValue, string ContentHash);

/// <summary>What happened to one resource (by business identifier).</summary>
public sealed record ResourceOutcome(string IdentifierSystem, string IdentifierValue, ResourceState State, string? ServerId, string? ServerVersion, string? Error);

/// <summary>One resource row of the ledger.</summary>
public sealed record LedgerResource(
    string ProtocolId,
    string ResourceType,
    string IdentifierSystem,
    string IdentifierValue,
    string ContentHash,
    ResourceState State,
    string? ServerId,
    string? ServerVersion,
    int Attempts,
    string? LastError,
    string? PushedBy,
    DateTimeOffset UpdatedAt);

/// <summary>
/// The durable sync ledger: what was asked to be pushed, what was sent, what the server confirmed. Embedded SQLite (one file,
/// one process) by default; PostgreSQL when several adapter processes share the work (claims with FOR UPDATE SKIP LOCKED).
/// Timestamps come from the injected <see cref="TimeProvider"/>. Implementations are safe for concurrent use.
/// </summary>
public interface ISyncLedger : IAsyncDisposable
{
    /// <summary>Where the ledger lives, for logs and <c>ledger list</c> (no password).</summary>
    string Location { get; }

    /// <summary>Creates the schema if missing (idempotent, safe when several processes start together).</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>For <c>/ready</c>: the store answers a trivial query.</summary>
    Task<bool> IsReadyAsync(CancellationToken cancellationToken);

    /// <summary>Queues a protocol document. Same id and same hash as a confirmed, queued or claimed item: nothing queued.
    /// A different hash (a changed document) or a failed/dead item: re-queued with the new document, attempts reset.</summary>
    Task<EnqueueResult> EnqueueAsync(string protocolId, string document, string documentHash, CancellationToken cancellationToken);

    /// <summary>Claims the next due item (queued, or failed with NextAttemptAt ≤ now, or claimed with an expired lease), oldest first. Null when none is due.</summary>
    Task<ClaimedWork?> ClaimNextAsync(string worker, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Claims one protocol's item if it is due (the API's synchronous push). Null when it is not queued or another worker holds it.</summary>
    Task<ClaimedWork?> ClaimAsync(string protocolId, string worker, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>On start: claims abandoned by crashed workers go back to the queue — in SQLite every claim (one process owns
    /// the file), in PostgreSQL those whose lease has ended. Returns how many.</summary>
    Task<int> RecoverAsync(CancellationToken cancellationToken);

    /// <summary>Before sending: writes the intent (state Pending, attempts + 1) for every resource that is not already confirmed with the same hash.</summary>
    Task RecordIntentAsync(long workId, string worker, IReadOnlyList<ResourceIntent> resources, CancellationToken cancellationToken);

    /// <summary>Marks resources as handed to the transport (state Sent).</summary>
    Task RecordSentAsync(long workId, IReadOnlyList<(string IdentifierSystem, string IdentifierValue)> resources, CancellationToken cancellationToken);

    /// <summary>After the server answered: confirmed (with server id/version), failed or dead (with the reason).</summary>
    Task RecordOutcomesAsync(long workId, IReadOnlyList<ResourceOutcome> outcomes, CancellationToken cancellationToken);

    /// <summary>Ends a claim: Confirmed, Failed (retry at <paramref name="retryAt"/>) or Dead (with the reason). Only the claiming worker can complete it.</summary>
    Task CompleteAsync(long workId, string worker, WorkState state, string? error, DateTimeOffset? retryAt, CancellationToken cancellationToken);

    Task<WorkItem?> GetAsync(string protocolId, CancellationToken cancellationToken);

    /// <summary>Work items, oldest first; all states when <paramref name="state"/> is null.</summary>
    Task<IReadOnlyList<WorkItem>> ListAsync(WorkState? state, CancellationToken cancellationToken);

    /// <summary>The resource rows of one protocol (or of all protocols when null), ordered by protocol, type, identifier.</summary>
    Task<IReadOnlyList<LedgerResource>> ResourcesAsync(string? protocolId, CancellationToken cancellationToken);

    /// <summary>Dead letters back to the queue (attempts reset, reason kept until the next attempt): the given protocol ids, or every dead item when null. Returns how many.</summary>
    Task<int> RetryDeadAsync(IReadOnlyCollection<string>? protocolIds, CancellationToken cancellationToken);
}
