using System.Diagnostics;
using Hl7.Fhir.Model;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Benchmarks;

/// <summary>
/// <c>Trd.Fhir.Benchmarks scale [--baseline-max-entries N] BUNDLE…</c> (tests/perf/linear-scale.sh): validates each mapped
/// protocol Bundle with a warm <see cref="TrdValidator"/> and — up to a size, since its cost grows with the square of the
/// Bundle — with the raw Firely validator (<see cref="Textbook"/>, whole Bundle in one call), in the same process.
/// Prints per Bundle: entries, wall and process-CPU seconds, CPU per entry, and the issue counts of both (they must agree).
/// </summary>
public static class Scale
{
    public static int Run(string[] args)
    {
        var max = 2_100;
        var files = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--baseline-max-entries") max = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else files.Add(args[i]);
        }
        var root = Repo.Root();
        using var trd = TrdValidator.Create();
        trd.WarmUp();
        var textbook = Textbook.Create(Path.Combine(root, "profiles"));
        // Warm both on the smallest Bundle (JIT, schemas, terminology caches).
        var warm = Load(files.OrderBy(f => new FileInfo(f).Length).First());
        trd.ValidateBundle(warm);
        textbook.Validate(warm);

        Console.WriteLine("bundle\tentries\tvalidator\twall_s\tcpu_s\tcpu_ms_per_entry\terrors");
        foreach (var file in files)
        {
            var bundle = Load(file);
            var n = bundle.Entry.Count;
            var (wall, cpu, oo) = Measure(() => trd.ValidateBundle(bundle));
            Row(file, n, "TrdValidator", wall, cpu, oo);
            if (n <= max)
            {
                var (bw, bc, boo) = Measure(() => textbook.Validate(bundle));
                Row(file, n, "raw Firely", bw, bc, boo);
            }
            else
            {
                Console.WriteLine($"{Path.GetFileName(file)}\t{n}\traw Firely\t(skipped: over {max} entries)");
            }
        }
        return 0;
    }

    private static Bundle Load(string file) => (Bundle)TrdFhirParser.ParseJson(File.ReadAllText(file)).Resource!;

    private static (double Wall, double Cpu, OperationOutcome Oo) Measure(Func<OperationOutcome> run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var oo = run();
        sw.Stop();
        process.Refresh();
        return (sw.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpu0).TotalSeconds, oo);
    }

    private static void Row(string file, int n, string what, double wall, double cpu, OperationOutcome oo) =>
        Console.WriteLine(FormattableString.Invariant(
            $"{Path.GetFileName(file)}\t{n}\t{what}\t{wall:0.00}\t{cpu:0.00}\t{1000 * cpu / n:0.000}\t{oo.Issue.Count(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal)}"));
}
