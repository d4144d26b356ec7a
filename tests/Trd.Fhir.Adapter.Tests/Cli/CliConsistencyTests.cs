using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary>The verbs behave alike where a new user trips: unknown options, empty inputs, the --auth values in the help.</summary>
public sealed class CliConsistencyTests() : CliTest("trd-cli-")
{
    [Theory]
    [InlineData("map")]
    [InlineData("validate")]
    public void UnknownOptionAfterAFile_UsageErrorNamingIt_NotNoSuchFile(string verb)
    {
        var (exit, output, error) = Run(verb, Repo.Path("examples", "phase1-augmentation.json"), "--bogus-flag");

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Equal("", output);
        Assert.Contains($"trd-fhir {verb}: unknown option '--bogus-flag' (fix: see 'trd-fhir {verb} --help'", error, StringComparison.Ordinal);
        Assert.DoesNotContain("no such file", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_FileNamedLikeAnOption_StillMapped()
    {
        var file = Path.Combine(Dir, "-odd.json");
        File.Copy(Repo.Path("examples", "phase1-augmentation.json"), file);

        var (exit, output, _) = Run("map", file);

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains("\"resourceType\": \"Bundle\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_EmptyDirectory_Exit2WithAMessage()
    {
        var empty = Directory.CreateDirectory(Path.Combine(Dir, "empty")).FullName;

        var (exit, output, error) = Run("map", empty);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Equal("", output);
        Assert.Contains($"map: no protocol documents (*.json) in {empty} (fix: give a .json file or a directory that holds some)", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("push")]
    [InlineData("pull")]
    [InlineData("probe")]
    public void Help_AuthListsTheLowerCaseValues(string verb)
    {
        var (exit, output, _) = Run(verb, "--help");

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains("--auth <none|basic|bearer|smart-backend>", output, StringComparison.Ordinal);
        Assert.DoesNotContain("SmartBackend", output, StringComparison.Ordinal);
    }
}
