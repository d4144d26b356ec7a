using Hl7.Fhir.Model;

namespace Trd.Fhir.Adapter.Transport.Push;

/// <summary>Every <see cref="ResourceReference"/> inside a resource (nested elements and lists included).</summary>
public static class FhirReferences
{
    public static IEnumerable<ResourceReference> In(Base node) =>
        node.EnumerateElements().SelectMany(kv => kv.Value switch
        {
            ResourceReference r => In(r).Prepend(r),
            Base child => In(child),
            IEnumerable<Base> list => list.SelectMany(b => b is ResourceReference r ? In(r).Prepend(r) : In(b)),
            _ => [],
        });

    /// <summary>References to entries the server now holds become server-local references (<c>Type/id</c>).</summary>
    public static void RewriteToServerIds(IEnumerable<PushEntry> entries, IReadOnlyDictionary<string, PushEntry> byUrl)
    {
        foreach (var entry in entries.Where(e => e.State is null))
        {
            foreach (var reference in In(entry.Resource))
            {
                if (reference.Reference is { } url && byUrl.TryGetValue(url, out var target) && target.Exists)
                    reference.Reference = target.Local;
            }
        }
    }

    /// <summary>The entries <paramref name="entry"/> references (by fullUrl), itself excluded.</summary>
    public static IEnumerable<PushEntry> Dependencies(PushEntry entry, IReadOnlyDictionary<string, PushEntry> byUrl) =>
        In(entry.Resource).Select(r => r.Reference).Where(r => r is not null && byUrl.ContainsKey(r)).Select(r => byUrl[r!]).Where(d => d != entry);
}
