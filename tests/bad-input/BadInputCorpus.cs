using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;

namespace Trd.Fhir.BadInput;

/// <summary>What the CLI must answer: exit code, and one output line naming the file (at <see cref="At"/> = line:column when
/// given), the JSON path / FHIRPath expression (<see cref="Path"/>, when the answer has one) and the message fragment.</summary>
public sealed record CliExpectation(string Verb, int Exit, string? Code, string? Path, string Message, string? At);

/// <summary>What the API must answer: the status, and an OperationOutcome issue with that expression and message fragment.</summary>
public sealed record ApiExpectation(string Endpoint, int Status, string? Expression, string Message);

/// <summary>One hostile input of tests/bad-input/manifest.json: a committed file, or — for the big ones — a generator name.</summary>
public sealed record BadInputCase(string File, string Attacks, string? Generator, CliExpectation? Cli, ApiExpectation? Api)
{
    public bool IsXml => File.EndsWith(".xml", StringComparison.Ordinal);

    public override string ToString() => File;
}

/// <summary>
/// The bad-input corpus (tests/bad-input): loads the manifest and gives each case's bytes. Shared, as a linked source file,
/// by the CLI corpus tests (Trd.Fhir.Adapter.Tests) and the API corpus tests (Trd.Fhir.Api.Tests).
/// </summary>
public static class BadInputCorpus
{
    public static string Directory { get; } = Find();

    public static string ManifestPath => System.IO.Path.Combine(Directory, "manifest.json");

    private static readonly Lazy<IReadOnlyList<BadInputCase>> Loaded = new(Load);

    public static IReadOnlyList<BadInputCase> Cases => Loaded.Value;

    public static BadInputCase Case(string file) => Cases.Single(c => c.File == file);

    /// <summary>The generators the manifest may name (the big inputs are made at test time, not committed).</summary>
    public static readonly IReadOnlyDictionary<string, Func<byte[]>> Generators = new Dictionary<string, Func<byte[]>>(StringComparer.Ordinal)
    {
        ["protocol-deep-nesting"] = () => Utf8($"{{\"id\": \"bad-input-1\", \"phases\": {new string('[', 10_000)}{new string(']', 10_000)}}}"),
        ["protocol-huge-string"] = () => Protocol($"\"careTeam\": [{{\"role\": \"psychiatry\", \"name\": \"{new string('x', 10 * 1024 * 1024)}\"}}]"),
        ["protocol-huge-array"] = () => Protocol($"\"phq9\": [{string.Join(',', Enumerable.Repeat("0", 1_000_000))}]"),
        ["protocol-many-problems"] = () => Protocol($"\"phq9\": [{string.Join(',', Enumerable.Repeat("0", 5_000))}]"),
        ["protocol-over-16-mib"] = () => Protocol($"\"careTeam\": [{{\"role\": \"psychiatry\", \"name\": \"{new string('x', 17 * 1024 * 1024)}\"}}]"),
        ["protocol-huge-property-name"] = () => Protocol($"\"{new string('p', 1024 * 1024)}\": 1"),
        ["fhir-deep-nesting-json"] = () => FhirSplice($"\"extension\": {new string('[', 10_000)}{new string(']', 10_000)}"),
        ["fhir-deep-nesting-first"] = () => Utf8($"{{\"extension\": {new string('[', 10_000)}{new string(']', 10_000)}, \"resourceType\": \"Observation\"}}"),
        ["fhir-deep-nesting-xml"] = () => Utf8("<Observation xmlns=\"http://hl7.org/fhir\"><status value=\"final\"/>"
            + string.Concat(Enumerable.Repeat("<extension url=\"http://example.org/x\">", 10_000))
            + string.Concat(Enumerable.Repeat("</extension>", 10_000)) + "</Observation>"),
        ["fhir-huge-array-json"] = () => FhirSplice($"\"identifier\": [{string.Join(',', Enumerable.Repeat("{}", 200_000))}]"),
        ["fhir-huge-array-xml"] = () => Utf8("<Observation xmlns=\"http://hl7.org/fhir\"><status value=\"final\"/>"
            + string.Concat(Enumerable.Repeat("<identifier/>", 20_000)) + "</Observation>"),
        ["fhir-huge-string"] = () => Utf8(FhirJson.Serialize(new Observation
        {
            Id = "bad-obs",
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "44261-6"),
            Value = new FhirString(new string('x', 10 * 1024 * 1024)),
        })),
    };

    /// <summary>The bytes of a case: its file, or what its generator makes.</summary>
    public static byte[] Bytes(BadInputCase c) =>
        c.Generator is { } g ? Generators[g]() : System.IO.File.ReadAllBytes(System.IO.Path.Combine(Directory, c.File));

    /// <summary>A path to the case's content: its committed file, or the generated content written into <paramref name="scratch"/>.</summary>
    public static string Materialize(BadInputCase c, string scratch)
    {
        if (c.Generator is null)
            return System.IO.Path.Combine(Directory, c.File);
        var path = System.IO.Path.Combine(scratch, c.File);
        System.IO.File.WriteAllBytes(path, Bytes(c));
        return path;
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] Protocol(string more) => Utf8(
        "{\"id\": \"bad-input-1\", \"patient\": {\"identifier\": {\"system\": \"https://hospital.example.org/fhir/sid/mrn\", \"value\": \"SYN-9001\"}}, " + more + "}");

    /// <summary>A small Observation (serialized by the Firely SDK) with a hostile property spliced in at the top level.</summary>
    private static byte[] FhirSplice(string property)
    {
        var json = FhirJson.Serialize(new Observation { Id = "bad-obs", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "44261-6") }, pretty: false);
        return Utf8(json[..^1] + ", " + property + "}");
    }

    private static List<BadInputCase> Load()
    {
        using var manifest = JsonDocument.Parse(System.IO.File.ReadAllBytes(ManifestPath));
        return manifest.RootElement.GetProperty("cases").EnumerateArray().Select(e => new BadInputCase(
            e.GetProperty("file").GetString()!,
            e.GetProperty("attacks").GetString()!,
            Optional(e, "generator"),
            e.TryGetProperty("cli", out var cli) ? new CliExpectation(
                cli.GetProperty("verb").GetString()!, cli.GetProperty("exit").GetInt32(), Optional(cli, "code"), Optional(cli, "path"),
                cli.GetProperty("message").GetString()!, Optional(cli, "at")) : null,
            e.TryGetProperty("api", out var api) ? new ApiExpectation(
                api.GetProperty("endpoint").GetString()!, api.GetProperty("status").GetInt32(), Optional(api, "expression"),
                api.GetProperty("message").GetString()!) : null)).ToList();
    }

    private static string? Optional(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "Trd.Fhir.sln")))
                return System.IO.Path.Combine(dir.FullName, "tests", "bad-input");
        }
        throw new InvalidOperationException("Trd.Fhir.sln not found above " + AppContext.BaseDirectory);
    }
}
