using System.Text.Json.Nodes;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary>
/// Issue 12 item 1 and 5: shapes that used to crash the run (or the validator) or were accepted silently, in one batch
/// with good files: every file gets its own outcome, the run goes on, the exit code is the worst. The malformed inputs
/// are written by hand on purpose: no serializer produces them.
/// </summary>
public sealed class ValidateRobustnessTests() : CliTest("trd-robust-")
{
    private string Write(string name, string text)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string Good(string name) =>
        Write(name, File.ReadAllText(Repo.Path("profiles", "examples", "trd-observation-phq9-total.valid.json")));

    private (string Primitive, string ArrayForObject, string ObjectForArray, string BundleEntry, string Comments, string Syntax) Batch() => (
        Write("a-xml-primitive-as-element.xml", "<Patient xmlns=\"http://hl7.org/fhir\">\n  <active><value>true</value></active>\n</Patient>\n"),
        Write("b-array-for-object.json", "{\"resourceType\":\"Observation\",\"status\":\"final\",\n \"code\":[{\"text\":\"x\"}]}"),
        Write("c-object-for-array.json", "{\"resourceType\":\"Patient\",\n \"identifier\":{\"value\":\"1\"}}"),
        Write("d-bundle-entry-object-for-array.json",
            "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[\n {\"fullUrl\":\"http://example.org/fhir/Patient/a\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"a\",\"name\":{\"family\":\"Doe\"}}}]}"),
        Write("e-comments.json", "{\"resourceType\":\"Patient\",\n  // a comment\n  \"active\":true}"),
        Write("f-syntax.json", "{\"resourceType\":\"Patient\",\n  \"active\": tru\n}"));

    [Fact]
    public void Validate_CrashingShapesWithGoodFiles_EveryFileReportedAndTheRunGoesOn()
    {
        var good1 = Good("0-good.json");
        var bad = Batch();
        var good2 = Good("z-good.json");

        var (exit, output, error) = Run("validate", "--format", "json", "-j", "2", Dir);

        Assert.Equal(ExitCodes.UsageOrInput, exit); // the worst: one file is not JSON at all
        var outcomes = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        var files = outcomes.Select(o => (string?)o["extension"]![0]!["extension"]![0]!["valueString"]).ToList();
        Assert.Equal([good1, bad.Primitive, bad.ArrayForObject, bad.ObjectForArray, bad.BundleEntry, bad.Comments, bad.Syntax, good2], files);
        string Issues(int k) => outcomes[k]["issue"]!.ToJsonString();
        Assert.Contains("No issues", Issues(0), StringComparison.Ordinal);
        Assert.Contains("\"severity\":\"fatal\"", Issues(1), StringComparison.Ordinal);
        Assert.Contains("The FHIR parser could not read this resource (NotSupportedException", Issues(1), StringComparison.Ordinal);
        Assert.Contains("does not repeat, so it must not be a JSON array", Issues(2), StringComparison.Ordinal);
        Assert.Contains("repeats, so it must be a JSON array, not an object", Issues(3), StringComparison.Ordinal);
        Assert.Contains("\"expression\":[\"Bundle.entry[0].resource.name\"]", Issues(4), StringComparison.Ordinal);
        Assert.Contains("JSON comments are not allowed in FHIR JSON", Issues(5), StringComparison.Ordinal);
        Assert.Contains($"{bad.Comments}:2:3", Issues(5), StringComparison.Ordinal);
        Assert.Contains($"\"location\":[\"{bad.Syntax}:2:16\"]", Issues(6), StringComparison.Ordinal);
        Assert.Contains("No issues", Issues(7), StringComparison.Ordinal);
        Assert.Contains($"{bad.Syntax}:2:16: not JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_CrashingShapesWithoutSyntaxErrors_Exit1AndTextNamesEachFile()
    {
        Good("0-good.json");
        var bad = Batch();
        File.Delete(bad.Syntax);

        var (exit, output, _) = Run("validate", "-j", "1", Dir);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.Contains($"{bad.Primitive}: fatal exception: The FHIR parser could not read this resource", output, StringComparison.Ordinal);
        Assert.Contains($"{bad.ArrayForObject}:2:2: error structure: Observation.code: 'code' does not repeat", output, StringComparison.Ordinal);
        Assert.Contains($"{bad.ObjectForArray}:2:2: error structure: Patient.identifier: 'identifier' repeats", output, StringComparison.Ordinal);
        Assert.Contains($"{bad.Comments}:2:3: error structure: JSON comments are not allowed", output, StringComparison.Ordinal);
        Assert.EndsWith("validated 6 file(s), 6 resource(s): 5 invalid, 5 error(s), 0 warning(s)\n", output, StringComparison.Ordinal);
    }
}
