using Hl7.Fhir.Model;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Bundle rules (bundle.html) beyond the bdl-* invariants Firely evaluates: an entry's fullUrl is absolute ("The Absolute
/// URL for the resource") and, when RESTful, ends with the resource's type and id; a <c>urn:uuid:</c>/<c>urn:oid:</c> reference can only point into the Bundle, so it must
/// resolve there; in a document or message every relative reference must resolve inside the Bundle too
/// (bundle.html#references: "the document/message SHALL contain all resources it references"). In a searchset
/// (search-entry-mode, search.html): an entry whose search.mode is <c>outcome</c> holds an OperationOutcome about the
/// search; every other result (a <c>match</c> or an <c>include</c>) is a resource on the server, so it has an id; and a
/// <c>match</c> is of a type the search (the Bundle's <c>self</c> link: <c>[base]/[type]?…</c> or <c>_type=</c>) asks for.
/// One pass to index the entries, one over the references.
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
        if (bundle.Type == Bundle.BundleType.Searchset) SearchSet(bundle, path, found);
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

    private static void SearchSet(Bundle bundle, string path, List<IssueComponent> found)
    {
        var self = bundle.Link.FirstOrDefault(l => l.Relation == "self")?.Url;
        var searched = SearchedTypes(self);
        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            if (bundle.Entry[i].Resource is not { } r) continue;
            var mode = bundle.Entry[i].Search?.Mode;
            var at = $"{path}.entry[{i}].resource";
            if (mode == Bundle.SearchEntryMode.Outcome)
            {
                if (r is not OperationOutcome)
                    found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Invalid, "searchset-outcome-type",
                        $"This entry's search.mode is 'outcome', which is an OperationOutcome about the processing of the search, but it holds a {r.TypeName}.", at));
                continue;
            }
            if (mode is null && r is OperationOutcome) continue; // an outcome that does not say so
            if (string.IsNullOrEmpty(r.Id))
                found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Required, "searchset-result-id",
                    $"This {r.TypeName} is a search result, a resource on the server, so it must have an id.", at));
            if (mode == Bundle.SearchEntryMode.Match && searched is { Count: > 0 } && !searched.Contains(r.TypeName))
                found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Invalid, "searchset-match-type",
                    $"This entry is a match of the search '{self}', which searches {string.Join(", ", searched)}, but it holds a {r.TypeName}.", at));
        }
    }

    /// <summary>The resource types a search URL asks for: <c>[base]/[type]?…</c> (or <c>…/[type]/_search</c>, a
    /// compartment <c>…/Patient/1/[type]</c>), or its <c>_type</c> parameter; null when the URL says neither.</summary>
    internal static HashSet<string>? SearchedTypes(string? url)
    {
        if (string.IsNullOrEmpty(url)) return null;
        var query = url.IndexOf('?');
        var pathPart = (query >= 0 ? url[..query] : url).TrimEnd('/');
        var types = new HashSet<string>(StringComparer.Ordinal);
        if (query >= 0)
        {
            foreach (var pair in url[(query + 1)..].Split('&'))
            {
                if (!pair.StartsWith("_type=", StringComparison.Ordinal)) continue;
                foreach (var t in Uri.UnescapeDataString(pair[6..]).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    if (ModelInfo.IsKnownResource(t)) types.Add(t);
            }
        }
        var segments = pathPart.Split('/');
        var last = segments.Length > 0 ? segments[^1] : "";
        if (last == "_search" && segments.Length > 1) last = segments[^2];
        if (types.Count == 0 && ModelInfo.IsKnownResource(last)) types.Add(last);
        return types.Count > 0 ? types : null;
    }

    private static void FullUrlMatchesId(string url, Resource r, string entryPath, List<IssueComponent> found)
    {
        if (!DataTypeRules.HasScheme(url))
        {
            found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Invalid, "bundle-fullurl-absolute",
                $"The fullUrl '{url}' is not an absolute URL: it is the identity of the entry's resource, an absolute URL ([base]/{r.TypeName}/[id]) or a urn:uuid:/urn:oid: (Bundle.entry.fullUrl).", entryPath + ".fullUrl"));
            return;
        }
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
