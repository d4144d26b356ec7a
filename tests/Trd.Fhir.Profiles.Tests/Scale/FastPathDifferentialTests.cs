using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Xunit.Abstractions;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>
/// Differential proof of Scale.FastPath (the shape memo in front of the Firely engine): a validator with the fast path and
/// one without give the same issues, in the same order, on the golden corpus and on generated single-element mutations of
/// it — with the memo warmed by the clean originals first, and with an asserted share of outcomes decided by the memo, so
/// the test fails both when the fast path is wrong and when it is not used.
/// </summary>
[Trait("Category", "FastPath")]
public class FastPathDifferentialTests : IClassFixture<FastPathDifferentialTests.Pair>
{
    public sealed class Pair : IDisposable
    {
        public TrdValidator Fast { get; } = TrdValidator.Create();
        public TrdValidator Full { get; } = TrdValidator.Create(new TrdValidatorOptions { FastPath = false });

        public void Dispose()
        {
            Fast.Dispose();
            Full.Dispose();
        }
    }

    private static readonly FhirJsonSerializer Json = new();
    private readonly Pair _pair;
    private readonly ITestOutputHelper _out;

    public FastPathDifferentialTests(Pair pair, ITestOutputHelper output)
    {
        _pair = pair;
        _out = output;
    }

