using System.Text.Json.Nodes;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary><c>trd-fhir map</c> validates the Bundle it produced: a non-conforming one is reported, not written, exit 1.</summary>
public sealed class MapValidationTests() : CliTest("trd-mapval-")
{
    /// <summary>Our trd-condition, made stricter (Condition.note 1..*), which the mapping does not fill.</summary>
    private string StricterConditionIg()
    {
        var sd = JsonNode.Parse(File.ReadAllText(Repo.Path("profiles", "StructureDefinition-trd-condition.json")))!;
        sd["differential"]!["element"]!.AsArray().Add(new JsonObject { ["id"] = "Condition.note", ["path"] = "Condition.note", ["min"] = 1 });
        File.WriteAllText(Path.Combine(Dir, "StructureDefinition-trd-condition.json"), sd.ToJsonString());
        return Dir;
    }

    [Fact]
    public void Map_EveryExample_ConformsAndExit0()
    {
        var (exit, _, error) = Run("map", Repo.Path("examples"), "--out-dir", Path.Combine(Dir, "out"));

        Assert.Equal(ExitCodes.Success, exit);
        Assert.DoesNotContain(": error ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_BundleNotConforming_PrintsTheIssueWritesNothingExit1()
    {
        var example = Repo.Path("examples", "phase1-augmentation.json");

        var (exit, output, error) = Run("map", example, "--ig", StricterConditionIg());

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.Equal("", output);
        Assert.Contains($"{example}: error invalid: Bundle.entry[0].resource: Missing required member: 'note'\n", error, StringComparison.Ordinal);
        Assert.Contains($"{example}: the mapped Bundle does not conform to the profiles (1 error(s)); it was not written (fix: correct the protocol document, or map with --no-validate to write it anyway)\n", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_NoValidate_WritesTheBundleAnyway()
    {
        var (exit, output, error) = Run("map", Repo.Path("examples", "phase1-augmentation.json"), "--ig", StricterConditionIg(), "--no-validate");

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains("\"resourceType\": \"Bundle\"", output, StringComparison.Ordinal);
        Assert.DoesNotContain("note", error, StringComparison.Ordinal);
    }
}
