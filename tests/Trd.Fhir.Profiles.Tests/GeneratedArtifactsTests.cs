using Trd.Fhir.Profiles.Store;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>
/// The generated packs are committed; these tests prove they are not stale. When one fails, regenerate:
/// <c>tools/Trd.Fhir.Generate/regenerate.sh</c> and commit
/// <c>src/Trd.Fhir.Profiles/Generated/</c>.
/// </summary>
public class GeneratedArtifactsTests
{
    private const string Regenerate = "Generated/*.pack is stale (profiles/*.json or the spec changed): run tools/Trd.Fhir.Generate/regenerate.sh and commit src/Trd.Fhir.Profiles/Generated/ with the profiles change.";

    [Fact]
    public void CorePack_InputsHash_MatchesSpecificationAndProfiles()
    {
        var embedded = GeneratedArtifacts.Core!;
        var expected = CoreSliceBuilder.InputsHash(GeneratedArtifacts.DefaultZipPath, GeneratedArtifacts.ExternalCanonicals(ArtifactCatalog.ReadEmbedded()));

        Assert.True(expected == embedded.InputsHash, Regenerate);
    }

    [Fact]
    public void CorePack_Regenerated_IsByteIdentical()
    {
        var rebuilt = GeneratedArtifacts.BuildCorePack(GeneratedArtifacts.DefaultZipPath);
        var committed = ArtifactCatalog.ReadEmbeddedBlob(typeof(GeneratedArtifacts).Assembly, GeneratedArtifacts.CorePackResource)!;

        Assert.True(rebuilt.Pack.AsSpan().SequenceEqual(committed), Regenerate);
    }

    [Fact]
    public void SnapshotPack_Regenerated_IsByteIdentical()
    {
        var core = new CoreSpecStore(GeneratedArtifacts.Core!, GeneratedArtifacts.DefaultZipPath);
        var rebuilt = GeneratedArtifacts.BuildSnapshotPack(core);
        var committed = ArtifactCatalog.ReadEmbeddedBlob(typeof(GeneratedArtifacts).Assembly, GeneratedArtifacts.SnapshotPackResource)!;

        Assert.Empty(rebuilt.Failures);
        Assert.True(rebuilt.Pack.AsSpan().SequenceEqual(committed), Regenerate);
    }

    [Fact]
    public void CorePack_Slice_CoversTheSeedTypesAndWhatOurProfilesReach()
    {
        var pack = GeneratedArtifacts.Core!;
        var inSlice = pack.Entries.Where(e => e.Kind == PackEntryKind.Json).Select(e => e.Url).ToHashSet();
        var inIndex = pack.Entries.Select(e => e.Url).ToHashSet();

        foreach (var t in CoreSliceBuilder.SeedResourceTypes) Assert.Contains("http://hl7.org/fhir/StructureDefinition/" + t, inSlice);
        foreach (var u in GeneratedArtifacts.ExternalCanonicals(ArtifactCatalog.ReadEmbedded()).Where(inIndex.Contains)) Assert.Contains(u, inSlice);
        Assert.True(inIndex.Count > 4000, "the index covers every canonical resource of specification.zip");
    }

    [Fact]
    public void CoreSpecStore_SliceAndZip_ParseToTheSameUrlAndType()
    {
        var pack = GeneratedArtifacts.Core!;
        var slice = new CoreSpecStore(pack, GeneratedArtifacts.DefaultZipPath, useSlice: true);
        var zip = new CoreSpecStore(pack, GeneratedArtifacts.DefaultZipPath, useSlice: false);

        foreach (var e in pack.Entries.Where(e => e.Kind == PackEntryKind.Json).Take(40))
        {
            var a = slice.Load(e);
            var b = zip.Load(e);
            Assert.Equal(a.TypeName, b.TypeName);
            Assert.Equal(((Hl7.Fhir.Model.IVersionableConformanceResource)a).Url, ((Hl7.Fhir.Model.IVersionableConformanceResource)b).Url);
        }
        Assert.Equal((40, 0), slice.LoadCounts);
        Assert.Equal((0, 40), zip.LoadCounts);
    }
}
