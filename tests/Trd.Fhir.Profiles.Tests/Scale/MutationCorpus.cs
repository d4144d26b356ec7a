using System.Collections;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>
/// Seeded single-element mutations of a corpus, made through the SDK's POCOs: for a chosen node of a resource, remove it,
/// duplicate a list item, or change one value — another value seen at the same path elsewhere in the corpus (another code
/// of the same value set, another system, another reference, another date), another valid value of the same type, an
/// invalid one, empty or padded text, far past and future dates, time zone added or dropped, an over-long string — or
/// swap a Period, retarget a reference (other type, contained <c>#x</c> without contained, absolute URL, urn:uuid), change
/// meta.profile, add an unknown extension. Half of the changes keep the value's class (same length class, same date
/// precision, same reference type) so that they land on a remembered shape and test the memo's re-checks.
/// </summary>
internal static class MutationCorpus
{
    /// <summary>One place in a resource: a child <paramref name="Name"/> of <paramref name="Parent"/>, item <paramref name="Index"/> of a list.</summary>
    internal sealed record Site(Base Parent, string Name, int? Index, Base Node, string Path);

    public static IEnumerable<(string What, Resource Mutant)> Generate(IReadOnlyList<Resource> corpus, int perResource, int seed)
    {
        var pool = new Dictionary<string, List<object>>(StringComparer.Ordinal);
        foreach (var r in corpus)
        {
            foreach (var s in Sites(r))
            {
                if (s.Node is PrimitiveType { JsonValue: { } v }) (pool.TryGetValue(s.Path, out var l) ? l : pool[s.Path] = []).Add(v);
            }
        }
        var random = new Random(seed);
        for (var n = 0; n < corpus.Count; n++)
        {
            var count = Sites(corpus[n]).Count;
            for (var m = 0; m < perResource; m++)
            {
                var copy = (Resource)corpus[n].DeepCopy();
                var sites = Sites(copy);
                var site = sites[random.Next(count)];
                var op = random.Next(100);
                if (Apply(copy, site, op, random, pool) is { } what) yield return ($"resource {n} {copy.TypeName} {site.Path}: {what}", copy);
            }
        }
    }

    internal static List<Site> Sites(Resource r)
    {
        var list = new List<Site>();
        void Walk(Base parent, string path)
        {
            foreach (var (name, value) in parent.EnumerateElements())
            {
                if (value is Base b)
                {
                    list.Add(new Site(parent, name, null, b, path + "." + name));
                    if (b is not Resource) Walk(b, path + "." + name);
                }
                else if (value is IList items)
                {
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (items[i] is not Base item) continue;
                        list.Add(new Site(parent, name, i, item, path + "." + name));
                        if (item is not Resource) Walk(item, path + "." + name);
                    }
                }
            }
        }
        Walk(r, r.TypeName);
        return list;
    }

    private static string? Apply(Resource r, Site s, int op, Random random, Dictionary<string, List<object>> pool)
    {
        switch (op)
        {
            case < 8: // remove
                if (s.Index is { } at) ((IList)s.Parent[s.Name]!).RemoveAt(at);
                else s.Parent.SetValue(s.Name, null);
                return "removed";
            case < 12 when s.Index is { } di: // duplicate a list item
                ((IList)s.Parent[s.Name]!).Insert(di, s.Node.DeepCopy());
                return "duplicated";
            case < 16 when s.Node is Period { Start: { } start, End: { } end } p:
                (p.Start, p.End) = (end, start);
                return "period swapped";
            case < 16 when s.Node is ResourceReference rr:
                rr.Reference = (op % 5) switch
                {
                    0 => "Practitioner/example-other",
                    1 => "#missing-contained",
                    2 => "https://example.org/fhir/Patient/abs-1",
                    3 => "urn:uuid:0f1e2d3c-4b5a-4968-8776-655443322110",
                    _ => (rr.Reference?.Split('/')[0] ?? "Patient") + "/other-" + random.Next(1000),
                };
                return $"reference {rr.Reference}";
            case < 19:
                r.Meta ??= new Meta();
                r.Meta.Profile = (op % 3) switch
                {
                    0 => [.. r.Meta.Profile, "https://example.org/fhir/StructureDefinition/unknown"],
                    1 => [],
                    _ => [Trd.Fhir.Profiles.Canonical.Base + "/StructureDefinition/trd-observation-phq9-total"],
                };
                return "meta.profile changed";
            case < 22 when s.Node is DataType { } dt and not PrimitiveType:
                dt.Extension.Add(new Extension("https://example.org/fhir/StructureDefinition/unknown-" + (op % 2), new FhirString("x")));
                return "unknown extension added";
            case < 22:
                if (r is not DomainResource dr) return null;
                dr.Extension.Add(new Extension("https://example.org/fhir/StructureDefinition/unknown", new FhirString("x")));
                return "unknown extension on the resource";
        }
        if (s.Node is not PrimitiveType prim) return null;
        var value = op < 55 && pool.TryGetValue(s.Path, out var seen) ? seen[random.Next(seen.Count)] : Variant(prim, op, random);
        if (value is null) return null;
        prim.JsonValue = value;
        return $"value {Describe(value)}";
    }

    private static string Describe(object v) => v is string s && s.Length > 40 ? $"({s.Length} characters)" : $"'{v}'";

    /// <summary>Another value for a primitive, by its type: same class (free positions keep their key) or not.</summary>
    private static object? Variant(PrimitiveType p, int op, Random random)
    {
        var k = op % 8;
        switch (p)
        {
            case FhirDateTime or Date or Instant:
                return k switch
                {
                    0 => "1900-01-01",
                    1 => "2999-12-31T23:59:59+14:00",
                    2 => "2024-06-01T10:00:00", // no time zone: invalid for dateTime with a time
                    3 => "2024-02-30",
                    4 => "2024-13",
                    5 => ShiftDigits(p.JsonValue as string, random),
                    6 => "2024-06-01T10:00:00Z",
                    _ => ShiftDigits(p.JsonValue as string, random),
                };
            case Integer or PositiveInt or UnsignedInt:
                return k switch { 0 => -1, 1 => 0, 2 => 100, _ => ((int?)p.JsonValue ?? 0) + 1 };
            case FhirDecimal:
                return k switch { 0 => -1.5m, 1 => 0m, _ => ((decimal?)p.JsonValue ?? 0m) + 0.1m };
            case FhirBoolean:
                return !((bool?)p.JsonValue ?? false);
            case Code:
                return k switch { 0 => "unknown-code", 1 => "", _ => "final" };
            case FhirUri or Hl7.Fhir.Model.Canonical or FhirUrl:
                return k switch { 0 => "http://example.org/other-system", 1 => "not a uri", _ => "urn:oid:1.2.3" };
            case Id:
                return k switch { 0 => "bad id!", 1 => new string('a', 65), 2 => "", _ => "other-id-" + random.Next(1000) };
            case FhirString or Markdown:
                return k switch
                {
                    0 => "",
                    1 => "   ",
                    2 => "  padded  ",
                    3 => new string('x', 5000),
                    4 => "with a final newline\n",
                    _ => "Another text " + random.Next(1000),
                };
        }
        return null;
    }

    /// <summary>The same date/time pattern with other digits (valid where the original was, mostly): keeps the shape key.</summary>
    private static string? ShiftDigits(string? v, Random random)
    {
        if (v is null || v.Length < 4) return v;
        var year = random.Next(1950, 2049).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return year + v[4..];
    }
}
