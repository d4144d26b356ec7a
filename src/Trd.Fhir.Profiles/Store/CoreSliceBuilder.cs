using System.Security.Cryptography;
using System.Text;
using System.Xml;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Trd.Fhir.Profiles.Store;

/// <summary>
/// Generates <c>Generated/core.pack</c>: an index of every canonical resource in <c>specification.zip</c> (member + byte range),
/// plus the "slice" — the core artefacts our profiles and the common TRD resource types reach — as trimmed JSON.
/// Run by <c>tools/Trd.Fhir.Generate</c>; re-run by the staleness test. Deterministic: same inputs, same bytes.
/// </summary>
internal static class CoreSliceBuilder
{
    /// <summary>Bump when the pack layout or the trimming/closure rules change.</summary>
    internal const string BuilderVersion = "core-slice/2";

    /// <summary>Resource types a TRD pipeline validates; their closure goes into the slice.</summary>
    public static readonly IReadOnlyList<string> SeedResourceTypes =
    [
        "Observation", "CarePlan", "Condition", "Goal", "CareTeam", "MedicationRequest", "MedicationStatement", "ServiceRequest",
        "Procedure", "Patient", "Bundle", "Flag", "DetectedIssue", "OperationOutcome",
    ];

    private static readonly string[] BundleMembers =
    [
        "profiles-types.xml", "profiles-resources.xml", "profiles-others.xml", "extension-definitions.xml",
        "valuesets.xml", "v3-codesystems.xml", "v2-tables.xml", "conceptmaps.xml", "namingsystem-registry.xml", "search-parameters.xml",
    ];

    private const string CoreSd = "http://hl7.org/fhir/StructureDefinition/";

    public sealed record Result(byte[] Pack, string InputsHash, int IndexCount, int SliceCount, IReadOnlyList<string> SliceUrls);

    /// <param name="zipPath">specification.zip of Hl7.Fhir.Specification.Data.R4.</param>
    /// <param name="externalCanonicals">Canonical URLs our own artefacts point at (bases, types, bindings…); those found in core are seeds.</param>
    /// <param name="recordPrefetch">Given the finished pack, returns (resource type, URIs a cold validation requests) to embed.</param>
    public static Result Build(string zipPath, IEnumerable<string> externalCanonicals,
        Func<ArtifactPack, IEnumerable<(string Key, IReadOnlyList<string> Uris)>>? recordPrefetch = null)
    {
        var external = externalCanonicals.Select(StripVersion).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

        // 1. Index every resource with a canonical url in the XML bundles (first occurrence wins, as a Bundle scan would).
        var index = new Dictionary<string, (PackEntry Entry, byte[] Member)>(StringComparer.Ordinal);
        foreach (var member in BundleMembers)
        {
            var bytes = CoreSpecStore.InflateMember(zipPath, member);
            foreach (var (offset, length) in ResourceSegments(bytes))
            {
                var (type, url, version) = ReadHeader(bytes.AsSpan((int)offset, length));
                if (url is null || index.ContainsKey(url)) continue;
                index[url] = (new PackEntry(url, version, type, PackEntryKind.ZipXml, member, offset, length, ""), bytes);
            }
        }

        // 2. The closure: deep for seeds, bases, element types, type profiles and bound value sets; shallow (the artefact only)
        //    for reference target profiles, which the validator resolves to learn their type but only walks when it validates one.
        var parsed = new Dictionary<string, Resource>(StringComparer.Ordinal);
        Resource? Get(string url)
        {
            url = StripVersion(url);
            if (parsed.TryGetValue(url, out var r)) return r;
            if (!index.TryGetValue(url, out var hit)) return null;
            r = CoreSpecStore.ParseXmlSegment(hit.Member.AsSpan((int)hit.Entry.Offset, hit.Entry.Length).ToArray(), url);
            parsed[url] = r;
            return r;
        }

        var slice = new SortedSet<string>(StringComparer.Ordinal);
        var deepDone = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        void Deep(string? url)
        {
            if (string.IsNullOrEmpty(url)) return;
            url = StripVersion(url);
            if (!index.ContainsKey(url) || !deepDone.Add(url)) return;
            slice.Add(url);
            queue.Enqueue(url);
        }
        void Shallow(string? url)
        {
            if (string.IsNullOrEmpty(url)) return;
            url = StripVersion(url);
            if (index.ContainsKey(url)) slice.Add(url);
        }

        foreach (var t in SeedResourceTypes) Deep(CoreSd + t);
        Deep(CoreSd + "Extension");
        foreach (var u in external) Deep(u);

        while (queue.Count > 0)
        {
            switch (Get(queue.Dequeue()))
            {
                case StructureDefinition sd:
                    Deep(sd.BaseDefinition);
                    var elements = sd.Snapshot?.Element ?? sd.Differential?.Element ?? [];
                    foreach (var ed in elements)
                    {
                        foreach (var tr in ed.Type)
                        {
                            if (tr.Code is { } code && !code.StartsWith("http://hl7.org/fhirpath/", StringComparison.Ordinal))
                                Deep(code.Contains(':', StringComparison.Ordinal) ? code : CoreSd + code);
                            foreach (var p in tr.Profile) Deep(p);
                            foreach (var p in tr.TargetProfile) Shallow(p);
                        }
                        if (ed.Binding is { ValueSet: { } vs, Strength: BindingStrength.Required or BindingStrength.Extensible }) Deep(vs);
                        if (ed.Binding?.GetExtensionValue<Hl7.Fhir.Model.Canonical>("http://hl7.org/fhir/StructureDefinition/elementdefinition-maxValueSet") is { Value: { } max }) Deep(max);
                    }
                    break;
                case ValueSet vs:
                    foreach (var inc in vs.Compose?.Include.Concat(vs.Compose.Exclude) ?? [])
                    {
                        Deep(inc.System);
                        foreach (var v in inc.ValueSet) Deep(v);
                    }
                    break;
            }
        }

        // 3. Write: trimmed JSON for the slice, byte ranges for the rest. The zip location of a slice entry is kept in its tag.
        var serializer = new FhirJsonSerializer();
        var items = new List<(PackEntry, byte[]?)>(index.Count);
        foreach (var url in index.Keys.Order(StringComparer.Ordinal))
        {
            var e = index[url].Entry;
            if (slice.Contains(url))
            {
                var r = Get(url)!;
                Trim(r);
                var json = Encoding.UTF8.GetBytes(serializer.SerializeToString(r));
                items.Add((e with { Kind = PackEntryKind.Json, Tag = $"{e.Location}@{e.Offset}@{e.Length}" }, json));
            }
            else
            {
                items.Add((e, null));
            }
        }

        var hash = InputsHash(zipPath, external);
        var pack = ArtifactPack.Write(hash, items);
        if (recordPrefetch is not null)
        {
            foreach (var (key, uris) in recordPrefetch(ArtifactPack.Read(pack)).OrderBy(l => l.Key, StringComparer.Ordinal).ToList())
                items.Add((new PackEntry(TrdResolver.PrefetchPrefix + key, null, "PrefetchList", PackEntryKind.Json, "", 0, 0, ""), ArtifactPack.WriteList(uris)));
            pack = ArtifactPack.Write(hash, items);
        }
        return new Result(pack, hash, index.Count, slice.Count, slice.ToList());
    }

