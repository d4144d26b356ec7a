using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Tests;

public sealed class ArtifactSourceTests : IDisposable
{
    private const string PackagePatient = "http://example.org/fhir/pkg/StructureDefinition/pkg-patient";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trd-profiles-tests-" + Environment.ProcessId + "-" + Environment.CurrentManagedThreadId);

    public ArtifactSourceTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NpmPackage_ProfileFromPackage_IsEnforced(bool asTgz)
    {
        var path = asTgz ? WritePackageTgz() : WritePackageDir();
        var options = new TrdValidatorOptions();
        options.ExtraSources.Add(ArtifactSource.NpmPackage(path));
        using var validator = TrdValidator.Create(options);
        var patient = new Patient { Id = "p1", Meta = new Meta { Profile = [PackagePatient] } };

        var oo = validator.Validate(patient);

        Assert.Contains(PackagePatient, validator.ProfileUrls);
        var issue = Assert.Single(oo.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error);
        Assert.Contains("Missing required member: 'birthDate'", issue.Details.Text, StringComparison.Ordinal);
        Assert.Equal(["Patient"], issue.Expression);
    }

    [Fact]
    public void NpmPackage_ValidInstance_Passes()
    {
        var options = new TrdValidatorOptions();
        options.ExtraSources.Add(ArtifactSource.NpmPackage(WritePackageTgz()));
        using var validator = TrdValidator.Create(options);
        var patient = new Patient { Id = "p1", Meta = new Meta { Profile = [PackagePatient] }, BirthDate = "1980-02-03" };

        var oo = validator.Validate(patient);

        Assert.True(oo.Success, string.Join("; ", oo.Issue.Select(i => i.Details?.Text)));
    }

    [Fact]
    public void NpmPackage_IgnoresPackageManifestAndSubfolders()
    {
        var options = new TrdValidatorOptions { IncludeEmbeddedProfiles = false };
        options.ExtraSources.Add(ArtifactSource.NpmPackage(WritePackageTgz()));
        using var validator = TrdValidator.Create(options);

        Assert.Equal([PackagePatient], validator.ProfileUrls);
    }

    [Fact]
    public void FromResources_InMemoryProfile_IsEnforced()
    {
        var options = new TrdValidatorOptions();
        options.ExtraSources.Add(ArtifactSource.FromResources(TrdFhirParser.ParseJson(ProfileJson).Resource!));
        using var validator = TrdValidator.Create(options);

        var oo = validator.Validate(new Patient { Id = "p1" }, PackagePatient);

        Assert.Contains(oo.Issue, i => i.Details.Text.Contains("Missing required member: 'birthDate'", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ProfileWithUnresolvableBase_ReportsTheSnapshotFailure()
    {
        var broken = ProfileJson.Replace("http://hl7.org/fhir/StructureDefinition/Patient\"", "http://example.org/fhir/StructureDefinition/missing-base\"", StringComparison.Ordinal);
        var options = new TrdValidatorOptions { IncludeEmbeddedProfiles = false };
        options.ExtraSources.Add(ArtifactSource.FromResources(TrdFhirParser.ParseJson(broken).Resource!));
        using var validator = TrdValidator.Create(options);

        var oo = validator.Validate(new Patient { Id = "p1" }, PackagePatient);

        Assert.False(oo.Success);
        Assert.Contains(oo.Issue, i => i.Diagnostics?.Contains("Snapshot generation failed for profile '" + PackagePatient + "'", StringComparison.Ordinal) == true
            && i.Diagnostics.Contains("missing-base", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ProfileWithUnresolvableTargetProfile_ReportedNotThrown()
    {
        var broken = ProfileJson.Replace(
            "{ \"id\": \"Patient.birthDate\", \"path\": \"Patient.birthDate\", \"min\": 1 }",
            "{ \"id\": \"Patient.birthDate\", \"path\": \"Patient.birthDate\", \"min\": 1 }, { \"id\": \"Patient.managingOrganization\", \"path\": \"Patient.managingOrganization\", \"type\": [ { \"code\": \"Reference\", \"targetProfile\": [ \"http://example.org/fhir/StructureDefinition/nobody-knows\" ] } ] }",
            StringComparison.Ordinal);
        Assert.Contains("nobody-knows", broken, StringComparison.Ordinal);
        var options = new TrdValidatorOptions { IncludeEmbeddedProfiles = false };
        options.ExtraSources.Add(ArtifactSource.FromResources(TrdFhirParser.ParseJson(broken).Resource!));
        using var validator = TrdValidator.Create(options);

        var oo = validator.Validate(new Patient { Id = "p1", BirthDate = "1980" }, PackagePatient);

        var issue = Assert.Single(oo.Issue);
        Assert.Equal(OperationOutcome.IssueType.Incomplete, issue.Code);
        Assert.Contains("Compiler needs access to profile 'http://example.org/fhir/StructureDefinition/nobody-knows'", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Directory_Missing_Throws()
    {
        var options = new TrdValidatorOptions();
        options.ExtraSources.Add(ArtifactSource.Directory(Path.Combine(_dir, "nope")));

        Assert.Throws<DirectoryNotFoundException>(() => TrdValidator.Create(options));
    }

    private const string ProfileJson = """
        {
          "resourceType": "StructureDefinition",
          "id": "pkg-patient",
          "url": "http://example.org/fhir/pkg/StructureDefinition/pkg-patient",
          "version": "1.0.0",
          "name": "PkgPatient",
          "status": "active",
          "fhirVersion": "4.0.1",
          "kind": "resource",
          "abstract": false,
          "type": "Patient",
          "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
          "derivation": "constraint",
          "differential": { "element": [
            { "id": "Patient", "path": "Patient" },
            { "id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1 }
          ] }
        }
        """;

    private static readonly (string Name, string Content)[] PackageFiles =
    [
        ("package/package.json", """{ "name": "example.pkg", "version": "1.0.0", "fhirVersions": ["4.0.1"] }"""),
        ("package/.index.json", """{ "index-version": 1, "files": [] }"""),
        ("package/StructureDefinition-pkg-patient.json", ProfileJson),
        // Examples live in a subfolder and must not be indexed as artefacts.
        ("package/example/StructureDefinition-other.json", ProfileJson.Replace("pkg-patient", "pkg-example", StringComparison.Ordinal)),
    ];

    private string WritePackageTgz()
    {
        var path = Path.Combine(_dir, "example.pkg-1.0.0.tgz");
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gz, TarEntryFormat.Pax);
        foreach (var (name, content) in PackageFiles)
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
        }
        return path;
    }

    private string WritePackageDir()
    {
        var root = Path.Combine(_dir, "example.pkg");
        foreach (var (name, content) in PackageFiles)
        {
            var p = Path.Combine(root, name);
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.WriteAllText(p, content);
        }
        return root;
    }
}
