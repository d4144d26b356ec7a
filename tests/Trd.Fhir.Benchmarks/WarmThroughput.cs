using BenchmarkDotNet.Attributes;
using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Benchmarks;

/// <summary>
/// Warm throughput on a mixed corpus of our resource kinds: every entry resource of the four golden Bundles
/// (tests/Trd.Fhir.Adapter.Tests/Golden; CarePlans, Conditions, Goals, CareTeams, MedicationRequests/-Statements,
/// ServiceRequests, Procedures, PHQ-9 Observations), each validated standalone against its meta.profile. One operation =
/// the whole corpus. Baseline: the textbook Firely validator (<see cref="Textbook"/>), also warm (set-up validates the
/// corpus twice on each). Both are checked to agree on which resources have errors.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10, invocationCount: 1)]
public class WarmThroughput
{
    private List<Resource> _corpus = [];
    private Validator _textbook = null!;
    private TrdValidator _trd = null!;

    [GlobalSetup]
    public void Setup()
    {
        var root = Repo.Root();
        _corpus = Directory.EnumerateFiles(Path.Combine(root, "tests", "Trd.Fhir.Adapter.Tests", "Golden"), "*.bundle.json").Order(StringComparer.Ordinal)
            .Select(f => (Bundle)TrdFhirParser.ParseJson(File.ReadAllText(f)).Resource!)
            .SelectMany(b => b.Entry.Select(e => e.Resource!)).ToList();
        _textbook = Textbook.Create(Path.Combine(root, "profiles"));
        _trd = TrdValidator.Create();
        _trd.WarmUp();
        for (var pass = 0; pass < 2; pass++)
        {
            TextbookSerial();
            TrdSerial();
        }
        var disagree = _corpus.Count(r => _textbook.Validate(r).Success != _trd.Validate(r).Success);
        Console.WriteLine($"// corpus: {_corpus.Count} resources ({string.Join(", ", _corpus.GroupBy(r => r.TypeName).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}"))}); textbook and TrdValidator disagree on {disagree}");
    }

    [GlobalCleanup]
    public void Cleanup() => _trd.Dispose();

    [Benchmark(Baseline = true, Description = "Firely textbook chain, 1 thread")]
    public int TextbookSerial()
    {
        var errors = 0;
        foreach (var r in _corpus) errors += _textbook.Validate(r).Success ? 0 : 1;
        return errors;
    }

    [Benchmark(Description = "TrdValidator, 1 thread")]
    public int TrdSerial()
    {
        var errors = 0;
        foreach (var r in _corpus) errors += _trd.Validate(r).Success ? 0 : 1;
        return errors;
    }

    [Benchmark(Description = "TrdValidator, Parallel.ForEach (all cores)")]
    public int TrdParallel()
    {
        var errors = 0;
        Parallel.ForEach(_corpus, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, r =>
        {
            if (!_trd.Validate(r).Success) Interlocked.Increment(ref errors);
        });
        return errors;
    }
}

internal static class Repo
{
    /// <summary>The repository root: TRD_REPO, else the first folder above the working directory or the binary with Trd.Fhir.sln.</summary>
    public static string Root()
    {
        if (Environment.GetEnvironmentVariable("TRD_REPO") is { Length: > 0 } env) return env;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Trd.Fhir.sln"))) return d.FullName;
        }
        throw new InvalidOperationException("Trd.Fhir.sln not found: run from the repository or set TRD_REPO");
    }
}
