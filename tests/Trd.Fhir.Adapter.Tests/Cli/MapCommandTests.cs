using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

public sealed class MapCommandTests() : CliTest("trd-map-")
{
    [Fact]
    public void Map_Example_WritesTransactionBundleToStdout()
    {
        var (exit, output, _) = Run("map", Repo.Path("examples", "phase1-augmentation.json"));

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains("\"resourceType\": \"Bundle\"", output, StringComparison.Ordinal);
        Assert.Contains("\"type\": \"transaction\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_ThenReverse_GivesTheExampleBack()
    {
        var example = Repo.Path("examples", "phase2-remission.json");
        var bundle = Path.Combine(Dir, "bundle.json");
        var protocol = Path.Combine(Dir, "protocol.json");

        Assert.Equal(ExitCodes.Success, Run("map", example, "-o", bundle).Exit);
        Assert.Equal(ExitCodes.Success, Run("map", "--reverse", bundle, "-o", protocol).Exit);

        Assert.Equal(File.ReadAllText(example), File.ReadAllText(protocol));
    }

    [Fact]
    public void Map_InvalidDocument_Exit2WithFileLineAndPath()
    {
        var file = Path.Combine(Dir, "bad.json");
        File.WriteAllText(file, File.ReadAllText(Repo.Path("examples", "phase1-augmentation.json")).Replace("\"drug\": \"venlafaxine\",\n          \"role\"", "\"drug\": \"venlafaxin\",\n          \"role\"", StringComparison.Ordinal));

        var (exit, output, error) = Run("map", file);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Equal("", output);
        Assert.Matches(@"bad\.json:\d+:\d+: error UnknownCode: \$\.phases\[0\]\.interventions\[0\]\.drug: unknown drug 'venlafaxin' \(fix: use one of: .*venlafaxine", error);
    }

    [Fact]
    public void Map_MissingFile_Exit2NamingIt()
    {
        var (exit, _, error) = Run("map", Path.Combine(Dir, "nope.json"));

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("nope.json: no such file or directory", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_UnknownOption_Exit2()
    {
        var (exit, _, error) = Run("map", "--frobnicate", Repo.Path("examples", "phase1-augmentation.json"));

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("--frobnicate", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Reverse_NotFhir_Exit2WithReason()
    {
        var file = Path.Combine(Dir, "x.json");
        File.WriteAllText(file, "{\"hello\": 1}");

        var (exit, _, error) = Run("map", "--reverse", file);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("not a FHIR resource", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_OutDir_WritesOneBundlePerExampleAndSummary()
    {
        var (exit, output, _) = Run("map", Repo.Path("examples"), "--out-dir", Dir);

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal(Repo.Examples().Count(), Directory.GetFiles(Dir, "*.bundle.json").Length);
        Assert.Contains("phase3-ect-esketamine.json: 104 resources", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_OutDirFromNestedDirectories_KeepsTheSubfolderSoEqualNamesDoNotCollide()
    {
        var input = Directory.CreateDirectory(Path.Combine(Dir, "in")).FullName;
        foreach (var clinic in new[] { "clinic-a", "clinic-b" })
        {
            Directory.CreateDirectory(Path.Combine(input, clinic));
            File.Copy(Repo.Path("examples", clinic == "clinic-a" ? "phase1-augmentation.json" : "phase2-remission.json"), Path.Combine(input, clinic, "protocol.json"));
        }
        var outDir = Path.Combine(Dir, "out");

        var (exit, output, _) = Run("map", input, "--out-dir", outDir, "--no-validate");

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal(
            [Path.Combine(outDir, "clinic-a", "protocol.bundle.json"), Path.Combine(outDir, "clinic-b", "protocol.bundle.json")],
            Directory.GetFiles(outDir, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
        Assert.Equal(File.ReadAllText(Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase2-remission.bundle.json")).TrimEnd(), File.ReadAllText(Path.Combine(outDir, "clinic-b", "protocol.bundle.json")).TrimEnd());
        Assert.Contains($"{Path.Combine(input, "clinic-a", "protocol.json")}: 64 resources", output, StringComparison.Ordinal);
    }
}
