using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Trd.Fhir.Profiles.Validation;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Tests.Fidelity;

/// <summary>
/// Issue 12 item 4: <c>--ig</c> takes a directory of packages (<c>*.tgz</c> and extracted packages side by side) and the
/// FHIR package cache layout (<c>~/.fhir/packages/&lt;id&gt;#&lt;version&gt;/package/*.json</c>); every package found is
/// loaded and its profiles enforced (<see cref="IgPackages"/>, <see cref="ValidatorPool.TryOpen(IReadOnlyList{string}, IReadOnlyDictionary{string, string}, out ValidatorPool?, out string?)"/>).
/// The packages are built here from synthetic StructureDefinitions, serialised by the Firely SDK.
/// </summary>
public sealed class IgDirectoryTests : IDisposable
{
    private const string NeedsBirthDate = "http://example.org/fhir/ig-a/StructureDefinition/patient-birthdate";
    private const string NeedsGender = "http://example.org/fhir/ig-b/StructureDefinition/patient-gender";
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-ig-dir-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DirectoryOfPackages_ATgzAndAnExtractedPackage_BothLoadedAndEnforced()
    {
        var packages = Path.Combine(_dir, "packages");
        WriteTgz(Path.Combine(packages, "example.ig-a-1.0.0.tgz"), "example.ig-a", Profile(NeedsBirthDate, "birthDate"));
        WriteFolder(Path.Combine(packages, "example.ig-b"), "example.ig-b", Profile(NeedsGender, "gender"));

        var oo = ValidateWithIg(packages, out var sources);

        Assert.Equal(2, sources);
        AssertBothProfilesEnforced(oo);
    }

    [Fact]
    public void PackageCacheLayout_IdHashVersionFolders_AllLoadedAndEnforced()
    {
        var cache = Path.Combine(_dir, ".fhir", "packages");
        WriteFolder(Path.Combine(cache, "example.ig-a#1.0.0"), "example.ig-a", Profile(NeedsBirthDate, "birthDate"));
        WriteFolder(Path.Combine(cache, "example.ig-b#2.1.0"), "example.ig-b", Profile(NeedsGender, "gender"));
        File.WriteAllText(Path.Combine(cache, "packages.ini"), "[cache]\nversion=3\n"); // the cache's own bookkeeping file

        var oo = ValidateWithIg(cache, out var sources);

        Assert.Equal(2, sources);
        AssertBothProfilesEnforced(oo);
    }

    [Fact]
    public void DirectoryOfPackages_ConformingInstance_Passes()
    {
        var packages = Path.Combine(_dir, "packages");
        WriteTgz(Path.Combine(packages, "example.ig-a-1.0.0.tgz"), "example.ig-a", Profile(NeedsBirthDate, "birthDate"));
        WriteFolder(Path.Combine(packages, "example.ig-b#2.1.0"), "example.ig-b", Profile(NeedsGender, "gender"));
        Assert.True(ValidatorPool.TryOpen([packages], new Dictionary<string, string>(), out var pool, out var error), error);
        using var lease = pool!;

        var oo = lease.Validate(new Patient { Meta = new Meta { Profile = [NeedsBirthDate, NeedsGender] }, BirthDate = "1980-02-03", Gender = AdministrativeGender.Other });

        Assert.Empty(oo.Issue);
    }

    [Fact]
    public void WithoutTheIg_TheProfilesAreUnknown_WarningWithTheIgHint()
    {
        using var pool = ValidatorPool.Shared();

        var oo = pool.Validate(Claiming());

        Assert.True(oo.Success);
        Assert.Equal(2, oo.Issue.Count(i => i.Severity == IssueSeverity.Warning && i.Details.Text.Contains("--ig", StringComparison.Ordinal)));
    }

    private static Patient Claiming() => new() { Meta = new Meta { Profile = [NeedsBirthDate, NeedsGender] } };

    private static OperationOutcome ValidateWithIg(string path, out int sources)
    {
        sources = IgPackages.Expand(path).Count;
        Assert.True(ValidatorPool.TryOpen([path], new Dictionary<string, string>(), out var pool, out var error), error);
        using var lease = pool!;
        return lease.Validate(Claiming());
    }

    private static void AssertBothProfilesEnforced(OperationOutcome oo)
    {
        var errors = oo.Issue.Where(i => i.Severity == IssueSeverity.Error).Select(i => i.Details.Text).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, errors.Count);
        Assert.StartsWith("Missing required member: 'birthDate'", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("Missing required member: 'gender'", errors[1], StringComparison.Ordinal);
        Assert.DoesNotContain(oo.Issue, i => i.Severity == IssueSeverity.Warning);
    }

    /// <summary>A Patient profile making <paramref name="element"/> required.</summary>
    private static StructureDefinition Profile(string url, string element) => new()
    {
        Id = url[(url.LastIndexOf('/') + 1)..], Url = url, Version = "1.0.0", Name = "Patient" + char.ToUpperInvariant(element[0]) + element[1..],
        Status = PublicationStatus.Active, FhirVersion = FHIRVersion.N4_0_1, Kind = StructureDefinition.StructureDefinitionKind.Resource,
        Abstract = false, Type = "Patient", BaseDefinition = "http://hl7.org/fhir/StructureDefinition/Patient",
        Derivation = StructureDefinition.TypeDerivationRule.Constraint,
        Differential = new StructureDefinition.DifferentialComponent
        {
            Element =
            [
                new ElementDefinition { ElementId = "Patient", Path = "Patient" },
                new ElementDefinition { ElementId = $"Patient.{element}", Path = $"Patient.{element}", Min = 1 },
            ],
        },
    };

    private static IEnumerable<(string Name, string Content)> PackageFiles(string id, StructureDefinition sd)
    {
        var manifest = new System.Text.Json.Nodes.JsonObject { ["name"] = id, ["version"] = "1.0.0", ["fhirVersions"] = new System.Text.Json.Nodes.JsonArray("4.0.1") };
        yield return ("package/package.json", manifest.ToJsonString());
        yield return ($"package/StructureDefinition-{sd.Id}.json", new FhirJsonSerializer().SerializeToString(sd));
    }

    private static void WriteTgz(string path, string id, StructureDefinition sd)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gz, TarEntryFormat.Pax);
        foreach (var (name, content) in PackageFiles(id, sd))
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
    }

    private static void WriteFolder(string root, string id, StructureDefinition sd)
    {
        foreach (var (name, content) in PackageFiles(id, sd))
        {
            var p = Path.Combine(root, name);
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.WriteAllText(p, content);
        }
    }
}
