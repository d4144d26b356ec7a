using System.Collections.Concurrent;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Scale;

/// <summary>
/// Builds the <see cref="NodeRule"/>s of <see cref="ShapeKey"/> from the StructureDefinitions the validator resolves.
/// Deliberately conservative: it over-approximates what applies to a node (every profile that could apply, every slice of
/// a path, the datatype's own definition, a profile on the type, an extension's definition) and pins a node's values
/// verbatim when any of those definitions constrains them, or when the node is coded, quantified, narrative, an attachment
/// or an extension. Anything it cannot place (an element no definition declares, a nested resource, an unresolvable type,
/// extension or profile) is <see cref="NodeRule.Unmapped"/>: the resource takes the full engine.
/// </summary>
internal sealed class ElementMap
{
    private const string CoreBase = "http://hl7.org/fhir/StructureDefinition/";
    private const string RegexExtension = "http://hl7.org/fhir/StructureDefinition/regex";

    /// <summary>Types whose values are always verbatim, with all their descendants (codes, units, narrative, extensions, …).</summary>
    private static readonly HashSet<string> PinnedTypes = new(StringComparer.Ordinal)
    {
        "Coding", "CodeableConcept", "Quantity", "SimpleQuantity", "MoneyQuantity", "Age", "Count", "Distance", "Duration",
        "Money", "Range", "Ratio", "SampledData", "Narrative", "Attachment", "Signature", "Extension",
    };

    /// <summary>
    /// Invariants that provably read only presence and counts of elements (checked against the R4 core text: the key must
    /// match too), so that they give the same result on every instance of one shape. Everything else is re-evaluated.
    /// </summary>
    private static readonly HashSet<(string Key, string Expression)> StructureOnly =
    [
        ("ele-1", "hasValue() or (children().count() > id.count())"),
        ("ext-1", "extension.exists() != value.exists()"),
        ("dom-2", "contained.contained.empty()"),
        ("dom-4", "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()"),
        ("dom-5", "contained.meta.security.empty()"),
        ("dom-6", "text.`div`.exists()"),
    ];

    /// <summary>Types no binding applies to (Firely's BindingValidator checks only coded and string-like values): a binding on
    /// a choice element (e.g. Goal.start[x] for its CodeableConcept) does not pin its date.</summary>
    private static readonly HashSet<string> Unbindable = new(StringComparer.Ordinal) { "date", "dateTime", "instant", "time" };

    private static readonly string[] OutsideMarkers = ["%", "now()", "today()", "timeOfDay()", "resolve(", "memberOf(", "conformsTo("];

    /// <summary>Root rules and unresolvable URLs remembered at most (both come from the input).</summary>
    private const int MaxCached = 4096;

    private readonly Func<string, Resource?> _resolve;
    private readonly ConcurrentDictionary<string, StructureIndex?> _structures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, NodeRule> _roots = new(StringComparer.Ordinal);

    public ElementMap(Func<string, Resource?> resolve) => _resolve = resolve;

    /// <summary>The rule of a resource of <paramref name="type"/> validated against its core type and <paramref name="profiles"/>.</summary>
    public NodeRule Root(string type, IReadOnlyList<string> profiles)
    {
        var key = type + "|" + string.Join('|', profiles);
        if (_roots.TryGetValue(key, out var rule)) return rule;
        rule = BuildRoot(type, profiles);
        return _roots.Count < MaxCached ? _roots.GetOrAdd(key, rule) : rule; // bounded: meta.profile comes from the input
    }

    private NodeRule BuildRoot(string type, IReadOnlyList<string> profiles)
    {
        var contexts = new List<Context>();
        var eds = new List<ElementDefinition>();
        foreach (var url in profiles.Prepend(CoreBase + type))
        {
            if (Structure(url) is not { } sd || sd.At(type) is not { } root) return NodeRule.Unmapped; // a profile of another type, or unknown
            contexts.Add(new Context(sd, type));
            eds.AddRange(root);
        }
        return new NodeRule([.. contexts], pinned: false, FreeKind.None, Invariants(eds), this, type);
    }

