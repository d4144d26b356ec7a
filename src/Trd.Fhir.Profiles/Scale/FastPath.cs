#pragma warning disable ExperimentalApi // FhirPathValidator.DefaultCompiler: the compiler Firely evaluates invariants with
using System.Collections.Concurrent;
using Firely.Fhir.Validation;
using Hl7.Fhir.FhirPath;
using Hl7.Fhir.Model;
using Hl7.FhirPath;

namespace Trd.Fhir.Profiles.Scale;

/// <summary>
/// A shape memo in front of the Firely engine, for standalone resources (<see cref="TrdValidator.Validate"/>; Bundles keep
/// the full engine: they resolve references across entries). The engine's outcome for a resource is determined by its
/// <see cref="ShapeKey"/> except for the invariants that read free values or look beyond their node, so: when the engine
/// found nothing for a resource of the same key before, and every such invariant holds on this instance, the outcome is
/// empty without calling the engine; otherwise the engine runs (and a clean outcome is remembered). Only clean outcomes are
/// remembered, so any finding always comes from the engine itself.
/// <para>
/// Soundness argument and limits: docs/benchmarks.md §0.3; proof: FastPathDifferentialTests (the full engine and the fast
/// path agree on the golden corpus and thousands of single-element mutations, with the memo warm).
/// </para>
/// </summary>
internal sealed class FastPath
{
    /// <summary>At most this many shapes are remembered (16-byte keys: a few tens of MB at most); then no more are added.</summary>
    internal const int Capacity = 200_000;

    private static readonly ConcurrentDictionary<string, CompiledExpression?> Compiled = new(StringComparer.Ordinal);

    private readonly ElementMap _map;
    private readonly ShapeKey _key;
    private readonly ConcurrentDictionary<UInt128, byte> _clean = new();
    private long _hits, _misses, _bypassed, _invariantMisses;

    public FastPath(Func<string, Resource?> resolve)
    {
        _map = new ElementMap(resolve);
        _key = new ShapeKey(_map);
    }

    /// <summary>Outcomes given by the memo without the engine.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Outcomes the engine gave because the shape was not known clean.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Known-clean shapes whose invariants, re-checked on the instance, did not all hold: the engine gave the outcome.</summary>
    public long InvariantMisses => Interlocked.Read(ref _invariantMisses);

    /// <summary>Resources that could not be keyed (an unplaced element, a nested resource, a free value failing its type's checks).</summary>
    public long Bypassed => Interlocked.Read(ref _bypassed);

    /// <summary>Shapes remembered clean.</summary>
    public int Count => _clean.Count;

    /// <summary>Forgets every remembered shape and resets the counters (benchmarks: a cold memo with compiled schemas).</summary>
    internal void Clear()
    {
        _clean.Clear();
        _hits = _misses = _bypassed = _invariantMisses = 0;
    }

    /// <summary>The outcome of <paramref name="full"/> for <paramref name="resource"/>, from the memo when it is known.</summary>
    /// <param name="profiles">Every profile that applies besides the core type (explicit, meta.profile, implied, by kind).</param>
    /// <param name="context">What else the outcome depends on (the explicit profile, the profile policy).</param>
    public OperationOutcome Validate(Resource resource, IReadOnlyList<string> profiles, string context, Func<OperationOutcome> full)
    {
        var node = resource.ToPocoNode(ModelInfo.ModelInspector);
        var checks = new List<ShapeKey.Check>();
        UInt128? key;
        try
        {
            key = _key.Compute(node, _map.Root(resource.TypeName, profiles), context, checks);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            key = null; // anything unexpected in the walk: the engine decides
        }
        if (key is not { } k)
        {
            Interlocked.Increment(ref _bypassed);
            return full();
        }
        if (_clean.ContainsKey(k))
        {
            if (checks.TrueForAll(Holds))
            {
                Interlocked.Increment(ref _hits);
                return new OperationOutcome();
            }
            Interlocked.Increment(ref _invariantMisses);
            return full();
        }
        Interlocked.Increment(ref _misses);
        var oo = full();
        if (oo.Issue.Count == 0 && _clean.Count < Capacity) _clean.TryAdd(k, 0);
        return oo;
    }

    /// <summary>The invariant evaluated as Firely's FhirPathValidator does (same compiler, IsTrue); an error counts as not holding.</summary>
    private static bool Holds(ShapeKey.Check check)
    {
        var expr = Compiled.GetOrAdd(check.Invariant.Expression, static e =>
        {
            try { return FhirPathValidator.DefaultCompiler.Compile(e); }
            catch (Exception ex) when (ex is not OutOfMemoryException) { return null; }
        });
        if (expr is null) return false;
        try
        {
            return expr.IsTrue(check.Node, new FhirEvaluationContext());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return false;
        }
    }
}
