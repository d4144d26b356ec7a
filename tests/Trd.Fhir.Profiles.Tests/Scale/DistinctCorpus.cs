using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>
/// Resources the validator has not seen: copies of the golden Bundles' entries as a Bulk Data export of many patients would
/// hold them (as tests/perf/gen-mixed-ndjson.py does, through the SDK's POCOs): copy k gets its own ids, identifier values,
/// relative <c>Type/id</c> references (urn:uuid and conditional references resolved to the copy's ids) and dates shifted by
/// a per-copy number of days; narrative and free texts get the copy number. Every resource of the corpus is distinct.
/// </summary>
public static class DistinctCorpus
{
    public static List<Resource> Make(string goldenDirectory, int copies)
    {
        var bundles = Directory.EnumerateFiles(goldenDirectory, "*.bundle.json").Order(StringComparer.Ordinal)
            .Select(f => (Bundle)TrdFhirParser.ParseJson(File.ReadAllText(f)).Resource!).ToList();
        var list = new List<Resource>();
        for (var k = 0; k < copies; k++)
        {
            foreach (var (bundle, b) in bundles.Select((x, i) => (x, i)))
            {
                var ids = bundle.Entry.Select((e, i) => (e.FullUrl, Ref: $"{e.Resource!.TypeName}/{e.Resource.TypeName.ToLowerInvariant()}-{b}-{i}-{k}"))
                    .Where(x => x.FullUrl is not null).ToDictionary(x => x.FullUrl!, x => x.Ref, StringComparer.Ordinal);
                foreach (var (e, i) in bundle.Entry.Select((e, i) => (e, i)))
                {
                    var r = (Resource)e.Resource!.DeepCopy();
                    r.Id = $"{r.TypeName.ToLowerInvariant()}-{b}-{i}-{k}";
                    Rewrite(r, k, ids);
                    list.Add(r);
                }
            }
        }
        return list;
    }

    private static void Rewrite(Base node, int k, Dictionary<string, string> ids)
    {
        foreach (var (_, value) in node.EnumerateElements())
        {
            foreach (var child in value is Base one ? [one] : value as IEnumerable<Base> ?? [])
            {
                switch (child)
                {
                    case ResourceReference { Reference: { } reference } rr:
                        if (ids.TryGetValue(reference, out var target)) rr.Reference = target;
                        else if (reference.IndexOf('?') is > 0 and var q) rr.Reference = $"{reference[..q]}/patient-{k / 40}";
                        break;
                    case Identifier { Value: { } v } id:
                        id.Value = $"{v}-{k}";
                        break;
                    case FhirDateTime or Date or Instant when child is PrimitiveType { JsonValue: string s } p && s.Length >= 10
                        && DateOnly.TryParseExact(s[..10], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d):
                        p.JsonValue = d.AddDays(k % 365).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + s[10..];
                        break;
                    case Annotation { Text: { } t } a:
                        a.Text = $"{t} ({k})";
                        break;
                }
                if (child is not Resource) Rewrite(child, k, ids);
            }
        }
    }
}