    internal NodeRule Build(NodeRule parent, string name, string type, string? extensionUrl)
    {
        if (ModelInfo.IsKnownResource(type)) return NodeRule.Unmapped; // contained / nested resources: full engine
        var contexts = new List<Context>();
        var eds = new List<ElementDefinition>();
        var matched = false;
        foreach (var (sd, path) in parent.Contexts)
        {
            var candidate = path + "." + name;
            var here = sd.At(candidate);
            if (here is null)
            {
                candidate += "[x]";
                here = sd.At(candidate);
            }
            if (here is null) continue;
            matched = true;
            eds.AddRange(here);
            contexts.Add(new Context(sd, candidate));
            foreach (var ed in here)
            {
                if (ed.ContentReference is { } cr && cr.IndexOf('#') is var hash and >= 0)
                {
                    var target = cr[(hash + 1)..];
                    if (sd.At(target) is not { } referenced) return NodeRule.Unmapped;
                    eds.AddRange(referenced);
                    contexts.Add(new Context(sd, target));
                }
                foreach (var t in ed.Type.Where(t => t.Code == type))
                {
                    foreach (var p in t.Profile.OfType<string>())
                    {
                        if (Structure(p) is not { } profiled || profiled.At(type) is not { } proot) return NodeRule.Unmapped;
                        eds.AddRange(proot);
                        contexts.Add(new Context(profiled, type));
                    }
                }
            }
        }
        if (!matched) return NodeRule.Unmapped;
        // A backbone element (type name "Resource.path") is defined where it sits; a datatype also by its own definition.
        if (!type.Contains('.', StringComparison.Ordinal))
        {
            if (type.Length == 0 || Structure(CoreBase + type) is not { } typeSd || typeSd.At(type) is not { } typeRoot) return NodeRule.Unmapped;
            eds.AddRange(typeRoot);
            contexts.Add(new Context(typeSd, type));
        }
        // A nested extension of a complex extension has a relative url: its definition is the slice matched above.
        if (type == "Extension" && extensionUrl is not null && extensionUrl.Contains(':', StringComparison.Ordinal))
        {
            if (Structure(extensionUrl) is not { } ext || ext.At("Extension") is not { } extRoot) return NodeRule.Unmapped;
            eds.AddRange(extRoot);
            contexts.Add(new Context(ext, "Extension"));
        }
        var slicePaths = new List<string[]>();
        var pinned = parent.Pinned || PinnedTypes.Contains(type) || eds.Any(e => Constrains(e, type)) || !Discriminators(parent.SlicePaths, name, eds, slicePaths);
        var free = pinned ? FreeKind.None : type switch
        {
            "string" when parent.Type == "Reference" && name == "reference" => FreeKind.RelativeReference,
            "string" => FreeKind.String,
            "markdown" => FreeKind.Markdown,
            "id" => FreeKind.Id,
            "date" => FreeKind.Date,
            "dateTime" => FreeKind.DateTime,
            "instant" => FreeKind.Instant,
            "time" => FreeKind.Time,
            _ => FreeKind.None,
        };
        return new NodeRule([.. contexts.Distinct()], pinned, free, Invariants(eds), this, type) { SlicePaths = pinned ? [] : [.. slicePaths] };
    }

    /// <summary>
    /// Slicing: Firely reads the element each discriminator path leads to (value, pattern, type, profile, exists) to choose
    /// a slice; nothing else of the sliced element. So the paths are followed down: the node a path ends on is pinned with
    /// its subtree; a path that is not plain names (<c>$this</c>, <c>resolve()</c>, <c>extension('…')</c>, <c>ofType()</c>)
    /// pins the whole sliced element. False = this node is pinned; <paramref name="below"/> gets the paths that continue.
    /// </summary>
    private static bool Discriminators(string[][] inherited, string name, List<ElementDefinition> eds, List<string[]> below)
    {
        foreach (var path in inherited)
        {
            if (!Leads(path[0], name)) continue;
            if (path.Length == 1) return false;
            below.Add(path[1..]);
        }
        foreach (var d in eds.SelectMany(e => e.Slicing?.Discriminator ?? []))
        {
            if (d.Path is not { Length: > 0 } p || p.Any(c => c is '(' or '$' or '%' or '[' or ' ')) return false;
            below.Add(p.Split('.'));
        }
        return true;
    }

    /// <summary>Whether a discriminator path segment may name the child <paramref name="name"/> (value, value[x], valueQuantity).</summary>
    private static bool Leads(string segment, string name) =>
        segment.StartsWith(name, StringComparison.Ordinal)
        && (segment.Length == name.Length || segment[name.Length..] == "[x]" || char.IsAsciiLetterUpper(segment[name.Length]));

    /// <summary>Whether a definition constrains the values of its element or of anything below it.</summary>
    private static bool Constrains(ElementDefinition ed, string type) =>
        ed.Fixed is not null || ed.Pattern is not null || (ed.Binding is not null && !Unbindable.Contains(type)) || ed.MaxLength is not null
        || ed.MinValue is not null || ed.MaxValue is not null
        || ed.Extension.Any(ReadsValues) || ed.Type.Any(t => t.Extension.Any(ReadsValues));

    /// <summary>Extensions of a definition that make Firely read the value: a regex, and the FHIR tools extensions
    /// (implied-string-prefix, type-specifier, json-nullable, …).</summary>
    private static bool ReadsValues(Extension x) =>
        x.Url == RegexExtension || (x.Url?.StartsWith("http://hl7.org/fhir/tools/StructureDefinition/", StringComparison.Ordinal) ?? false);

    private static Invariant[] Invariants(List<ElementDefinition> eds) =>
        eds.SelectMany(e => e.Constraint)
            .Where(c => c.Key is not null && c.Expression is not null && !StructureOnly.Contains((c.Key, c.Expression)))
            .Select(c => new Invariant(c.Key!, c.Expression!, OutsideMarkers.Any(m => c.Expression!.Contains(m, StringComparison.Ordinal))))
            .Distinct().ToArray();

    /// <summary>The snapshot of a StructureDefinition by canonical URL (version suffix ignored), or null.</summary>
    public StructureIndex? Structure(string url)
    {
        if (_structures.TryGetValue(url, out var index)) return index;
        var bar = url.IndexOf('|');
        index = _resolve(bar >= 0 ? url[..bar] : url) is StructureDefinition { Snapshot.Element.Count: > 0 } sd ? new StructureIndex(sd) : null;
        return index is not null || _structures.Count < MaxCached ? _structures.GetOrAdd(url, index) : null; // unknown URLs: bounded
    }
}
