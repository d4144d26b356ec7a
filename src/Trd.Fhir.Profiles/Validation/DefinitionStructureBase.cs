using Hl7.Fhir.Model;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// A constraint's differential against its base (profiling.html, elementdefinition.html), where the base's snapshot is held:
/// <list type="bullet">
/// <item>each path is an element of the base — a choice renamed to one of its types (<c>value[x]</c> → <c>valueQuantity</c>)
/// and a path inside a data type (<c>Patient.identifier.system</c>, looked up in that type's definition) included;</item>
/// <item>each <c>type.code</c> is one of the base element's types (or a specialisation of one);</item>
/// <item>cardinality is only restricted: <c>max</c> ≤ the base's max, and <c>min</c> ≥ the base's min (a slice may lower
/// its own min);</item>
/// <item>a <c>fixed[x]</c>/<c>pattern[x]</c> value is of the element's type;</item>
/// <item>the elements come in the order of the base.</item>
/// </list>
/// All errors, as the HL7 validator reports them when it builds the snapshot. Core type definitions are resolved through
/// the validator's cached resolver (a StructureDefinition instance is rare: its cost does not touch other resources).
/// </summary>
internal sealed partial class DefinitionRules
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Dictionary<string, (ElementDefinition, int)>?> _typeIndices = new(StringComparer.Ordinal);

    private sealed record BaseHit(ElementDefinition Element, int[] Order, string? ChosenType);

    private void AgainstBase(List<ElementDefinition> elements, string path, StructureDefinition baseSd, List<IssueComponent> found)
    {
        if (baseSd.Snapshot is not { Element.Count: > 0 } snapshot) return;
        var top = IndexOf(snapshot.Element);
        var root = snapshot.Element[0].Path + ".";
        int[]? previous = null;
        string? previousPath = null;
        var outOfOrder = false;
        // a choice the differential narrowed to one type (bounds[x]: Duration) has children of that type
        var narrowed = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < elements.Count; i++)
        {
            var e = elements[i];
            var at = $"{path}.element[{i}]";
            // a path outside the type is sdf-8a's finding (the engine's)
            if (e.Path is not { Length: > 0 } elementPath || !elementPath.StartsWith(root, StringComparison.Ordinal)) continue;
            if (e.Type.Count == 1 && e.Type[0].Code is { } only) narrowed.TryAdd(elementPath, only);
            if (Locate(top, elementPath, narrowed) is not { } hit)
            {
                found.Add(Error(IssueType.Structure, "sd-path-unknown", $"The differential names {elementPath}, which is not an element of the base {baseSd.Url} (profiling.html: a profile constrains the elements its base has).", at + ".path"));
                continue;
            }
            if (!outOfOrder && previous is not null && Compare(hit.Order, previous) < 0)
            {
                outOfOrder = true; // reported once per differential
                found.Add(Error(IssueType.Structure, "sd-order", $"Element {elementPath} is out of order: it comes after {previousPath}, but the differential must follow the order of the base definition.", at + ".path"));
            }
            previous = hit.Order;
            previousPath = elementPath;

            var allowed = hit.ChosenType is { } chosen ? [chosen] : hit.Element.Type.Select(t => t.Code).OfType<string>().ToList();
            // a FHIRPath system type (Element.id, Extension.url in R4 snapshots) stands for the primitive the element is
            if (allowed.Any(a => a.StartsWith("http://hl7.org/fhirpath/System.", StringComparison.Ordinal))) allowed = [];
            for (var k = 0; k < e.Type.Count; k++)
            {
                if (e.Type[k].Code is not { Length: > 0 } code || allowed.Count == 0 || !IsKnownType(code) || allowed.Any(a => Specialises(code, a))) continue;
                found.Add(Error(IssueType.Structure, "sd-type-not-in-base", $"The type '{code}' of {elementPath} is not one of the types the base allows there ({string.Join(", ", allowed)}).", $"{at}.type[{k}].code"));
            }
            foreach (var (kind, value) in new[] { ("fixed", e.Fixed), ("pattern", e.Pattern) })
            {
                // fixed[x]/pattern[x] is "of the same type as the element" (elementdefinition.html): the types the differential
                // gives it, else the base's
                var types = e.Type.Select(t => t.Code).OfType<string>().ToList() is { Count: > 0 } own ? own : allowed;
                if (value is null || types.Count == 0 || types.Any(t => t.StartsWith("http://hl7.org/fhirpath/System.", StringComparison.Ordinal))) continue;
                if (!types.Any(t => Specialises(value.TypeName, t)))
                    found.Add(Error(IssueType.Structure, "sd-fixed-type", $"The {kind} value of {elementPath} is a {value.TypeName}, but the element is of type {string.Join(" or ", types)}.", $"{at}.{kind}{char.ToUpperInvariant(value.TypeName[0])}{value.TypeName[1..]}"));
            }
            if (Cardinality(e.Max) is { } max && Cardinality(hit.Element.Max) is { } baseMax && max > baseMax)
                found.Add(Error(IssueType.Structure, "sd-cardinality", $"{elementPath} has max {e.Max}, above the base's max {hit.Element.Max}: a profile can only restrict cardinality.", at + ".max"));
            if (e.SliceName is not { Length: > 0 } && e.Min is { } min && hit.Element.Min is { } baseMin && min < baseMin)
                found.Add(Error(IssueType.Structure, "sd-cardinality", $"{elementPath} has min {min}, below the base's min {baseMin}: a profile can only restrict cardinality.", at + ".min"));
        }
    }

    /// <summary>The base element a differential path names, with its place in the base, or null when there is none.</summary>
    private BaseHit? Locate(Dictionary<string, (ElementDefinition Element, int Index)> top, string path, Dictionary<string, string> narrowed)
    {
        var steps = path.Split('.');
        var context = top;
        var current = steps[0];
        var order = new List<int>();
        ElementDefinition? element = null;
        string? chosen = null;
        for (var s = 1; s < steps.Length; s++)
        {
            var hit = Step(context, current, steps[s]);
            if (hit is null && element is not null)
            {
                // below a data type (or a content reference): continue in that type's own definition
                if (element.ContentReference is { Length: > 1 } reference && reference.StartsWith('#'))
                {
                    current = reference[1..];
                    hit = Step(context, current, steps[s]);
                }
                else if ((chosen ?? (element.Type.Count == 1 ? element.Type[0].Code : narrowed.GetValueOrDefault(string.Join('.', steps[..s])))) is { } typeCode
                    && TypeIndex(typeCode) is { } typeContext)
                {
                    context = typeContext;
                    current = typeCode;
                    hit = Step(context, current, steps[s]);
                }
            }
            if (hit is not { } h) return null;
            (element, chosen, current) = (h.Element, h.Chosen, h.Path);
            order.Add(h.Index);
        }
        return element is null ? null : new BaseHit(element, [.. order], chosen);
    }

    private static (ElementDefinition Element, int Index, string Path, string? Chosen)? Step(Dictionary<string, (ElementDefinition Element, int Index)> context, string parent, string step)
    {
        var candidate = $"{parent}.{step}";
        if (context.TryGetValue(candidate, out var direct)) return (direct.Element, direct.Index, candidate, null);
        // a choice element renamed to one of its types: value[x] → valueQuantity, valueString
        foreach (var (p, (element, index)) in context)
        {
            if (!p.EndsWith("[x]", StringComparison.Ordinal) || !p.StartsWith(parent + ".", StringComparison.Ordinal)) continue;
            var name = p[(parent.Length + 1)..^3];
            if (name.Contains('.', StringComparison.Ordinal) || !step.StartsWith(name, StringComparison.Ordinal) || step.Length == name.Length) continue;
            var suffix = step[name.Length..];
            var type = element.Type.Select(t => t.Code).OfType<string>().FirstOrDefault(t => string.Equals(t, suffix, StringComparison.OrdinalIgnoreCase));
            if (type is not null) return (element, index, p, type);
        }
        return null;
    }

    /// <summary>Path → (element, place) of a snapshot: the first element of each path (slices share their path).</summary>
    private static Dictionary<string, (ElementDefinition, int)> IndexOf(List<ElementDefinition> snapshot)
    {
        var index = new Dictionary<string, (ElementDefinition, int)>(StringComparer.Ordinal);
        for (var i = 0; i < snapshot.Count; i++)
        {
            if (snapshot[i].Path is { } p) index.TryAdd(p, (snapshot[i], i));
        }
        return index;
    }

    /// <summary>The index of a core type's snapshot, built once per validator.</summary>
    private Dictionary<string, (ElementDefinition, int)>? TypeIndex(string typeCode) =>
        _typeIndices.GetOrAdd(typeCode, code =>
            ModelInfo.IsCoreModelType(code) && Resolver.Resolve(CoreStructureDefinitions + code) is StructureDefinition { Snapshot.Element.Count: > 0 } type
                ? IndexOf(type.Snapshot.Element)
                : null);

    /// <summary>Whether <paramref name="code"/> is <paramref name="baseType"/> or derives from it (Age from Quantity, any resource
    /// from Resource, …), following the core definitions' baseDefinition.</summary>
    private bool Specialises(string code, string baseType)
    {
        if (code == baseType || baseType == "*") return true;
        if (baseType is "Resource" or "DomainResource" && ModelInfo.IsKnownResource(code)) return true;
        var url = code.Contains(':', StringComparison.Ordinal) ? code : CoreStructureDefinitions + code;
        for (var hop = 0; hop < 6 && Resolver.Resolve(url) is StructureDefinition sd && sd.BaseDefinition is { Length: > 0 } parent; hop++)
        {
            if (parent == CoreStructureDefinitions + baseType || parent.EndsWith("/" + baseType, StringComparison.Ordinal)) return true;
            url = parent;
        }
        return false;
    }

    private static int? Cardinality(string? max) => max is null ? null : max == "*" ? int.MaxValue : int.TryParse(max, out var n) ? n : null;

    private static int Compare(int[] a, int[] b)
    {
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            if (a[i] != b[i]) return a[i].CompareTo(b[i]);
        }
        return 0; // a child and its parent, or the same element (slices): in order
    }
}
