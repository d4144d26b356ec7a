using System.Text.RegularExpressions;
using Trd.Fhir.Adapter.Tests.Cli;
using Trd.Fhir.BadInput;

namespace Trd.Fhir.Adapter.Tests;

/// <summary>
/// The bad-input corpus (tests/bad-input/manifest.json) through the real CLI, in-process: every hostile input gets its
/// exit code and one line naming the file, line:column, JSON path (or FHIRPath) and the expected message; never an
/// unhandled exception, a stack trace or megabytes echoed back.
/// </summary>
public sealed partial class BadInputCorpusTests() : CliTest("trd-bad-input-")
{
    public static TheoryData<string> CliCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in BadInputCorpus.Cases.Where(c => c.Cli is not null))
            data.Add(c.File);
        return data;
    }

    [Theory]
    [MemberData(nameof(CliCases))]
    public void Run_BadInput_ExitCodeAndPreciseLineNoCrash(string file)
    {
        var c = BadInputCorpus.Case(file);
        var expected = c.Cli!;
        var path = BadInputCorpus.Materialize(c, Dir);

        var (exit, output, error) = Run([.. expected.Verb.Split(' '), path]);

        var all = output + error;
        Assert.True(expected.Exit == exit, $"exit {exit}, expected {expected.Exit}; output:\n{Head(all)}");
        var prefix = expected.At is null ? $"{path}: " : $"{path}:{expected.At}: ";
        var located = expected.Code is not null && expected.Path is not null ? $" {expected.Code}: {expected.Path}: "
            : expected.Path is not null ? $": {expected.Path}: "
            : expected.Code is not null ? $" {expected.Code}: "
            : "";
        // Paths inside a Bundle entry name the resource as a FHIRPath comment (Bundle.entry[0].resource/*Patient/x*/…): same path.
        var lines = Regex.Replace(all, @"/\*[^*\n]*\*/", "").Split('\n');
        Assert.True(
            lines.Any(l => l.StartsWith(prefix, StringComparison.Ordinal) && l.Contains(located, StringComparison.Ordinal) && l.Contains(expected.Message, StringComparison.Ordinal)),
            $"no line '{prefix}…{located}…{expected.Message}…' in:\n{Head(all)}");
        Assert.DoesNotContain("Unhandled exception", all, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(lines, l => StackFrame().IsMatch(l));
        Assert.True(all.Length < 1_000_000, $"{all.Length} characters of output for one bad input");
    }

    [Fact]
    public void Manifest_ListsEveryCommittedFileAndEveryGenerator()
    {
        var committed = Directory.EnumerateFiles(BadInputCorpus.Directory)
            .Select(f => Path.GetFileName(f))
            .Where(n => n is not "manifest.json" and not "BadInputCorpus.cs")
            .Order(StringComparer.Ordinal)
            .ToList();
        var cases = BadInputCorpus.Cases;

        Assert.Equal(committed, cases.Where(c => c.Generator is null).Select(c => c.File).Order(StringComparer.Ordinal));
        Assert.Equal(78, cases.Count);
        Assert.Equal(cases.Count, cases.Select(c => c.File).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(BadInputCorpus.Generators.Keys.Order(StringComparer.Ordinal), cases.Select(c => c.Generator).OfType<string>().Order(StringComparer.Ordinal));
        Assert.All(cases, c => Assert.True(c.Cli is not null || c.Api is not null, c.File));
        Assert.All(cases, c => Assert.False(string.IsNullOrWhiteSpace(c.Attacks), c.File));
        Assert.All(cases.Where(c => c.Cli is not null), c => Assert.Contains(c.Cli!.Exit, new[] { 1, 2 }));
        Assert.All(cases.Where(c => c.Api is not null), c => Assert.InRange(c.Api!.Status, 400, 499));
    }

    [Fact]
    public void Run_FiveThousandWrongItems_ListsTheFirstThousandThenTheirCount()
    {
        var c = BadInputCorpus.Case("protocol-many-problems.json");
        var path = BadInputCorpus.Materialize(c, Dir);

        var (exit, _, error) = Run("map", path);

        Assert.Equal(2, exit);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1001, lines.Length);
        Assert.Equal(1000, lines.Count(l => l.Contains(" error WrongType: $.phq9[", StringComparison.Ordinal)));
        Assert.Contains(": error WrongType: $.phq9[999]: expected an object, found number", lines[999], StringComparison.Ordinal);
        Assert.Equal($"{path}: error OutOfRange: $: 4000 more problems are not listed (only the first 1000 are) (fix: correct those and read the document again)", lines[1000]);
    }

    [Fact]
    public void Generators_MakeTheBigInputsAtTestTime()
    {
        Assert.InRange(BadInputCorpus.Bytes(BadInputCorpus.Case("protocol-huge-string.json")).Length, 10 * 1024 * 1024, 10 * 1024 * 1024 + 200);
        Assert.True(BadInputCorpus.Bytes(BadInputCorpus.Case("protocol-over-16-mib.json")).Length > 16 * 1024 * 1024);
        Assert.Equal(10_000, BadInputCorpus.Bytes(BadInputCorpus.Case("protocol-deep-nesting.json")).Count(b => b == (byte)'['));
        Assert.Contains(new string('[', 10_000) + new string(']', 10_000), System.Text.Encoding.UTF8.GetString(BadInputCorpus.Bytes(BadInputCorpus.Case("fhir-deep-nesting-json.json"))), StringComparison.Ordinal);
        Assert.Equal(10_000, Regex.Count(System.Text.Encoding.UTF8.GetString(BadInputCorpus.Bytes(BadInputCorpus.Case("fhir-deep-nesting-xml.xml"))), "<extension "));
    }

    private static string Head(string text) => text.Length <= 4000 ? text : text[..4000] + "…";

    /// <summary>A .NET stack frame line: "   at Namespace.Type.Method(…)".</summary>
    [GeneratedRegex(@"^\s+at [\w.`<>\[\],+]+\(")]
    private static partial Regex StackFrame();
}
