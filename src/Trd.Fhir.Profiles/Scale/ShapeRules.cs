using System.Collections.Concurrent;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Scale;

/// <summary>How the value of a primitive node enters the shape key (<see cref="ShapeKey"/>).</summary>
internal enum FreeKind : byte
{
    /// <summary>Verbatim: the value itself is part of the key.</summary>
    None,
    String,
    Markdown,
    Id,
    Date,
    DateTime,
    Instant,
    Time,

    /// <summary>Reference.reference of the exact form <c>Type/id</c>: <c>Type/</c> verbatim, the id a class token.</summary>
    RelativeReference,
}

/// <summary>One invariant an element definition declares (key, FHIRPath, whether it reads beyond its own subtree).</summary>
internal sealed record Invariant(string Key, string Expression, bool ReadsOutside);

/// <summary>
/// What the profiles say about one node of an instance, given its parent's rule, its name and its instance type: the
/// element definitions it matches (over every applicable profile, every slice, the datatype's own definition, a profile
/// on the type, an extension's definition), the invariants declared on them, whether its values are pinned (verbatim) and
/// whether its own value is free. Interned: one object per (parent rule, name, type), so a warm walk is one dictionary
/// look-up per node. <see cref="Unmapped"/> = a node the rules cannot place: the resource takes the full engine.
/// </summary>
internal sealed class NodeRule
{
    private readonly ConcurrentDictionary<(string Name, string Type, string? Url), NodeRule> _children = new();

    public NodeRule(Context[] contexts, bool pinned, FreeKind free, Invariant[] invariants, ElementMap map, string type)
    {
        Type = type;
        Contexts = contexts;
        Pinned = pinned;
        Free = free;
        Invariants = invariants;
        Map = map;
    }

    /// <summary>A node that cannot be placed in the profiles (unknown element, contained resource, unresolvable type).</summary>
    public static readonly NodeRule Unmapped = new([], true, FreeKind.None, [], null!, "");


    /// <summary>The instance type of the node.</summary>
    public string Type { get; }

    /// <summary>(StructureDefinition, element path) pairs whose definitions apply to this node; children are looked up under them.</summary>
    public Context[] Contexts { get; }

    /// <summary>This node and its descendants keep every value verbatim (constrained, coded, read by a slice discriminator, …).</summary>
    public bool Pinned { get; }

    /// <summary>The rest of the paths of slicing discriminators declared on this node or above it that lead below it:
    /// the nodes they reach (and everything under them) are pinned.</summary>
    public string[][] SlicePaths { get; init; } = [];

    /// <summary>How this node's own primitive value enters the key.</summary>
    public FreeKind Free { get; }

    /// <summary>Invariants declared on the definitions this node matches (structure-only ones excluded).</summary>
    public Invariant[] Invariants { get; }

    private ElementMap Map { get; }

    /// <summary>Children remembered per rule: bounded, since extension URLs come from the input.</summary>
    private const int MaxChildren = 4096;

    public NodeRule Child(string name, string type, string? extensionUrl)
    {
        if (ReferenceEquals(this, Unmapped)) return Unmapped;
        var key = (name, type, extensionUrl);
        if (_children.TryGetValue(key, out var rule)) return rule;
        rule = Map.Build(this, name, type, extensionUrl);
        return _children.Count < MaxChildren ? _children.GetOrAdd(key, rule) : rule;
    }
}

/// <summary>An element of a StructureDefinition: the index of the definition and the element path in its snapshot.</summary>
internal readonly record struct Context(StructureIndex Sd, string Path);

/// <summary>The snapshot of one StructureDefinition by element path (every slice of a path together).</summary>
internal sealed class StructureIndex
{
    private readonly Dictionary<string, List<ElementDefinition>> _byPath = new(StringComparer.Ordinal);
    private readonly HashSet<string> _hasChildren = new(StringComparer.Ordinal);

    public StructureIndex(StructureDefinition sd)
    {
        Url = sd.Url ?? "";
        foreach (var e in sd.Snapshot?.Element ?? [])
        {
            if (e.Path is not { } path) continue;
            (_byPath.TryGetValue(path, out var l) ? l : _byPath[path] = []).Add(e);
            var dot = path.LastIndexOf('.');
            if (dot > 0) _hasChildren.Add(path[..dot]);
        }
    }

    public string Url { get; }

    public bool IsEmpty => _byPath.Count == 0;

    public IReadOnlyList<ElementDefinition>? At(string path) => _byPath.TryGetValue(path, out var l) ? l : null;

    public bool HasChildren(string path) => _hasChildren.Contains(path);
}