    internal static List<Resource> Corpus() =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "TestData", "golden"), "*.bundle.json").Order(StringComparer.Ordinal)
            .SelectMany(f => ((Bundle)TrdFhirParser.ParseJson(File.ReadAllText(f)).Resource!).Entry.Select(e => e.Resource!)).ToList();

    /// <summary>The profile examples: (file name, resource), valid ones first.</summary>
    internal static List<(string Name, Resource Resource)> Examples() =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "TestData", "examples"), "*.json")
            .Select(f => (Name: Path.GetFileName(f), Parsed: TrdFhirParser.ParseJson(File.ReadAllText(f)).Resource))
            .Where(x => x.Parsed is not null)
            .OrderBy(x => x.Name.Contains(".invalid", StringComparison.Ordinal)).ThenBy(x => x.Name, StringComparer.Ordinal)
            .Select(x => (x.Name, x.Parsed!)).ToList();

    private static string Render(OperationOutcome oo) => string.Join('\n', oo.Issue.Select(i => Json.SerializeToString(i)));

    [Fact]
    public void FastPath_IsOnByDefault_AndOffOnRequest()
    {
        Assert.NotNull(_pair.Fast.Fast);
        Assert.Null(_pair.Full.Fast);
    }

    [Fact]
    public void FastPath_GoldenCorpus_SameIssuesAsFullEngine_SecondPassFromMemo()
    {
        var corpus = Corpus();
        var fast = _pair.Fast.Fast!;
        for (var pass = 0; pass < 2; pass++)
        {
            var hits0 = fast.Hits;
            foreach (var (r, n) in corpus.Select((r, n) => (r, n)))
            {
                var expected = Render(_pair.Full.Validate(r));
                var actual = Render(_pair.Fast.Validate(r));
                Assert.True(expected == actual, $"resource {n} {r.TypeName} (pass {pass}):\nfull engine\n{expected}\nfast path\n{actual}");
            }
            _out.WriteLine($"pass {pass}: hits {fast.Hits - hits0}, misses {fast.Misses}, invariant misses {fast.InvariantMisses}, bypassed {fast.Bypassed}, shapes {fast.Count}");
        }
        Assert.True(corpus.Count > 300);
    }

    [Fact]
    public void FastPath_ProfileExamples_ValidTwiceThenInvalid_SameIssuesAsFullEngine()
    {
        var examples = Examples();
        var fast = _pair.Fast.Fast!;
        var valid = examples.Where(e => !e.Name.Contains(".invalid", StringComparison.Ordinal)).ToList();
        var hits0 = fast.Hits;
        foreach (var pass in new[] { valid, valid, examples })
        {
            foreach (var (name, r) in pass)
            {
                var expected = Render(_pair.Full.Validate(r));
                var actual = Render(_pair.Fast.Validate(r));
                Assert.True(expected == actual, $"{name}:\nfull engine\n{expected}\nfast path\n{actual}");
            }
        }
        _out.WriteLine($"{examples.Count} examples ({valid.Count} valid): hits {fast.Hits - hits0}, misses {fast.Misses}, invariant misses {fast.InvariantMisses}, bypassed {fast.Bypassed}");
        Assert.True(examples.Count - valid.Count > 80, "the invalid examples are missing");
        Assert.True(fast.Hits - hits0 >= valid.Count, "the valid examples were not decided by the memo on the second pass");
    }

    [Fact]
    public void FastPath_DistinctCopiesAndTheirMutations_SameIssuesAsFullEngine_MostFromMemo()
    {
        // resources never seen: other ids, identifier values, Type/id references, dates (DistinctCorpus), then single mutations of them
        var copies = DistinctCorpus.Make(Path.Combine(AppContext.BaseDirectory, "TestData", "golden"), 3);
        var fast = _pair.Fast.Fast!;
        var failures = new List<string>();
        var (hits0, n) = (fast.Hits, 0);
        foreach (var (what, r) in copies.Select((r, i) => ($"copy {i} {r.TypeName}", r)).Concat(MutationCorpus.Generate(copies, perResource: 2, seed: 17)))
        {
            n++;
            var expected = Render(_pair.Full.Validate(r));
            var actual = Render(_pair.Fast.Validate(r));
            if (expected != actual && failures.Count < 10) failures.Add($"{what}:\nfull engine\n{expected}\nfast path\n{actual}");
        }
        _out.WriteLine($"{copies.Count} copies and {n - copies.Count} mutants of them: {fast.Hits - hits0} from the memo; misses {fast.Misses}, invariant misses {fast.InvariantMisses}, bypassed {fast.Bypassed}, shapes {fast.Count}");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        Assert.True(fast.Hits - hits0 >= copies.Count * 3 / 4, $"only {fast.Hits - hits0} of {n} from the memo");

        // the same invalid status in every copy: one remembered outcome with an error per shape, given again for the others
        var errorsFromMemo = 0;
        foreach (var (r, i) in copies.Select((r, i) => ((Resource)r.DeepCopy(), i)))
        {
            if (r.GetType().GetProperty("StatusElement")?.GetValue(r) is not PrimitiveType status) continue;
            status.JsonValue = "not-a-status";
            var expected = Render(_pair.Full.Validate(r));
            var hits = fast.Hits;
            var outcome = _pair.Fast.Validate(r);
            Assert.True(expected == Render(outcome), $"invalid copy {i} {r.TypeName}:\nfull engine\n{expected}\nfast path\n{Render(outcome)}");
            Assert.Contains(outcome.Issue, x => x.Severity == OperationOutcome.IssueSeverity.Error);
            if (fast.Hits > hits) errorsFromMemo++;
        }
        _out.WriteLine($"invalid copies: {errorsFromMemo} outcomes with an error given by the memo");
        Assert.True(errorsFromMemo >= copies.Count / 2, $"only {errorsFromMemo} outcomes with an error from the memo");
    }

    [Fact]
    public void FastPath_MutationCorpus_SameIssuesAsFullEngine_ManyFromMemo()
    {
        var corpus = Corpus();
        var fast = _pair.Fast.Fast!;
        foreach (var r in corpus) _pair.Fast.Validate(r); // warm the memo with the clean originals: otherwise this proves nothing
        var warm = fast.Hits;
        foreach (var r in corpus) _pair.Fast.Validate(r);
        Assert.Equal(corpus.Count, fast.Hits - warm);
        var (hits0, invariant0) = (fast.Hits, fast.InvariantMisses);
        var failures = new List<string>();
        var n = 0;
        foreach (var (what, mutant) in MutationCorpus.Generate(corpus, perResource: 20, seed: 13))
        {
            n++;
            var expected = Render(_pair.Full.Validate(mutant));
            var before = (fast.Hits, fast.Misses, fast.InvariantMisses, fast.Bypassed);
            var actual = Render(_pair.Fast.Validate(mutant));
            if (expected != actual && failures.Count < 10)
                failures.Add($"{what} (hits, misses, invariant misses, bypassed: {before} → {(fast.Hits, fast.Misses, fast.InvariantMisses, fast.Bypassed)}):\nfull engine\n{expected}\nfast path\n{actual}");
        }
        var hits = fast.Hits - hits0;
        _out.WriteLine($"{n} mutants: {hits} from the memo, {fast.InvariantMisses - invariant0} re-checked invariant failed, misses {fast.Misses}, bypassed {fast.Bypassed}, shapes {fast.Count}");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        Assert.True(n >= 5000, $"only {n} mutants");
        Assert.True(hits >= n / 5, $"only {hits} of {n} mutants were decided by the memo");
        Assert.True(fast.InvariantMisses - invariant0 > 0, "no mutant was caught by a re-checked invariant");
    }
}
