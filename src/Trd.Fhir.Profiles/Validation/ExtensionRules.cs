using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Store;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Complex extensions (extensibility.html#complex): a nested extension whose <c>url</c> is relative names one of the parts
/// its parent extension's definition declares (the slices of <c>Extension.extension</c>, each with a fixed <c>url</c>);
/// any other relative url has no meaning. The Firely engine matches nested extensions against those slices but lets an
/// unmatched one through an open slicing; the reference reports it ("Sub-extension url 'x' is not defined by the
/// Extension …"). Only definitions the engine already resolved are read (from the resolver's cache); the parts of each
/// definition are collected once per process.
/// </summary>
internal sealed class ExtensionRules(TrdResolver resolver)
{
    private readonly ConcurrentDictionary<string, HashSet<string>?> _parts = new(StringComparer.Ordinal);

    /// <param name="reported">The expressions the engine already reported an error at (a closed slicing reports the
    /// same nested extension): not reported twice.</param>
    public void Check(Extension extension, string path, HashSet<string> reported, List<IssueComponent> found)
    {
        if (extension.Extension.Count == 0 || extension.Url is not { Length: > 0 } url || !url.Contains(':', StringComparison.Ordinal)) return;
        if (Parts(url) is not { Count: > 0 } parts) return;
        for (var i = 0; i < extension.Extension.Count; i++)
        {
            if (extension.Extension[i].Url is not { Length: > 0 } sub || sub.Contains(':', StringComparison.Ordinal) || parts.Contains(sub)) continue;
            if (reported.Contains($"{path}.extension[{i}]")) continue;
            found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Structure, "extension-part-unknown",
                $"The nested extension url '{sub}' is not one of the parts the extension '{url}' defines ({string.Join(", ", parts.Order(StringComparer.Ordinal))}); a relative url only has a meaning inside its parent extension's definition.",
                $"{path}.extension[{i}]"));
        }
    }

    /// <summary>The fixed urls of <c>Extension.extension</c> in the definition of <paramref name="url"/>; null when it
    /// does not resolve (reported elsewhere) or is not a complex extension.</summary>
    private HashSet<string>? Parts(string url) => _parts.GetOrAdd(url, u =>
    {
        var bar = u.IndexOf('|');
        if (resolver.Resolve(bar < 0 ? u : u[..bar]) is not StructureDefinition { Type: "Extension" } sd) return null;
        var parts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in (sd.Snapshot?.Element ?? []).Concat(sd.Differential?.Element ?? []))
        {
            if (e.Path == "Extension.extension.url" && e.Fixed is FhirUri { Value: { Length: > 0 } part }) parts.Add(part);
        }
        return parts.Count > 0 ? parts : null;
    });
}
