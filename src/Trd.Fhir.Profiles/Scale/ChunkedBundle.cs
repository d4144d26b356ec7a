using System.Collections;
using System.Text;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;

namespace Trd.Fhir.Profiles.Scale;

/// <summary>
/// Validates a large Bundle in time linear in its size, with the findings of one whole-Bundle validation.
/// <para>
/// Why: the Firely validator resolves every reference inside a Bundle by scanning the entries from the first one, building
/// a <see cref="ResourceIdentity"/> per entry (PocoNodeExtensions.tryResolveBundleEntry); a reference nothing in the
/// Bundle satisfies (e.g. a conditional <c>Patient?identifier=…</c>) scans them all. With one or two references per entry
/// that is quadratic: 1,000 PHQ-9 totals (2,018 entries) took 15 s, 10,000 about 19 minutes.
/// </para>
/// <para>
/// How: (1) a "shell" copy of the Bundle — every entry kept, each entry's resource replaced by a stub that keeps what the
/// Bundle's own invariants read (resource present, id, meta.versionId; the first entry stays real for bdl-11/12) — is
/// validated for the Bundle-level and entry-level findings; findings inside a stubbed resource are dropped.
/// (2) The entries are validated in chunks: each chunk is a small Bundle holding the chunk's entries plus every entry any
/// of them may reference (transitively, since a reference target is validated against its target profile with its own
/// references), in their original order — so "the first entry that matches" is the same entry as in the whole Bundle.
/// Candidates are found through an index on the identity's id, which <see cref="ResourceIdentity.IsTargetOf(ResourceIdentity)"/>
/// requires to be equal. Findings are mapped back to the original entry indexes; findings about the chunk Bundle itself
/// are dropped. (3) Findings the validator itself counts as duplicates (same number, location, message, severity, type) are merged, the
/// first one kept, as ResultReport.RemoveDuplicateEvidence does.
/// Equivalence with the whole-Bundle validation is tested (ChunkedBundleTests) over the golden Bundles, the invalid
/// examples and mutations of them, with chunks as small as one entry.
/// </para>
/// </summary>
internal static partial class ChunkedBundle
{
    private const string NullKey = "\0";

    public static OperationOutcome Validate(Bundle bundle, int chunkSize, Func<Bundle, OperationOutcome> validate, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var entries = bundle.Entry;
        var n = entries.Count;
        var identities = new Dictionary<string, List<int>>(n, StringComparer.Ordinal);
        for (var i = 0; i < n; i++)
        {
            if (entries[i]?.Resource is not { } r) continue;
            var id = Identity(r, entries[i].FullUrl)?.Id ?? NullKey;
            if (!identities.TryGetValue(id, out var list)) identities[id] = list = [];
            list.Add(i);
        }

        var result = new OperationOutcome();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var issue in validate(Shell(bundle)).Issue)
        {
            if (issue.Expression.Any(e => e is not null && UnderResource().IsMatch(e))) continue;
            if (seen.Add(Key(issue))) result.Issue.Add(issue);
        }

