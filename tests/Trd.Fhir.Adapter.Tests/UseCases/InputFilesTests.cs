using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>The one expansion of command-line paths map, validate and push share.</summary>
public sealed class InputFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-inputs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Touch(params string[] parts)
    {
        var path = Path.Combine([_dir, .. parts]);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{}");
        return path;
    }

    [Fact]
    public void Expand_Directory_SearchesSubfoldersSortedOrdinalOnlyTheExtensions()
    {
        var b = Touch("tree", "b.json");
        var a = Touch("tree", "A.JSON");
        var deep = Touch("tree", "sub", "deeper", "c.json");
        Touch("tree", "notes.txt");
        Touch("tree", "sub", "d.xml");

        var expansion = InputFiles.Expand([Path.Combine(_dir, "tree")], InputFiles.ProtocolExtensions);

        Assert.Equal([a, b, deep], expansion.Files.Select(f => f.Path));
        Assert.All(expansion.Files, f => Assert.Equal(Path.Combine(_dir, "tree"), f.Root));
        Assert.Equal(Path.Combine("sub", "deeper", "c.json"), expansion.Files[2].RelativePath);
        Assert.Empty(expansion.Empty);
    }

    [Fact]
    public void Expand_FileMissingPathAndEmptyDirectory_KeptInOrderAndListed()
    {
        var given = Touch("given.txt");
        var missing = Path.Combine(_dir, "nope.json");
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty", "sub")).Parent!.FullName;

        var expansion = InputFiles.Expand([missing, given, empty], InputFiles.ProtocolExtensions);

        Assert.Equal([(missing, true, false), (given, false, false)], expansion.Files.Select(f => (f.Path, f.Missing, f.FromDirectory)));
        Assert.Equal("given.txt", expansion.Files[1].RelativePath);
        Assert.Equal([missing], expansion.Missing);
        Assert.Equal([given], expansion.Present.Select(f => f.Path));
        Assert.Equal([empty], expansion.Empty);
    }

    [Fact]
    public void Protocols_DirectoryWithSubfolder_FindsTheNestedDocumentNamesTheMissingPathAndTheEmptyDirectory()
    {
        var top = Touch("docs", "one.json");
        var nested = Touch("docs", "more", "two.json");
        var missing = Path.Combine(_dir, "gone");

        var empty = Directory.CreateDirectory(Path.Combine(_dir, "none")).FullName;

        var files = InputFiles.Protocols([Path.Combine(_dir, "docs"), missing, empty], out var absent, out var emptyDirectories);

        Assert.Equal([nested, top], files);
        Assert.Equal([missing], absent);
        Assert.Equal([empty], emptyDirectories);
    }

    [Fact]
    public void ValidationUnitsExpand_SameExpansionWithTheFhirExtensions()
    {
        var json = Touch("fhir", "a.json");
        var ndjson = Touch("fhir", "sub", "b.ndjson");
        var xml = Touch("fhir", "sub", "c.xml");
        Touch("fhir", "sub", "d.txt");
        var empty = Directory.CreateDirectory(Path.Combine(_dir, "none")).FullName;

        var inputs = ValidationUnits.Expand([Path.Combine(_dir, "fhir"), empty], out var emptyDirectories);

        Assert.Equal([(json, InputKind.Json), (ndjson, InputKind.Ndjson), (xml, InputKind.Xml)], inputs.Select(i => (i.Path, i.Kind)));
        Assert.All(inputs, i => Assert.True(i.FromDirectory));
        Assert.Equal([empty], emptyDirectories);
    }
}
