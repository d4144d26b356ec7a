using System.Text.Json;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Tests.Protocol;

/// <summary>tests/invalid-protocols/: each document yields exactly the errors its manifest lists (code, path and line) — nothing
/// missing, nothing extra at error level.</summary>
public class InvalidExamplesTests
{
    private static readonly JsonElement Manifest = JsonDocument.Parse(File.ReadAllText(Repo.Path("tests", "invalid-protocols", "manifest.json"))).RootElement;

    private static string[] FileNames() =>
        Directory.EnumerateFiles(Repo.Path("tests", "invalid-protocols"), "*.json").Select(f => Path.GetFileName(f))
            .Where(f => f != "manifest.json").Order(StringComparer.Ordinal).ToArray();

    public static TheoryData<string> Files() => new(FileNames());

    [Fact]
    public void Manifest_ListsEveryInvalidExample()
    {
        var listed = Manifest.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(FileNames(), listed);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Read_InvalidExample_ReportsExactlyItsListedErrors(string file)
    {
        var result = ProtocolReader.Read(File.ReadAllBytes(Repo.Path("tests", "invalid-protocols", file)));

        Assert.False(result.Success);
        var expected = Manifest.GetProperty(file).EnumerateArray()
            .Select(e => $"{e.GetProperty("code").GetString()} {e.GetProperty("path").GetString()} line {(e.TryGetProperty("line", out var l) ? l.GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")}")
            .Order(StringComparer.Ordinal).ToArray();
        var actual = result.Problems.Where(p => p.IsError)
            .Select(p => $"{p.Code} {p.Path} line {(p.Line?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?")}")
            .Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected, actual);
    }
}
