using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Hl7.Fhir.Specification.Snapshot;
using Hl7.Fhir.Specification.Source;

namespace Trd.Fhir.Profiles.Store;

/// <summary>
/// The resolver chain: our artefacts (snapshots pre-generated, else generated once under a lock — never through
/// SnapshotSource over core) → the core spec store (slice, then zip) → cached. Thread-safe; every URL is loaded once.
/// </summary>
internal sealed class TrdResolver : IAsyncResourceResolver
{
    private readonly ArtifactCatalog _ours;
    private readonly CoreSpecStore _core;
    private readonly ArtifactPack? _snapshots;
    private readonly Dictionary<string, PackEntry> _snapshotByUrl = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Resource?>> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OperationOutcome> _snapshotFailures = new(StringComparer.Ordinal);
    private readonly Lock _snapshotLock = new();
    private readonly ConcurrentDictionary<string, byte> _prefetched = new(StringComparer.Ordinal);
    private long _snapshotTicks;
    private int _generated;
    private int _pregenerated;

    public TrdResolver(ArtifactCatalog ours, CoreSpecStore core, ArtifactPack? snapshots)
    {
        _ours = ours;
        _core = core;
        _snapshots = snapshots;
        if (snapshots is not null)
        {
            var setHash = ArtifactCatalog.EmbeddedSetHash();
            foreach (var e in snapshots.Entries.Where(e => e.Tag == setHash)) _snapshotByUrl[e.Url] = e;
        }
    }

    public CoreSpecStore Core => _core;

    public ArtifactCatalog Ours => _ours;

    /// <summary>Snapshots generated at run time / taken pre-generated from the pack.</summary>
    public (int Generated, int Pregenerated) SnapshotCounts => (Volatile.Read(ref _generated), Volatile.Read(ref _pregenerated));

    /// <summary>Time spent generating snapshots, including the base artefacts loaded meanwhile (diagnostics).</summary>
    public TimeSpan SnapshotTime => System.Diagnostics.Stopwatch.GetElapsedTime(0, Volatile.Read(ref _snapshotTicks));

    /// <summary>Our StructureDefinitions whose snapshot could not be generated, with the generator's outcome.</summary>
    public IReadOnlyDictionary<string, OperationOutcome> SnapshotFailures => _snapshotFailures;

    private bool MayGenerateSnapshot(string uri)
    {
        var url = CoreSliceBuilder.StripVersion(uri);
        return _ours.Find(url, null) is { ResourceType: "StructureDefinition" } e && !(e.Embedded && _snapshotByUrl.ContainsKey(e.Url));
    }

    public Task<Resource?> ResolveByCanonicalUriAsync(string uri) => System.Threading.Tasks.Task.FromResult(Resolve(uri));

    public Task<Resource?> ResolveByUriAsync(string uri) => System.Threading.Tasks.Task.FromResult(Resolve(uri));

    /// <summary>Every URI requested, in first-request order (diagnostics; the generator records prefetch lists from it).</summary>
    public ConcurrentQueue<string> RequestLog { get; } = new();

    /// <summary>
    /// Loads, on a pool thread and in order, the URIs the validator is known to request when it first compiles
    /// <paramref name="key"/> (a resource type or one of our profiles), recorded by the generator. The validator's own
    /// requests then find them cached, or wait for the one in flight; nothing is loaded twice. This overlaps artefact
    /// parsing with the validator's schema compilation on the second core. Each key is prefetched once per process.
    /// </summary>
    public void Prefetch(IEnumerable<string> keys)
    {
        if (Environment.ProcessorCount < 2) return;
        var uris = new List<string>();
        foreach (var key in keys)
        {
            if (!_prefetched.TryAdd(key, 0)) continue;
            if (_snapshotByUrl.TryGetValue(PrefetchPrefix + key, out var mine)) uris.AddRange(ArtifactPack.ReadList(_snapshots!.ReadJson(mine)));
            else if (_core.Find(PrefetchPrefix + key, null) is { Kind: PackEntryKind.Json } core) uris.AddRange(ArtifactPack.ReadList(_core.Pack.ReadJson(core)));
        }
        if (uris.Count == 0) return;
        _ = System.Threading.Tasks.Task.Run(() =>
        {
            // Never anything that may need snapshot generation: that takes the snapshot lock while holding the URI's
            // Lazy, and doing it on this thread too could order the two the other way round than the validator's thread.
            foreach (var u in uris.Distinct(StringComparer.Ordinal).Where(u => !MayGenerateSnapshot(u)))
            {
                try
                {
                    Resolve(u);
                }
                catch (Exception)
                {
                    // Prefetch is an optimisation only: the validator's own request reports any real problem.
                }
            }
        });
    }

    /// <summary>Index key of a recorded prefetch list in a pack: <c>prefetch:</c> + resource type or profile URL.</summary>
    internal const string PrefetchPrefix = "prefetch:";

    /// <summary>Whether <paramref name="url"/> is ours (or an extra source's) or in the embedded core slice: resolving it never
    /// reads specification.zip (supplementary checks use only such artefacts, to keep the cold start as measured).</summary>
    public bool ResolvesWithoutZip(string url) =>
        _ours.Find(url, null) is not null || _core.Find(url, null) is { Kind: PackEntryKind.Json };

    /// <summary>The resource type of the canonical <paramref name="url"/> when ours, an extra source's or the core
    /// specification's defines it, from the indexes only (nothing is loaded, specification.zip is not read); else null.</summary>
    public string? KindOf(string url) => _ours.Find(url, null)?.ResourceType ?? _core.Find(url, null)?.ResourceType;

    public Resource? Resolve(string uri) =>
        _cache.GetOrAdd(uri, u => new Lazy<Resource?>(() => Load(u), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    private Resource? Load(string uri)
    {
        RequestLog.Enqueue(uri);
        var bar = uri.IndexOf('|', StringComparison.Ordinal);
        var url = bar < 0 ? uri : uri[..bar];
        var version = bar < 0 ? null : uri[(bar + 1)..];
        var hash = url.IndexOf('#', StringComparison.Ordinal);
        if (hash >= 0) url = url[..hash];

        if (_ours.Find(url, version) is { } mine)
        {
            // Versioned and unversioned requests share one instance, so the validator compiles one schema.
            if (version is not null) return Resolve(url);
            return LoadOurs(mine);
        }
        if (_core.Find(url, version) is { } core)
        {
            if (version is not null) return Resolve(url);
            return _core.Load(core);
        }
        return null;
    }

    private Resource? LoadOurs(CatalogEntry entry)
    {
        if (entry.Embedded && _snapshotByUrl.TryGetValue(entry.Url, out var pre))
        {
            Interlocked.Increment(ref _pregenerated);
            return CoreSpecStore.ParseJson(_snapshots!.ReadJson(pre), entry.Url, trusted: true);
        }

        var resource = CoreSpecStore.ParseJson(entry.Raw.Json, entry.Url);
        if (resource is not StructureDefinition sd || sd.HasSnapshot) return resource;

        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        lock (_snapshotLock)
        {
            // A fresh generator per profile: SnapshotGenerator is not thread-safe and not re-entrant.
            var generator = new SnapshotGenerator(this, SnapshotGeneratorSettings.CreateDefault());
            generator.UpdateAsync(sd).GetAwaiter().GetResult();
            Interlocked.Increment(ref _generated);
            Interlocked.Add(ref _snapshotTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            if (generator.Outcome is { } outcome && !outcome.Success)
            {
                _snapshotFailures[entry.Url] = outcome;
                return null;
            }
        }
        return sd;
    }
}