    /// <summary>sha256 over the builder version, the spec archive, the seed list and our external canonicals.</summary>
    public static string InputsHash(string zipPath, IEnumerable<string> externalCanonicals)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(BuilderVersion + "\n"));
        sha.AppendData(SHA256.HashData(File.ReadAllBytes(zipPath)));
        foreach (var s in SeedResourceTypes) sha.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        foreach (var s in externalCanonicals.Select(StripVersion).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            sha.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Removes what validation never reads: narrative, documentation, mappings, examples, XPath, and the differential of
    /// core base types (specializations: their snapshots are complete and nothing derives a snapshot from their differential). The equivalence test checks that slice and zip give the same
    /// OperationOutcomes.
    /// </summary>
    internal static void Trim(Resource r)
    {
        if (r is DomainResource dr) dr.Text = null;
        switch (r)
        {
            case StructureDefinition sd:
                sd.Description = null;
                sd.Purpose = null;
                sd.Copyright = null;
                sd.Contact.Clear();
                sd.Mapping.Clear();
                // The snapshot generator reads the differential of core *constraints* (extensions such as flag-detail,
                // profiles such as vitalsigns) that our profiles use or derive from; base types never need theirs.
                if (sd.Snapshot is not null && sd.Derivation == StructureDefinition.TypeDerivationRule.Specialization) sd.Differential = null;
                foreach (var ed in sd.Snapshot?.Element ?? sd.Differential?.Element ?? [])
                {
                    ed.Definition = null;
                    ed.Comment = null;
                    ed.Requirements = null;
                    ed.AliasElement.Clear();
                    ed.Mapping.Clear();
                    ed.Example.Clear();
                    foreach (var c in ed.Constraint) c.Xpath = null;
                }
                break;
            case ValueSet vs:
                vs.Description = null;
                vs.Purpose = null;
                vs.Copyright = null;
                vs.Contact.Clear();
                break;
            case CodeSystem cs:
                cs.Description = null;
                cs.Purpose = null;
                cs.Copyright = null;
                cs.Contact.Clear();
                break;
        }
    }

    internal static string StripVersion(string url)
    {
        var bar = url.IndexOf('|', StringComparison.Ordinal);
        return bar < 0 ? url : url[..bar];
    }

    /// <summary>Byte ranges of each <c>entry/resource</c> child element in a spec Bundle (pretty-printed, two-space indent).</summary>
    internal static IEnumerable<(long Offset, int Length)> ResourceSegments(byte[] bundle)
    {
        var open = "\n    <resource>"u8.ToArray();
        var close = "\n    </resource>"u8.ToArray();
        var pos = 0;
        while (true)
        {
            var i = bundle.AsSpan(pos).IndexOf(open);
            if (i < 0) yield break;
            var start = pos + i + open.Length;
            var j = bundle.AsSpan(start).IndexOf(close);
            if (j < 0) throw new InvalidDataException("Unbalanced <resource> in a specification bundle.");
            var s = start;
            while (bundle[s] is (byte)'\n' or (byte)'\r' or (byte)' ') s++;
            yield return (s, start + j - s);
            pos = start + j + close.Length;
        }
    }

    /// <summary>Reads the resource type and the top-level url/version of a segment without building a POCO.</summary>
    private static (string Type, string? Url, string? Version) ReadHeader(ReadOnlySpan<byte> segment)
    {
        using var reader = XmlReader.Create(new MemoryStream(segment.ToArray()), new XmlReaderSettings { IgnoreComments = true, IgnoreWhitespace = true });
        reader.MoveToContent();
        var type = reader.LocalName;
        string? url = null, version = null;
        if (reader.IsEmptyElement) return (type, null, null);
        reader.Read();
        while (reader.NodeType != XmlNodeType.EndElement && !reader.EOF)
        {
            if (reader.NodeType == XmlNodeType.Element)
            {
                if (reader.LocalName == "url") url ??= reader.GetAttribute("value");
                else if (reader.LocalName == "version") version ??= reader.GetAttribute("value");
                reader.Skip();
            }
            else
            {
                reader.Read();
            }
        }
        return (type, url, version);
    }
}
