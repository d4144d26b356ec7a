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
/// <see cref="ShapeKey"/> except through the invariants that read free values or look beyond their node, so the memo keeps,
/// per key, the engine's outcome and what each of those invariants gave on that instance; an instance of the same key on
/// which every one of them gives the same gets a copy of that outcome without the engine. An outcome that quotes a free
/// value (e.g. a reference message naming <c>Patient/123</c>) or reports a fatal error is not remembered.
/// <para>
/// Soundness argument and limits: docs/benchmarks.md §0.3; proof: FastPathDifferentialTests (the full engine and the fast
/// path agree on the golden corpus, the profile examples, distinct copies and thousands of single-element mutations, with
/// the memo warm).
/// </para>
/// </summary>
internal sealed class FastPath
{
    /// <summary>At most this many shapes are remembered (16-byte keys: a few tens of MB at most); then no more are added.</summary>
    internal const int Capacity = 200_000;

    private static readonly ConcurrentDictionary<string, CompiledExpression?> Compiled = new(StringComparer.Ordinal);

    private readonly ElementMap _map;
    private readonly ShapeKey _key;
    private readonly ConcurrentDictionary<UInt128, Entry> _memo = new();
    private long _hits, _misses, _bypassed, _invariantMisses;

    public FastPath(Func<string, Resource?> resolve)
    {
        _map = new ElementMap(resolve);
        _key = new ShapeKey(_map);
    }

    /// <summary>Outcomes given by the memo without the engine.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Outcomes the engine gave because the shape was not known.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Known shapes whose re-checked invariants gave something else on the instance: the engine gave the outcome.</summary>
    public long InvariantMisses => Interlocked.Read(ref _invariantMisses);

    /// <summary>Resources that could not be keyed (an unplaced element, a nested resource, a free value failing its type's checks).</summary>
    public long Bypassed => Interlocked.Read(ref _bypassed);

    /// <summary>Shapes remembered.</summary>
    public int Count => _memo.Count;

    /// <summary>Forgets every remembered shape and resets the counters (benchmarks: a cold memo with compiled schemas).</summary>
    internal void Clear()
    {
        _memo.Clear();
        _hits = _misses = _bypassed = _invariantMisses = 0;
    }

    /// <summary>The outcome of <paramref name="full"/> for <paramref name="resource"/>, from the memo when it is known.</summary>
    /// <param name="profiles">Every profile that applies besides the core type (explicit, meta.profile, implied, by kind).</param>
    /// <param name="context">What else the outcome depends on (the explicit profile, the profile policy).</param>
    public OperationOutcome Validate(Resource resource, IReadOnlyList<string> profiles, string context, Func<OperationOutcome> full)
    {
        var node = resource.ToPocoNode(ModelInfo.ModelInspector);
        var checks = new List<ShapeKey.Check>();
        var free = new List<string>();
        UInt128? key;
        try
        {
            key = _key.Compute(node, _map.Root(resource.TypeName, profiles), context, checks, free);
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
        if (_memo.TryGetValue(k, out var known))
        {
            if (Evaluate(checks) is { } now && now.AsSpan().SequenceEqual(known.Results))
            {
                Interlocked.Increment(ref _hits);
                return (OperationOutcome?)known.Outcome?.DeepCopy() ?? new OperationOutcome();
            }
            Interlocked.Increment(ref _invariantMisses);
            return full();
        }
        Interlocked.Increment(ref _misses);
        var oo = full();
        if (_memo.Count < Capacity && Rememberable(oo, free) && Evaluate(checks) is { } results)
            _memo.TryAdd(k, new Entry(oo.Issue.Count == 0 ? null : (OperationOutcome)oo.DeepCopy(), results));
        return oo;
    }

    /// <summary>A remembered engine outcome (null = no issues) and what each re-checked invariant gave on that instance.</summary>
    private sealed record Entry(OperationOutcome? Outcome, bool[] Results);

    /// <summary>
    /// An outcome can stand for every instance of its shape only when it does not quote a free value (e.g. a reference
    /// message naming <c>Patient/123</c>) and the engine did not fail.
    /// </summary>
    private static bool Rememberable(OperationOutcome oo, List<string> free)
    {
        foreach (var issue in oo.Issue)
        {
            if (issue.Severity == OperationOutcome.IssueSeverity.Fatal) return false;
            foreach (var text in issue.Expression.Concat(issue.Location).Append(issue.Details?.Text).Append(issue.Diagnostics))
            {
                if (text is not null && free.Exists(f => text.Contains(f, StringComparison.Ordinal))) return false;
            }
        }
        return true;
    }

    /// <summary>Each invariant's result on this instance, or null when one cannot be evaluated.</summary>
    private static bool[]? Evaluate(List<ShapeKey.Check> checks)
    {
        var results = new bool[checks.Count];
        for (var i = 0; i < checks.Count; i++)
        {
            if (Holds(checks[i]) is not { } r) return null;
            results[i] = r;
        }
        return results;
    }

    /// <summary>The invariant evaluated as Firely's FhirPathValidator does (same compiler, IsTrue); null when it fails to compile or evaluate.</summary>
    private static bool? Holds(ShapeKey.Check check)
    {
        var expr = Compiled.GetOrAdd(check.Invariant.Expression, static e =>
        {
            try { return FhirPathValidator.DefaultCompiler.Compile(e); }
            catch (Exception ex) when (ex is not OutOfMemoryException) { return null; }
        });
        if (expr is null) return null;
        try
        {
            return expr.IsTrue(check.Node, new FhirEvaluationContext());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return null;
        }
    }
}
