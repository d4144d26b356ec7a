using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Trd.Fhir.Profiles.Store;

/// <summary>
/// The two generated packs embedded in this assembly (<c>Generated/core.pack</c>, <c>Generated/snapshots.pack</c>) and the
/// code that (re)generates them — shared by <c>tools/Trd.Fhir.Generate</c> and the staleness test.
/// </summary>
internal static class GeneratedArtifacts
{
    public const string CorePackResource = "Trd.Fhir.Profiles.core.pack";
    public const string SnapshotPackResource = "Trd.Fhir.Profiles.snapshots.pack";

    private static readonly Lazy<ArtifactPack?> CorePack = new(() => ReadPack(CorePackResource));
    private static readonly Lazy<ArtifactPack?> SnapshotPack = new(() => ReadPack(SnapshotPackResource));

    public static ArtifactPack? Core => CorePack.Value;

    public static ArtifactPack? Snapshots => SnapshotPack.Value;

    /// <summary>Default location of specification.zip: next to the binary (copied there by this project).</summary>
    public static string DefaultZipPath => Path.Combine(AppContext.BaseDirectory, "specification.zip");

    private static ArtifactPack? ReadPack(string name) =>
        ArtifactCatalog.ReadEmbeddedBlob(typeof(GeneratedArtifacts).Assembly, name) is { } bytes ? ArtifactPack.Read(bytes) : null;

    /// <summary>Canonical URLs our artefacts point at outside themselves: bases, element types, profiles, targets, bindings, systems.</summary>
    public static IReadOnlyList<string> ExternalCanonicals(IEnumerable<RawArtifact> ours)
    {
        var resources = ours.Select(r => CoreSpecStore.ParseJson(r.Json, r.Origin)).ToList();
        var own = resources.OfType<IVersionableConformanceResource>().Select(r => r.Url).Where(u => u is not null).ToHashSet(StringComparer.Ordinal);
        var refs = new SortedSet<string>(StringComparer.Ordinal);
        void Add(string? u)
        {
            if (string.IsNullOrEmpty(u)) return;
            u = CoreSliceBuilder.StripVersion(u);
            if (!own.Contains(u)) refs.Add(u);
        }
        foreach (var r in resources)
        {
            switch (r)
            {
                case StructureDefinition sd:
                    Add(sd.BaseDefinition);
                    foreach (var ed in (sd.Differential?.Element ?? []).Concat(sd.Snapshot?.Element ?? []))
                    {
                        foreach (var t in ed.Type)
                        {
                            if (t.Code is { } c && !c.StartsWith("http://hl7.org/fhirpath/", StringComparison.Ordinal))
                                Add(c.Contains(':', StringComparison.Ordinal) ? c : "http://hl7.org/fhir/StructureDefinition/" + c);
                            foreach (var p in t.Profile) Add(p);
                            foreach (var p in t.TargetProfile) Add(p);
                        }
                        Add(ed.Binding?.ValueSet);
                    }
                    break;
                case ValueSet vs:
                    foreach (var inc in vs.Compose?.Include.Concat(vs.Compose.Exclude) ?? [])
                    {
                        Add(inc.System);
                        foreach (var v in inc.ValueSet) Add(v);
                    }
                    break;
            }
        }
        return refs.ToList();
    }

    public static CoreSliceBuilder.Result BuildCorePack(string zipPath) =>
        CoreSliceBuilder.Build(zipPath, ExternalCanonicals(ArtifactCatalog.ReadEmbedded()), RecordCorePrefetch);

    /// <summary>For each seed type: what a cold validator requests, in order, validating an empty instance of it.</summary>
    private static IEnumerable<(string, IReadOnlyList<string>)> RecordCorePrefetch(ArtifactPack pack)
    {
        foreach (var type in CoreSliceBuilder.SeedResourceTypes)
        {
            using var validator = TrdValidator.Create(new TrdValidatorOptions { IncludeEmbeddedProfiles = false, Prefetch = false }, pack, null);
            yield return (type, validator.RecordRequests(NewInstance(type), null));
        }
    }

    private static Resource NewInstance(string type) =>
        (Resource)Activator.CreateInstance(ModelInfo.GetTypeForFhirType(type) ?? throw new InvalidOperationException($"Unknown type {type}"))!;

    /// <summary>
    /// Snapshots of every embedded StructureDefinition that has none, generated against <paramref name="core"/>.
    /// Each entry is tagged with <see cref="ArtifactCatalog.EmbeddedSetHash"/>: any change to any embedded artefact
    /// makes all of them unused (a profile's snapshot can depend on another profile), never wrong.
    /// </summary>
    public static (byte[] Pack, IReadOnlyList<string> Generated, IReadOnlyDictionary<string, OperationOutcome> Failures) BuildSnapshotPack(CoreSpecStore core)
    {
        var setHash = ArtifactCatalog.EmbeddedSetHash();
        var catalog = new ArtifactCatalog([], includeEmbedded: true);
        var resolver = new TrdResolver(catalog, core, snapshots: null);
        var serializer = new FhirJsonSerializer();
        var items = new List<(PackEntry, byte[]?)>();
        foreach (var e in catalog.Entries.Where(e => e.ResourceType == "StructureDefinition").OrderBy(e => e.Url, StringComparer.Ordinal))
        {
            var source = CoreSpecStore.ParseJson(e.Raw.Json, e.Url) as StructureDefinition;
            if (source is null || source.HasSnapshot) continue;
            if (resolver.Resolve(e.Url) is not StructureDefinition sd) continue;
            var json = Encoding.UTF8.GetBytes(serializer.SerializeToString(sd));
            items.Add((new PackEntry(e.Url, e.Version, e.ResourceType, PackEntryKind.Json, "", 0, 0, setHash), json));
        }
        // What a cold validator requests for each of our resource profiles (without pre-generated snapshots, so the base
        // artefacts the snapshot generator reads are in the list too).
        foreach (var e in catalog.Entries.Where(e => e.ResourceType == "StructureDefinition").OrderBy(e => e.Url, StringComparer.Ordinal))
        {
            if (resolver.Resolve(e.Url) is not StructureDefinition { Kind: StructureDefinition.StructureDefinitionKind.Resource, Type: { } type }) continue;
            using var validator = TrdValidator.Create(new TrdValidatorOptions { Prefetch = false, UsePregeneratedSnapshots = false }, core.Pack, null);
            var uris = validator.RecordRequests(NewInstance(type), e.Url);
            items.Add((new PackEntry(TrdResolver.PrefetchPrefix + e.Url, null, "PrefetchList", PackEntryKind.Json, "", 0, 0, setHash), ArtifactPack.WriteList(uris)));
        }
        var inputs = setHash + "+" + (core.Pack.InputsHash);
        return (ArtifactPack.Write(inputs, items), items.Select(i => i.Item1.Url).Where(u => !u.StartsWith(TrdResolver.PrefetchPrefix, StringComparison.Ordinal)).ToList(), resolver.SnapshotFailures);
    }
}
