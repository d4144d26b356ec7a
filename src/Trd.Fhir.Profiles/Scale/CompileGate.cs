using System.Collections.Concurrent;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Scale;

/// <summary>
/// Makes <see cref="TrdValidator"/> safe to call concurrently without ever holding a lock while a caller's instance
/// validates. The first time a kind of resource (type + profile asked for + claimed meta.profiles) is seen, an empty
/// instance of that kind is validated under a lock — that loads and compiles its schemas, milliseconds, and never two
/// compilations at once (what <see cref="TrdValidator.WarmUp"/> does for our profiles at start-up). The instance itself is
/// then validated outside the lock, reading the caches like any warm validation. A 10,000-entry Bundle of a new mix of kinds
/// therefore holds the lock for one empty instance per kind, not for its whole validation.
/// </summary>
internal sealed class CompileGate(Func<Resource, string?, OperationOutcome> validate, IReadOnlyDictionary<string, string> byKind)
{
    private readonly ConcurrentDictionary<string, byte> _compiled = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Kinds compiled so far (tests).</summary>
    public int Count => _compiled.Count;

    public void Ensure(Resource resource, string? profile, ProfilePolicy policy)
    {
        List<(string Key, string Type, string? Profile, string[] Claimed)>? cold = null;
        foreach (var kind in Kinds(resource, profile, policy, depth: 0))
        {
            if (_compiled.ContainsKey(kind.Key)) continue;
            (cold ??= []).Add(kind);
        }
        if (cold is null) return;
        lock (_lock)
        {
            foreach (var (key, type, asked, claimed) in cold)
            {
                if (_compiled.ContainsKey(key)) continue;
                if (ModelInfo.GetTypeForFhirType(type) is { } t && Activator.CreateInstance(t) is Resource stub)
                {
                    if (claimed.Length > 0) stub.Meta = new Meta { Profile = claimed };
                    validate(stub, asked);
                }
                _compiled.TryAdd(key, 0);
            }
        }
    }

    private IEnumerable<(string Key, string Type, string? Profile, string[] Claimed)> Kinds(Resource resource, string? profile, ProfilePolicy policy, int depth)
    {
        var claimed = resource.Meta?.Profile.OfType<string>().ToList() ?? [];
        if (depth > 0 && policy == ProfilePolicy.MetaProfileAndKind && byKind.TryGetValue(resource.TypeName, out var url) && !claimed.Contains(url)) claimed.Add(url);
        // a vital-sign Observation is validated against its core profile too (Validation/VitalSigns.cs): compile that here
        if (Validation.VitalSigns.ImpliedProfile(resource) is { } vital && !claimed.Contains(vital)) claimed.Add(vital);
        claimed.Sort(StringComparer.Ordinal);
        yield return ($"{resource.TypeName}|{profile}|{string.Join(' ', claimed)}", resource.TypeName, profile, [.. claimed]);
        if (resource is not Bundle bundle || depth > 2) yield break;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in bundle.Entry)
        {
            if (entry?.Resource is not { } r) continue;
            foreach (var kind in Kinds(r, null, policy, depth + 1))
            {
                if (seen.Add(kind.Key)) yield return kind;
            }
        }
    }
}
