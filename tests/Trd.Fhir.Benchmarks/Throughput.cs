using System.Diagnostics;
using Hl7.Fhir.Model;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Benchmarks;

/// <summary>
/// <c>Trd.Fhir.Benchmarks throughput [--seconds S] [--rounds R]</c> (tests/perf/throughput.sh): warm resources/s on the
/// mixed corpus of the golden Bundles (every entry resource, validated standalone against its meta.profile) — raw Firely
/// loop (<see cref="Textbook"/>), TrdValidator on 1 thread, TrdValidator on all cores — interleaved in rounds in one
/// process, so machine load hits all alike. Prints each round and the medians, with process CPU seconds, and checks that
/// both validators agree on every resource's issues.
/// </summary>
public static class Throughput
{
    public static int Run(string[] args)
    {
        var seconds = 5.0;
        var rounds = 3;
        var onlyTrd = false;
        var publicEntry = false;
        var copies = 10;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--only-trd") onlyTrd = true;
            else if (args[i] == "--public-entry") publicEntry = true; // measure without the shared FHIRPath cache
            if (args[i] == "--seconds") seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else if (args[i] == "--rounds") rounds = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else if (args[i] == "--distinct") copies = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
        }
        var root = Repo.Root();
        var corpus = Directory.EnumerateFiles(Path.Combine(root, "tests", "Trd.Fhir.Adapter.Tests", "Golden"), "*.bundle.json").Order(StringComparer.Ordinal)
            .Select(f => (Bundle)TrdFhirParser.ParseJson(File.ReadAllText(f)).Resource!)
            .SelectMany(b => b.Entry.Select(e => e.Resource!)).ToList();
        using var full = TrdValidator.Create(new TrdValidatorOptions { SharedState = !publicEntry, FastPath = false });
        full.WarmUp();
        using var fast = TrdValidator.Create(new TrdValidatorOptions { SharedState = !publicEntry });
        fast.WarmUp();
        var textbook = onlyTrd ? null! : Textbook.Create(Path.Combine(root, "profiles"));
        var disagree = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            disagree = onlyTrd ? corpus.Count(r => full.Validate(r) is null) : corpus.Count(r => Render(textbook.Validate(r)) != Render(full.Validate(r)));
        }
        // the fast path against the full engine, on every resource, memo warm (second pass) and cold (first pass above)
        var fastDisagree = corpus.Count(r => RenderAll(fast.Validate(r)) != RenderAll(full.Validate(r)));
        Console.WriteLine($"corpus: {corpus.Count} resources; raw Firely and TrdValidator disagree on {disagree}; fast path and full engine disagree on {fastDisagree} (issue lists compared)");
        disagree += fastDisagree;
        Console.WriteLine($"cores: {Environment.ProcessorCount}; uptime: {Uptime()}");

        var runs = new Dictionary<string, List<(double PerSecond, double CpuPerResourceMs)>>();
        var variants = new (string Name, Action<Resource> One, bool Parallel)[]
        {
            ("raw Firely, 1 thread", r => textbook.Validate(r), false),
            ("TrdValidator full engine, 1 thread", r => full.Validate(r), false),
            ("TrdValidator fast path, 1 thread", r => fast.Validate(r), false),
            ($"TrdValidator fast path, {Environment.ProcessorCount} threads", r => fast.Validate(r), true),
            ($"TrdValidator full engine, {Environment.ProcessorCount} threads", r => full.Validate(r), true),
            ($"raw Firely, {Environment.ProcessorCount} threads", r => textbook.Validate(r), true),
        };
        if (onlyTrd) variants = variants.Where(v => v.Name.StartsWith("Trd", StringComparison.Ordinal)).ToArray();
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var (name, one, parallel) in variants)
            {
                var (perSecond, cpuMs) = Measure(corpus, one, parallel, seconds);
                (runs.TryGetValue(name, out var l) ? l : runs[name] = []).Add((perSecond, cpuMs));
                Console.WriteLine(FormattableString.Invariant($"round {round}\t{name}\t{perSecond:0} resources/s\t{cpuMs:0.000} ms CPU/resource"));
            }
        }
        var baseline = Median(runs[variants[0].Name].Select(x => x.PerSecond)); // raw Firely 1 thread (TrdValidator 1 thread with --only-trd)
        Console.WriteLine("variant\tmedian resources/s\tratio vs raw Firely 1 thread\tmedian ms CPU/resource");
        foreach (var (name, _, _) in variants)
        {
            var m = Median(runs[name].Select(x => x.PerSecond));
            Console.WriteLine(FormattableString.Invariant($"{name}\t{m:0}\t{m / baseline:0.00}\t{Median(runs[name].Select(x => x.CpuPerResourceMs)):0.000}"));
        }
        if (copies > 0 && !onlyTrd) disagree += Distinct(Path.Combine(root, "tests", "Trd.Fhir.Adapter.Tests", "Golden"), copies, rounds, full, textbook, publicEntry);
        Console.WriteLine($"uptime: {Uptime()}");
        return disagree == 0 ? 0 : 1;
    }

    /// <summary>
    /// Inputs not seen before: <paramref name="copies"/> distinct copies of every golden entry (<see cref="DistinctCorpus"/>),
    /// each validated once by a fast-path validator whose memo is cold at the start (a new one per measurement, compiled
    /// first), beside the full engine and raw Firely on the same resources. Checks first that the fast path (cold) and the
    /// full engine agree on every resource. Returns the number of disagreements.
    /// </summary>
    private static int Distinct(string golden, int copies, int rounds, TrdValidator full, Firely.Fhir.Validation.Validator textbook, bool publicEntry)
    {
        var corpus = Trd.Fhir.Profiles.Tests.DistinctCorpus.Make(golden, copies);
        TrdValidator Cold()
        {
            var v = TrdValidator.Create(new TrdValidatorOptions { SharedState = !publicEntry });
            v.WarmUp();
            foreach (var r in corpus.DistinctBy(r => r.TypeName + string.Join(",", r.Meta?.Profile ?? []))) v.Validate((Resource)r.DeepCopy()); // compile every kind…
            return v;
        }
        int disagree;
        using (var check = TrdValidator.Create(new TrdValidatorOptions { SharedState = !publicEntry }))
        {
            disagree = corpus.Count(r => RenderAll(check.Validate(r)) != RenderAll(full.Validate(r)));
            var f = check.Fast!;
            Console.WriteLine($"distinct corpus: {corpus.Count} resources ({copies} copies of each golden entry), each seen once; fast path and full engine disagree on {disagree}; memo: {f.Hits} hits, {f.Misses} misses, {f.InvariantMisses} invariant misses, {f.Bypassed} not keyable, {f.Count} shapes");
        }
        var runs = new Dictionary<string, List<(double PerSecond, double CpuPerResourceMs)>>();
        var names = new[] { "raw Firely, 1 thread", "TrdValidator full engine, 1 thread", "TrdValidator fast path (memo cold), 1 thread", $"TrdValidator fast path (memo cold), {Environment.ProcessorCount} threads", $"TrdValidator full engine, {Environment.ProcessorCount} threads" };
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var name in names)
            {
                var parallel = name.EndsWith("threads", StringComparison.Ordinal);
                using var cold = name.Contains("fast path", StringComparison.Ordinal) ? Cold() : null; // …but remember no shape
                cold?.Fast!.Clear();
                Action<Resource> one = name.StartsWith("raw", StringComparison.Ordinal) ? r => textbook.Validate(r) : cold is not null ? r => cold.Validate(r) : r => full.Validate(r);
                var (perSecond, cpuMs) = Measure(corpus, one, parallel, 0);
                (runs.TryGetValue(name, out var l) ? l : runs[name] = []).Add((perSecond, cpuMs));
                var memo = cold is null ? "" : $"\tmemo: {cold.Fast!.Hits} hits, {cold.Fast.Misses} misses, {cold.Fast.InvariantMisses} invariant misses, {cold.Fast.Bypassed} not keyable";
                Console.WriteLine(FormattableString.Invariant($"distinct round {round}\t{name}\t{perSecond:0} resources/s\t{cpuMs:0.000} ms CPU/resource{memo}"));
            }
        }
        var baseline = Median(runs[names[0]].Select(x => x.PerSecond));
        Console.WriteLine("distinct corpus: variant\tmedian resources/s\tratio vs raw Firely 1 thread\tmedian ms CPU/resource");
        foreach (var name in names)
        {
            var m = Median(runs[name].Select(x => x.PerSecond));
            Console.WriteLine(FormattableString.Invariant($"{name}\t{m:0}\t{m / baseline:0.00}\t{Median(runs[name].Select(x => x.CpuPerResourceMs)):0.000}"));
        }
        return disagree;
    }

    private static (double PerSecond, double CpuPerResourceMs) Measure(List<Resource> corpus, Action<Resource> one, bool parallel, double seconds)
    {
        GC.Collect();
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        long done = 0;
        do
        {
            if (parallel) Parallel.ForEach(corpus, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, one);
            else corpus.ForEach(one);
            done += corpus.Count;
        }
        while (sw.Elapsed.TotalSeconds < seconds);
        sw.Stop();
        process.Refresh();
        return (done / sw.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpu0).TotalMilliseconds / done);
    }

    private static double Median(IEnumerable<double> xs)
    {
        var a = xs.Order().ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    internal static string Render(OperationOutcome oo) =>
        string.Join("\n", oo.Issue.Select(i => $"{i.Severity}|{i.Code}|{i.Details?.Text}"));

    private static string RenderAll(OperationOutcome oo) =>
        string.Join("\n", oo.Issue.Select(i => $"{i.Severity}|{i.Code}|{i.Details?.Text}|{i.Diagnostics}|{string.Join(",", i.Expression)}"));

    private static string Uptime() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
}
