// Regenerates src/Trd.Fhir.Profiles/Generated/{core,snapshots}.pack (usually through regenerate.sh next to this file).
//   dotnet run --project tools/Trd.Fhir.Generate -c Release                     (writes next to the Profiles sources)
//   dotnet run --project tools/Trd.Fhir.Generate -c Release -- <dir> [--list]   (writes elsewhere; lists the slice)
// The build embeds the current profiles/*.json; everything after that uses the packs built here, so one run is enough.
// GeneratedArtifactsTests tell you when it is needed.
using System.Diagnostics;
using Trd.Fhir.Profiles.Store;

var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
var outDir = positional.Count > 0 ? positional[0] : FindGeneratedDir();
Directory.CreateDirectory(outDir);
var zip = GeneratedArtifacts.DefaultZipPath;
var sw = Stopwatch.StartNew();

var core = GeneratedArtifacts.BuildCorePack(zip);
File.WriteAllBytes(Path.Combine(outDir, "core.pack"), core.Pack);
Console.WriteLine($"core.pack: {core.IndexCount} indexed, {core.SliceCount} in the slice, {core.Pack.Length / 1024} KiB, inputs {core.InputsHash[..12]} ({sw.ElapsedMilliseconds} ms)");

var store = new CoreSpecStore(ArtifactPack.Read(core.Pack), zip);
var snaps = GeneratedArtifacts.BuildSnapshotPack(store);
File.WriteAllBytes(Path.Combine(outDir, "snapshots.pack"), snaps.Pack);
Console.WriteLine($"snapshots.pack: {snaps.Generated.Count} snapshots, {snaps.Pack.Length / 1024} KiB ({sw.ElapsedMilliseconds} ms)");
foreach (var (url, oo) in snaps.Failures)
    Console.Error.WriteLine($"snapshot of {url} failed: {string.Join("; ", oo.Issue.Select(i => i.Details?.Text))}");
if (args.Contains("--list")) foreach (var u in core.SliceUrls) Console.WriteLine("  " + u);
return snaps.Failures.Count == 0 ? 0 : 1;

static string FindGeneratedDir()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "Trd.Fhir.sln"))) return Path.Combine(d.FullName, "src", "Trd.Fhir.Profiles", "Generated");
    throw new InvalidOperationException("Run from inside the repository or pass the output directory.");
}
