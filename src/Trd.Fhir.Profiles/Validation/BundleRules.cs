using Hl7.Fhir.Model;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Bundle rules (bundle.html) beyond the bdl-* invariants Firely evaluates: an entry's RESTful fullUrl ends with the
/// resource's type and id; a <c>urn:uuid:</c>/<c>urn:oid:</c> reference can only point into the Bundle, so it must
/// resolve there; in a document or message every relative reference must resolve inside the Bundle too
/// (bundle.html#references: "the document/message SHALL contain all resources it references"). One pass to index the
/// entries, one over the references.
/// </summary>
internal static class BundleRules
{
    public static void Check(Bundle bundle, string path, List<IssueComponent> found)
    {
        var fullUrls = new HashSet<string>(StringComparer.Ordinal);
        var typeIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            var e = bundle.Entry[i];
            if (e.Resource is not { } r) continue;
            if (e.FullUrl is { Length: > 0 } url)
            {
                fullUrls.Add(url);
                FullUrlMatchesId(url, r, $"{path}.entry[{i}]", found);
            }
            if (r.Id is { Length: > 0 } id) typeIds.Add($"{r.TypeName}/{id}");
        }
        var closed = bundle.Type is Bundle.BundleType.Document or Bundle.BundleType.Message;
        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            if (bundle.Entry[i].Resource is not { } r || r is Bundle) continue;
            var entryPath = $"{path}.entry[{i}].resource";
            foreach (var (p, node) in SupplementaryChecks.Walk(r, entryPath))
            {
                if (node is not ResourceReference { Reference: { Length: > 0 } reference } || reference.StartsWith('#')) continue;
                if (Resolves(reference, fullUrls, typeIds, bundle.Entry[i].FullUrl)) continue;
                var isUrn = reference.StartsWith("urn:uuid:", StringComparison.Ordinal) || reference.StartsWith("urn:oid:", StringComparison.Ordinal);
                var conditional = reference.Contains('?', StringComparison.Ordinal);
                if (isUrn)
                    found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.NotFound, "bundle-reference-urn",
                        $"The reference '{reference}' is a URN, which can only point to an entry of this Bundle, and no entry has that fullUrl.", p + ".reference"));
                else if (closed && !conditional && !IsAbsolute(reference))
                    found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.NotFound, "bundle-reference-closed",
                        $"The reference '{reference}' does not resolve to an entry of this {bundle.Type.ToString()!.ToLowerInvariant()} Bundle, which must contain every resource it references.", p + ".reference"));
                // other Bundle types may point outside themselves
            }
        }
    }

    private static void FullUrlMatchesId(string url, Resource r, string entryPath, List<IssueComponent> found)
    {
        if (url.StartsWith("urn:", StringComparison.Ordinal)) return;
        var trimmed = url;
        var history = trimmed.IndexOf("/_history/", StringComparison.Ordinal);
        if (history >= 0) trimmed = trimmed[..history];
        var slash = trimmed.LastIndexOf('/');
        if (slash <= 0) return;
        var typeSlash = trimmed.LastIndexOf('/', slash - 1);
        var type = trimmed[(typeSlash + 1)..slash];
        var id = trimmed[(slash + 1)..];
        if (!ModelInfo.IsKnownResource(type)) return; // not a RESTful URL
        if (type != r.TypeName)
            found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Invalid, "bundle-fullurl-type",
                $"The fullUrl '{url}' names a {type}, but the entry's resource is a {r.TypeName}.", entryPath + ".fullUrl"));
        else if (r.Id is { Length: > 0 } rid && rid != id)
            found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Invalid, "bundle-fullurl-id",
                $"The fullUrl '{url}' ends with id '{id}', but the resource's id is '{rid}' (a RESTful fullUrl is [base]/{type}/[id] of the resource).", entryPath + ".fullUrl"));
    }

    private static bool Resolves(string reference, HashSet<string> fullUrls, HashSet<string> typeIds, string? fromFullUrl)
    {
        if (fullUrls.Contains(reference)) return true;
        var local = reference;
        var history = local.IndexOf("/_history/", StringComparison.Ordinal);
        if (history >= 0) local = local[..history];
        if (fullUrls.Contains(local)) return true;
        if (IsAbsolute(local)) return false;
        if (typeIds.Contains(local)) return true;
        // relative to the referring entry's base (bundle.html#references)
        if (fromFullUrl is { } from && IsAbsolute(from))
        {
            var cut = from.LastIndexOf('/');
            cut = cut > 0 ? from.LastIndexOf('/', cut - 1) : -1;
            if (cut > 0 && fullUrls.Contains(from[..(cut + 1)] + local)) return true;
        }
        return false;
    }

    private static bool IsAbsolute(string reference) => reference.Contains("://", StringComparison.Ordinal) || reference.StartsWith("urn:", StringComparison.Ordinal);
}