        var referenceCache = new Dictionary<int, int[]>();
        for (var start = 0; start < n; start += chunkSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var members = Closure(entries, start, Math.Min(n, start + chunkSize), identities, referenceCache);
            var chunk = new Bundle { TypeElement = bundle.TypeElement };
            foreach (var i in members) chunk.Entry.Add(entries[i]);
            foreach (var issue in validate(chunk).Issue)
            {
                if (!Remap(issue, members)) continue;
                if (seen.Add(Key(issue))) result.Issue.Add(issue);
            }
        }
        Order(result);
        return result;
    }

    /// <summary>The whole Bundle with each entry's resource (but the first) replaced by an empty Parameters keeping its id and versionId.</summary>
    private static Bundle Shell(Bundle bundle)
    {
        var shell = (Bundle)bundle.DeepCopy();
        for (var i = 1; i < shell.Entry.Count; i++)
        {
            if (shell.Entry[i]?.Resource is not { } r) continue;
            shell.Entry[i].Resource = new Parameters
            {
                IdElement = r.IdElement,
                Meta = r.Meta?.VersionIdElement is { } v ? new Meta { VersionIdElement = v } : null,
            };
        }
        return shell;
    }

    /// <summary>The chunk's entries and every entry they may reach through references, ascending.</summary>
    private static int[] Closure(List<Bundle.EntryComponent> entries, int from, int to, Dictionary<string, List<int>> identities, Dictionary<int, int[]> cache)
    {
        var members = new HashSet<int>();
        var queue = new Queue<int>();
        for (var i = from; i < to; i++)
        {
            members.Add(i);
            queue.Enqueue(i);
        }
        while (queue.TryDequeue(out var i))
        {
            if (!cache.TryGetValue(i, out var targets)) cache[i] = targets = Candidates(entries[i], identities);
            foreach (var t in targets)
            {
                if (members.Add(t)) queue.Enqueue(t);
            }
        }
        var sorted = members.ToArray();
        Array.Sort(sorted);
        return sorted;
    }

    /// <summary>Every entry whose identity has the id of one of the references inside the entry's resource.</summary>
    private static int[] Candidates(Bundle.EntryComponent entry, Dictionary<string, List<int>> identities)
    {
        if (entry?.Resource is not { } resource) return [];
        ResourceIdentity? own = null;
        var found = new HashSet<int>();
        foreach (var url in References(resource))
        {
            if (url.Length == 0 || url[0] == '#') continue;
            var identity = new ResourceIdentity(url);
            AddCandidates(identity.Id, identities, found);
            if (identity.IsRelativeRestUrl && entry.FullUrl is { } fullUrl)
            {
                // PocoNodeExtensions.MakeAbsolute: a relative reference from an entry with a urn fullUrl becomes "urn/id".
                own ??= new ResourceIdentity(fullUrl);
                if (own.IsUrn) AddCandidates(new ResourceIdentity($"{own}/{identity.Id}").Id, identities, found);
            }
        }
        return [.. found];
    }

    private static void AddCandidates(string? id, Dictionary<string, List<int>> identities, HashSet<int> found)
    {
        if (identities.TryGetValue(id ?? NullKey, out var list)) found.UnionWith(list);
    }

    private static ResourceIdentity? Identity(Resource r, string? fullUrl)
    {
        try
        {
            return r.ResourceIdentity(null, fullUrl);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            return null;
        }
    }

    /// <summary>The reference strings (Reference.reference, canonical) anywhere inside <paramref name="node"/>.</summary>
    private static IEnumerable<string> References(Base node)
    {
        var stack = new Stack<Base>();
        stack.Push(node);
        while (stack.TryPop(out var current))
        {
            if (current is ResourceReference { Reference: { } reference }) yield return reference;
            else if (current is Hl7.Fhir.Model.Canonical { Value: { } canonical }) yield return canonical;
            foreach (var (_, value) in current.EnumerateElements())
            {
                if (value is Base b) stack.Push(b);
                else if (value is IEnumerable list and not string)
                {
                    foreach (var item in list)
                    {
                        if (item is Base bi) stack.Push(bi);
                    }
                }
            }
        }
    }

    /// <summary>Maps <c>Bundle.entry[k]</c> of a chunk to the original index; false for findings about the chunk Bundle itself.</summary>
    private static bool Remap(OperationOutcome.IssueComponent issue, int[] members)
    {
        if (!issue.Expression.Any() && !issue.Location.Any()) return true;
        var ok = true;
        issue.Expression = issue.Expression.Select(e => Map(e, members, ref ok)).ToList();
        issue.Location = issue.Location.Select(e => Map(e, members, ref ok)).ToList();
        return ok;
    }

    private static string Map(string? path, int[] members, ref bool ok)
    {
        if (path is null) return path!;
        var m = EntryIndex().Match(path);
        if (!m.Success || !int.TryParse(m.Groups[1].ValueSpan, out var k) || k < 0 || k >= members.Length)
        {
            ok = false;
            return path;
        }
        return string.Concat("Bundle.entry[", members[k].ToString(System.Globalization.CultureInfo.InvariantCulture), "]", path.AsSpan(m.Length));
    }

    /// <summary>Bundle-level findings first, then by entry index, each group in the validator's own order.</summary>
    private static void Order(OperationOutcome oo)
    {
        oo.Issue = oo.Issue.Select((issue, i) => (issue, i))
            .OrderBy(x => EntryOf(x.issue)).ThenBy(x => x.i)
            .Select(x => x.issue).ToList();
    }

    private static int EntryOf(OperationOutcome.IssueComponent issue)
    {
        var e = issue.Expression.FirstOrDefault();
        if (e is null) return -1;
        var m = EntryIndex().Match(e);
        return m.Success && int.TryParse(m.Groups[1].ValueSpan, out var k) ? k : -1;
    }

    /// <summary>What the validator's own de-duplication compares (IssueAssertion.Equals: issue number, location, message,
    /// severity, type) — not the diagnostics or the authority extension: the first occurrence wins.</summary>
    private static string Key(OperationOutcome.IssueComponent i)
    {
        var sb = new StringBuilder();
        sb.Append(i.Severity).Append('|').Append(i.Code).Append('|').Append(i.Details?.Text).Append('|');
        foreach (var c in i.Details?.Coding ?? []) sb.Append(c.Code).Append(',');
        sb.Append('|').AppendJoin(',', i.Expression).Append('|').AppendJoin(',', i.Location);
        return sb.ToString();
    }

    [GeneratedRegex(@"^Bundle\.entry\[(\d+)\]")]
    private static partial Regex EntryIndex();

    [GeneratedRegex(@"^Bundle\.entry\[\d+\]\.resource(\[|\.|$)")]
    private static partial Regex UnderResource();
}
