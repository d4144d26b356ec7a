using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Cli;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Tests.Cli;

public sealed class PackageCommandTests() : CliTest("trd-package-")
{
    private string Package(string name = "trd-fhir-profiles.tgz")
    {
        var path = Path.Combine(Dir, name);
        var (exit, output, error) = Run("package", "-o", path);
        Assert.True(exit == ExitCodes.Success, error);
        Assert.StartsWith($"{path}: trd.fhir.profiles#0.1.0, ", output, StringComparison.Ordinal);
        return path;
    }

    private static Dictionary<string, byte[]> Entries(string tgz)
    {
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using var file = File.OpenRead(tgz);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        while (tar.GetNextEntry() is { } e)
        {
            using var ms = new MemoryStream();
            e.DataStream?.CopyTo(ms);
            entries.Add(e.Name, ms.ToArray());
        }
        return entries;
    }

    private static IEnumerable<string> ProfileFiles() =>
        Directory.EnumerateFiles(Repo.Path("profiles"), "*.json").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal);

    [Fact]
    public void Package_TwoRuns_AreByteIdentical()
    {
        Assert.Equal(File.ReadAllBytes(Package("a.tgz")), File.ReadAllBytes(Package("b.tgz")));
    }

    [Fact]
    public void Package_PackageJsonAndIndex_WellFormedAndListEveryResource()
    {
        var entries = Entries(Package());

        var manifest = JsonNode.Parse(entries["package/package.json"])!;
        Assert.Equal("trd.fhir.profiles", (string?)manifest["name"]);
        Assert.Equal("0.1.0", (string?)manifest["version"]);
        Assert.Equal("https://trd-fhir.example.org/fhir", (string?)manifest["canonical"]);
        Assert.Equal(["4.0.1"], manifest["fhirVersions"]!.AsArray().Select(v => (string?)v));
        Assert.Equal("4.0.1", (string?)manifest["dependencies"]!["hl7.fhir.r4.core"]);

        var index = JsonNode.Parse(entries["package/.index.json"])!;
        Assert.Equal(1, (int)index["index-version"]!);
        var files = index["files"]!.AsArray();
        Assert.Equal(ProfileFiles(), files.Select(f => (string)f!["filename"]!));
        Assert.Equal(ProfileFiles().Select(f => "package/" + f), entries.Keys.Where(k => !k.StartsWith("package/.", StringComparison.Ordinal) && k != "package/package.json"));
        foreach (var f in files)
        {
            var resource = JsonNode.Parse(entries["package/" + (string)f!["filename"]!])!;
            Assert.Equal((string?)resource["resourceType"], (string?)f["resourceType"]);
            Assert.Equal((string?)resource["id"], (string?)f["id"]);
            Assert.Equal((string?)resource["url"], (string?)f["url"]);
            Assert.Equal((string?)resource["version"], (string?)f["version"]);
            if ((string?)f["resourceType"] == "StructureDefinition")
            {
                Assert.Equal((string?)resource["kind"], (string?)f["kind"]);
                Assert.Equal((string?)resource["type"], (string?)f["type"]);
                Assert.True(resource["snapshot"]?["element"]?.AsArray().Count > 0, $"{f["filename"]} has no snapshot");
            }
        }
    }

    [Fact]
    public void Package_LoadedInsteadOfTheEmbeddedProfiles_ValidatesTheExamplesTheSame()
    {
        var tgz = Package();
        var fromPackage = new TrdValidatorOptions { IncludeEmbeddedProfiles = false };
        fromPackage.ExtraSources.Add(ArtifactSource.NpmPackage(tgz));
        using var packaged = TrdValidator.Create(fromPackage);
        using var embedded = TrdValidator.Create();

        var examples = Directory.EnumerateFiles(Repo.Path("profiles", "examples"), "*.json").Where(f => !f.EndsWith("manifest.json", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.Contains(examples, f => f.Contains(".valid", StringComparison.Ordinal));
        Assert.Contains(examples, f => f.Contains(".invalid-", StringComparison.Ordinal));
        foreach (var file in examples)
        {
            var json = File.ReadAllText(file);
            var expected = Render(embedded.ValidateJson(json));
            Assert.Equal(expected, Render(packaged.ValidateJson(json)));
            Assert.Equal(file.Contains(".valid", StringComparison.Ordinal), !expected.Contains("|Error|", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Package_BadVersion_Exit2()
    {
        var (exit, _, error) = Run("package", "-o", Path.Combine(Dir, "x.tgz"), "--package-version", "latest");

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("not a valid package name and version", error, StringComparison.Ordinal);
    }

    private static string Render(OperationOutcome oo) =>
        string.Join("\n", oo.Issue.Select(i => $"|{i.Severity}|{i.Code}|{string.Join(",", i.Expression)}|{i.Details?.Text}"));
}
