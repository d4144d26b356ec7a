// Cold-start harness: one process = one validation, as a CI step would run it.
//   trd-coldstart <instance.json> [--profiles DIR] [--variant trd|split|textbook] [--no-slice] [--no-pregen] [--quiet]
// Prints stage timestamps (ms since Main) on stderr and the issues on stdout. Time the whole process from outside
// (/usr/bin/time -v, hyperfine); the in-process stamps only say where the time goes.
using System.Diagnostics;
using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Hl7.Fhir.Specification.Snapshot;
using Hl7.Fhir.Specification.Source;
using Hl7.Fhir.Specification.Terminology;
using Trd.Fhir.Profiles;

var sw = Stopwatch.StartNew();
void Stamp(string stage) => Console.Error.WriteLine($"{sw.ElapsedMilliseconds,6} ms  {stage}");

if (args.Contains("--bench-loads"))
{
    // Where a core load's time goes: Brotli vs JSON->POCO, first pass (cold JIT) and second pass.
    var pack = Trd.Fhir.Profiles.Store.GeneratedArtifacts.Core!;
    var urls = File.ReadAllLines(args[1]).Where(u => pack.Entries.Any(e => e.Url == u && e.Kind == Trd.Fhir.Profiles.Store.PackEntryKind.Json)).ToList();
    var entries = urls.Select(u => pack.Entries.First(e => e.Url == u)).ToList();
    if (Opt("--dump") is { } dumpDir)
        foreach (var e in entries) File.WriteAllBytes(Path.Combine(dumpDir, Uri.EscapeDataString(e.Url) + ".json"), pack.ReadJson(e));
    for (var pass = 1; pass <= 2; pass++)
    {
        long unzip = 0, parse = 0, bytes = 0;
        foreach (var e in entries)
        {
            var t0 = Stopwatch.GetTimestamp();
            var json = pack.ReadJson(e);
            var t1 = Stopwatch.GetTimestamp();
            Trd.Fhir.Profiles.Store.CoreSpecStore.ParseJson(json, e.Url);
            var t2 = Stopwatch.GetTimestamp();
            unzip += t1 - t0;
            parse += t2 - t1;
            bytes += json.Length;
        }
        Console.WriteLine($"pass {pass}: {entries.Count} entries, {bytes / 1024} KiB JSON, brotli {Stopwatch.GetElapsedTime(0, unzip).TotalMilliseconds:F0} ms, parse {Stopwatch.GetElapsedTime(0, parse).TotalMilliseconds:F0} ms");
    }
    return 0;
}

var file = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? throw new ArgumentException("instance file required");
string? Opt(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
var variant = Opt("--variant") ?? "trd";
var profilesDir = Opt("--profiles");

var parsed = TrdFhirParser.ParseJson(File.ReadAllText(file));
Stamp("parsed instance");
if (parsed.Resource is null)
{
    Print(parsed.Outcome);
    return 2;
}

OperationOutcome oo;
if (variant == "trd")
{
    var options = new TrdValidatorOptions
    {
        UseCoreSlice = !args.Contains("--no-slice"),
        UsePregeneratedSnapshots = !args.Contains("--no-pregen"),
        Prefetch = !args.Contains("--no-prefetch"),
    };
    if (profilesDir is not null) options.ExtraSources.Add(ArtifactSource.Directory(profilesDir));
    using var validator = TrdValidator.Create(options);
    Stamp("TrdValidator.Create");
    oo = parsed.Resource is Bundle b ? validator.ValidateBundle(b) : validator.Validate(parsed.Resource);
    Stamp("validated");
    if (Opt("--record") is { } rec) File.WriteAllLines(rec, validator.Resolver.RequestLog);
    var (slice, zip) = validator.Resolver.Core.LoadCounts;
    var (generated, pregenerated) = validator.Resolver.SnapshotCounts;
    Console.Error.WriteLine($"core loads: {slice} slice, {zip} zip, {validator.Resolver.Core.LoadTime.TotalMilliseconds:F0} ms; " +
        $"snapshots: {generated} generated ({validator.Resolver.SnapshotTime.TotalMilliseconds:F0} ms incl. loads), {pregenerated} pre-generated");
}
else
{
    var zipSource = new ZipSource(Path.Combine(AppContext.BaseDirectory, "specification.zip"),
        Path.Combine(Path.GetTempPath(), "trd-coldstart-spec"), new DirectorySourceSettings { IncludeSubDirectories = true });
    IAsyncResourceResolver custom = profilesDir is null ? new MultiResolver() : new DirectorySource(profilesDir);
    IAsyncResourceResolver resolver;
    if (variant == "textbook")
    {
        resolver = new CachedResolver(new SnapshotSource(new MultiResolver(custom, zipSource)));
    }
    else
    {
        var coreCached = new CachedResolver(zipSource);
        var ours = new SnapshottingResolver(custom, new MultiResolver(custom, coreCached));
        resolver = new CachedResolver(new MultiResolver(ours, coreCached));
    }
    var validator = new Validator(resolver, new LocalTerminologyService(resolver));
    Stamp($"{variant} chain built");
    oo = validator.Validate(parsed.Resource);
    Stamp("validated");
}

Print(oo);
return oo.Success ? 0 : 1;

void Print(OperationOutcome outcome)
{
    if (args.Contains("--quiet")) return;
    Console.WriteLine($"{outcome.Issue.Count} issue(s), success={outcome.Success}");
    foreach (var i in outcome.Issue)
        Console.WriteLine($"  {i.Severity} {string.Join(",", i.Expression)}: {i.Details?.Text ?? i.Diagnostics}");
}

/// <summary>The prototype's "split" chain: snapshots generated for our artefacts only, never for core.</summary>
internal sealed class SnapshottingResolver(IAsyncResourceResolver custom, IAsyncResourceResolver baseResolver) : IAsyncResourceResolver
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public async Task<Resource?> ResolveByCanonicalUriAsync(string uri) => await Ensure((await custom.TryResolveByCanonicalUriAsync(uri)).Value);

    public async Task<Resource?> ResolveByUriAsync(string uri) => await Ensure((await custom.TryResolveByUriAsync(uri)).Value);

    private async Task<Resource?> Ensure(Resource? r)
    {
        if (r is not StructureDefinition sd || sd.HasSnapshot) return r;
        await Gate.WaitAsync();
        try
        {
            await new SnapshotGenerator(baseResolver).UpdateAsync(sd);
        }
        finally
        {
            Gate.Release();
        }
        return sd;
    }
}
