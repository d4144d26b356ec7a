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

    [Fact]
    public void Validate_EmptyDirectory_Exit2WithAMessage()
    {
        var empty = Directory.CreateDirectory(Path.Combine(Dir, "empty")).FullName;
        File.WriteAllText(Path.Combine(empty, "notes.txt"), "not FHIR");

        var (exit, output, error) = Run("validate", empty);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Equal("", output);
        Assert.Equal($"validate: no FHIR files (*.json, *.xml, *.ndjson) in {empty} or its subfolders (fix: give a file or a directory that holds some)\n", error);
    }

    /// <summary>map and validate expand the same way: the document in a subfolder is found by both; the empty folder
    /// next to a good input is still an input error for both.</summary>
    [Theory]
    [InlineData("map")]
    [InlineData("validate")]
    public void MapAndValidate_SubfolderFoundEmptyFolderExit2(string verb)
    {
        var top = Directory.CreateDirectory(Path.Combine(Dir, "top")).FullName;
        var sub = Directory.CreateDirectory(Path.Combine(top, "deeper", "still")).FullName;
        var input = verb == "map" ? Repo.Path("examples", "phase1-augmentation.json") : Repo.Path("profiles", "examples", "trd-condition.valid.json");
        File.Copy(input, Path.Combine(sub, "only.json"));
        var empty = Directory.CreateDirectory(Path.Combine(Dir, "nothing-here")).FullName;

        var found = Run(verb, top);
        var withEmpty = Run(verb, top, empty);

        Assert.Equal(ExitCodes.Success, found.Exit);
        Assert.Contains(verb == "map" ? "\"resourceType\": \"Bundle\"" : "validated 1 file(s), 1 resource(s): all valid", found.Out, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.UsageOrInput, withEmpty.Exit);
        Assert.Equal("", withEmpty.Out);
        Assert.Contains($"{verb}: no ", withEmpty.Err, StringComparison.Ordinal);
        Assert.Contains($" in {empty} ", withEmpty.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Push_EmptyDirectory_Exit2BeforeAnyServerIsContacted()
    {
        var empty = Directory.CreateDirectory(Path.Combine(Dir, "empty")).FullName;

        var (exit, output, error) = Run("push", empty, "--server", "http://127.0.0.1:9/fhir");

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Equal("", output);
        Assert.Equal($"push: no protocol documents (*.json) in {empty} (fix: give a .json file or a directory that holds some)\n", error);
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
