using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Sync;

public enum PushState
{
    /// <summary>The server did not have it; it does now.</summary>
    Created,
    /// <summary>The server had an older content; it was updated.</summary>
    Updated,
    /// <summary>The server already had exactly this; nothing was sent (or a conditional create matched).</summary>
    Unchanged,
    /// <summary>The server refused it or the request failed; the reason says why.</summary>
    Failed,
    /// <summary>Not sent: the server cannot write this resource type (its CapabilityStatement) or it depends on one that failed.</summary>
    Skipped,
}

/// <summary>
/// What happened to one resource of a push. <see cref="Identifier"/> is our business identifier value (no PHI);
/// <see cref="ServerVersion"/> the server's version id when it said; <see cref="Retryable"/>, for Failed and Skipped, whether
/// trying again later may succeed (timeouts, resets, 408/429/5xx, an open circuit) or the server refused it for good.
/// </summary>
public sealed record PushOutcome(string ResourceType, string Identifier, PushState State, string? ServerId, string? Reason, string? ServerVersion = null, bool Retryable = false);

/// <summary>A resource the sync ledger knows is on the server with exactly the content about to be pushed.</summary>
public sealed record ConfirmedResource(string ServerId, string? ServerVersion);

/// <summary>The result of pushing one protocol: the strategy that finally carried it and one outcome per resource.</summary>
public sealed record PushReport(string ProtocolId, PushStrategy? Strategy, IReadOnlyList<PushOutcome> Outcomes, IReadOnlyList<string> Notes)
{
    /// <summary>Set when the push stopped because the server's circuit breaker was open: nothing more was sent, and the
    /// breaker lets requests through again after this long (zero when unknown). A retry before then would fail the same way.</summary>
    public TimeSpan? CircuitOpenFor { get; init; }

    /// <summary>How long this push waited for the server (429 Retry-After, an open circuit breaker) and whether the wait
    /// budget ran out (<see cref="Transport.Resilience.TransportWaits"/>).</summary>
    public Transport.Resilience.WaitSummary Waits { get; init; } = Transport.Resilience.WaitSummary.None;

    public bool Success => Outcomes.All(o => o.State is not (PushState.Failed or PushState.Skipped)) && Outcomes.Count > 0;

    public int Count(PushState state) => Outcomes.Count(o => o.State == state);

    /// <summary>Counts per resource type and state, for the summary table.</summary>
    public IEnumerable<(string ResourceType, int Created, int Updated, int Unchanged, int Failed, int Skipped)> ByType() =>
        Outcomes.GroupBy(o => o.ResourceType).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (
            g.Key,
            g.Count(o => o.State == PushState.Created),
            g.Count(o => o.State == PushState.Updated),
            g.Count(o => o.State == PushState.Unchanged),
            g.Count(o => o.State == PushState.Failed),
            g.Count(o => o.State == PushState.Skipped)));
}
