using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>
/// The pure part of a push (no I/O): turn a mapped Bundle into entries, point them at the server's patient, drop what the
/// server cannot write, keep references to dropped resources as logical references, and decide per resource found on the
/// server whether it is unchanged (not sent) or changed (sent as an update). What is left without a state is sent.
/// </summary>
public static class PushPlanner
{
    public static List<PushEntry> Entries(Bundle bundle) =>
        bundle.Entry.Select(e => new PushEntry(e.FullUrl!, (DomainResource)e.Resource!, IdentifierOf(e.Resource!), e.Request!)).ToList();

    public static Identifier IdentifierOf(Resource resource) =>
        Identity.IdentifiersOf(resource).FirstOrDefault() ?? throw new InvalidOperationException($"{resource.TypeName} carries no business identifier");

    public static string Key(Identifier identifier) => $"{identifier.System}|{identifier.Value}";

    /// <summary>Resources the sync ledger confirmed with this exact content: not looked up, not sent, reported Unchanged.</summary>
    public static void ApplyConfirmed(IEnumerable<PushEntry> entries, IReadOnlyDictionary<string, ConfirmedResource>? confirmed)
    {
        if (confirmed is null)
            return;
        foreach (var entry in entries)
        {
            if (confirmed.TryGetValue(Key(entry.Identifier), out var known))
            {
                entry.ServerId = known.ServerId;
                entry.ServerVersion = known.ServerVersion;
                entry.Done(EntryState.Unchanged);
            }
        }
    }

    public static void RewritePatient(IEnumerable<PushEntry> entries, string patientId)
    {
        foreach (var entry in entries)
        {
            foreach (var reference in FhirReferences.In(entry.Resource).Where(r => r.Reference?.StartsWith("Patient", StringComparison.Ordinal) == true))
                reference.Reference = $"Patient/{patientId}";
        }
    }

    public static void MarkNotWritable(IEnumerable<PushEntry> entries, ServerCapabilities capabilities)
    {
        if (capabilities.Resources.Count == 0)
            return; // a server that declares nothing: try, and report what it refuses
        foreach (var entry in entries.Where(e => e.State is null))
        {
            if (!capabilities.For(entry.Type).Create)
                entry.Skip($"the server cannot create {entry.Type} (no 'create' interaction in its CapabilityStatement)");
        }
    }

    /// <summary>References to resources the server cannot hold become logical references (identifier only), and say so.</summary>
    public static void DetachUnwritable(IReadOnlyList<PushEntry> entries, List<string> notes)
    {
        var byUrl = entries.ToDictionary(e => e.FullUrl, StringComparer.Ordinal);
        var detached = 0;
        foreach (var entry in entries.Where(e => e.State is null))
        {
            foreach (var reference in FhirReferences.In(entry.Resource))
            {
                if (reference.Reference is { } url && byUrl.TryGetValue(url, out var target) && target.State == EntryState.Skipped)
                {
                    reference.Reference = null;
                    reference.Identifier = (Identifier)target.Identifier.DeepCopy();
                    reference.Type = target.Type;
                    detached++;
                }
            }
        }
        if (detached > 0)
            notes.Add($"{detached} references to resources this server cannot store were kept as logical references (identifier only)");
    }

    /// <summary>Entries found on the server (<paramref name="serverCopies"/>): unchanged ones are done, changed ones become updates
    /// (conditional on the identifier where the server supports it, else by id and version).</summary>
    public static void ClassifyExisting(IReadOnlyList<PushEntry> entries, IReadOnlyDictionary<PushEntry, Resource> serverCopies, ServerCapabilities capabilities)
    {
        FhirReferences.RewriteToServerIds(entries, entries.ToDictionary(e => e.FullUrl, StringComparer.Ordinal));
        foreach (var entry in entries.Where(e => e.State is null && e.Exists))
        {
            if (serverCopies.TryGetValue(entry, out var copy) && Comparable(entry.Resource) == Comparable(copy))
            {
                entry.Done(EntryState.Unchanged);
                continue;
            }
            if (capabilities.Resources.Count > 0 && !capabilities.For(entry.Type).Update)
            {
                entry.Skip($"changed, but the server cannot update {entry.Type} (no 'update' interaction in its CapabilityStatement)");
                continue;
            }
            entry.Request = capabilities.For(entry.Type).ConditionalUpdate || capabilities.Resources.Count == 0
                ? new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{entry.Type}?{Identity.IdentifierQuery(entry.Identifier.System!, entry.Identifier.Value!)}" }
                : new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = entry.Local };
        }
    }

    /// <summary>A resource's content as it matters for "has it changed": without id, meta and narrative.</summary>
    public static string Comparable(Resource resource)
    {
        var copy = (Resource)resource.DeepCopy();
        copy.Id = null;
        copy.Meta = null;
        if (copy is DomainResource domain)
            domain.Text = null;
        return FhirJson.Serialize(copy, pretty: false);
    }

    public static PushState StateOf(PushEntry entry) => entry.State switch
    {
        EntryState.Created => PushState.Created,
        EntryState.Updated => PushState.Updated,
        EntryState.Unchanged => PushState.Unchanged,
        EntryState.Skipped => PushState.Skipped,
        _ => PushState.Failed,
    };
}
