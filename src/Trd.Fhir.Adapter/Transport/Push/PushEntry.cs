using Hl7.Fhir.Model;

namespace Trd.Fhir.Adapter.Transport.Push;

/// <summary>What became of one entry on the server.</summary>
public enum EntryState
{
    /// <summary>The server did not have it; it does now (201).</summary>
    Created,
    /// <summary>The server had an older content; it was updated.</summary>
    Updated,
    /// <summary>The server already had it (nothing sent, or a conditional create matched).</summary>
    Unchanged,
    /// <summary>The server refused it or the request failed; <see cref="PushEntry.Reason"/> says why.</summary>
    Failed,
    /// <summary>Not sent (the server cannot store it, or it references an entry the server did not store).</summary>
    Skipped,
}

/// <summary>
/// One resource on its way to a FHIR server: the resource as it will be sent, the request (create with
/// <c>If-None-Exist</c> on its business identifier, or update), and — once known — where the server holds it and what
/// became of it. References between entries use <see cref="FullUrl"/> until the target's server id is known.
/// </summary>
public sealed class PushEntry(string fullUrl, DomainResource resource, Identifier identifier, Bundle.RequestComponent request)
{
    public string FullUrl { get; } = fullUrl;
    public DomainResource Resource { get; } = resource;
    public string Type => Resource.TypeName;

    /// <summary>The business identifier (system and value) conditional requests match on.</summary>
    public Identifier Identifier { get; } = identifier;

    public Bundle.RequestComponent Request { get; set; } = request;
    public string? ServerId { get; set; }
    public string? ServerVersion { get; set; }
    public EntryState? State { get; private set; }
    public string? Reason { get; private set; }

    /// <summary>For Failed and Skipped: whether trying again later may succeed.</summary>
    public bool Retryable { get; private set; }

    public bool Exists => ServerId is not null;
    public bool IsUpdate => Request.Method == Bundle.HTTPVerb.PUT;

    /// <summary>The server-local reference (<c>Type/id</c>) once the server holds it.</summary>
    public string Local => $"{Type}/{ServerId}";

    public void Done(EntryState state)
    {
        State = state;
        Reason = null;
        Retryable = false;
    }

    public void Fail(string reason, bool retryable) => Set(EntryState.Failed, reason, retryable);

    public void Skip(string reason, bool retryable = false) => Set(EntryState.Skipped, reason, retryable);

    private void Set(EntryState state, string reason, bool retryable)
    {
        State = state;
        Reason = reason;
        Retryable = retryable;
    }

    public static void Fail(IEnumerable<PushEntry> entries, string reason, bool retryable)
    {
        foreach (var entry in entries)
            entry.Fail(reason, retryable);
    }
}
