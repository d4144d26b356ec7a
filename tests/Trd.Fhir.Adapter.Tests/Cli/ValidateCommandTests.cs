using System.Text.Json.Nodes;
using System.Xml.Linq;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

public sealed class ValidateCommandTests() : CliTest("trd-validate-")
{
    private static string Example(string name) => Repo.Path("profiles", "examples", name);

    private static JsonNode ExampleJson(string name) => JsonNode.Parse(File.ReadAllText(Example(name)))!;

    private string Write(string name, string text)
    {
        var path = Path.Combine(Dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>valid, blank, not JSON, invalid (total 30), whitespace, no resourceType, valid Condition.</summary>
    private string MixedNdjson()
    {
        var total = ExampleJson("trd-observation-phq9-total.valid.json");
        var tooHigh = total.DeepClone();
        tooHigh["valueQuantity"]!["value"] = 30;
        var condition = ExampleJson("trd-condition.valid.json");
        return Write("mixed.ndjson", string.Join("\n",
            total.ToJsonString(), "", "{\"resourceType\": \"Observation\", bad", tooHigh.ToJsonString(), "   ", "{\"hello\": 1}", condition.ToJsonString()) + "\n");
    }

    [Fact]
    public void Validate_ValidExample_Exit0()
    {
        var (exit, output, error) = Run("validate", Example("trd-observation-phq9-total.valid.json"));

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal("codes not checked offline: 1 coding(s) in 1 system(s) (http://loinc.org 1) — use --tx URL to check them\n" +
            "validated 1 file(s), 1 resource(s): all valid, 0 error(s), 0 warning(s)\n", output);
        Assert.Equal("", error);
    }

    [Fact]
    public void Validate_FullEngine_SameReportAsTheFastPath()
    {
        // every profile example (valid and invalid) and a mixed NDJSON file, given twice so the second copy meets a warm memo
        var examples = Repo.Path("profiles", "examples");
        var ndjson = MixedNdjson();
        var copy = Path.Combine(Dir, "again");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(examples, "*.valid*.json")) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));

        var fast = Run("validate", "--format", "json", "-j", "1", examples, copy, ndjson);
        var full = Run("validate", "--full-engine", "--format", "json", "-j", "1", examples, copy, ndjson);

        Assert.Equal(ExitCodes.ValidationFailed, fast.Item1);
        Assert.Contains("\"severity\":\"error\"", fast.Item2, StringComparison.Ordinal);
        Assert.Equal(full, fast);
    }

    [Fact]
    public void Validate_InvalidExample_Exit1WithFileLineColumnExpressionAndMessage()
    {
        var file = Example("trd-careplan-phase.invalid-minimum-duration-not-ucum.json");

        var (exit, output, _) = Run("validate", file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.Contains($"{file}:23:7: error invalid: CarePlan.extension[1].value: Value '{{\"value\":6,\"unit\":\"months\"}}' does not match pattern '{{\"system\":\"http://unitsofmeasure.org\"}}'\n", output, StringComparison.Ordinal);
        Assert.EndsWith("validated 1 file(s), 1 resource(s): 1 invalid, 2 error(s), 0 warning(s)\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NdjsonGoodAndBadLines_ReportsTheBadLineNumbers()
    {
        var file = MixedNdjson();

        var (exit, output, _) = Run("validate", file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
        [
            $"{file}:3:33: error structure: Invalid JSON: 'b' is an invalid start of a property name. Expected a '\"'.",
            $"{file}:4:1: error invariant: Observation: Instance failed constraint trd-phq9-total-1 \"The PHQ-9 total score is a whole number from 0 to 27\"",
        ], lines[..2]);
        Assert.Contains(lines, l => l.StartsWith($"{file}:4:1: error invariant: Observation: Instance failed constraint trd-phq9-total-2", StringComparison.Ordinal));
        Assert.Contains($"{file}:6: error structure: The content has no 'resourceType'.", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith($"{file}:1:", StringComparison.Ordinal) || l.StartsWith($"{file}:7:", StringComparison.Ordinal));
        Assert.Equal("validated 1 file(s), 5 resource(s): 3 invalid, 4 error(s), 0 warning(s)", lines[^1]);
    }

    [Fact]
    public void Validate_MissingFile_Exit2NamingItAndStillValidatesTheOthers()
    {
        var missing = Path.Combine(Dir, "nope.json");

        var (exit, output, error) = Run("validate", missing, Example("trd-condition.valid.json"));

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Equal($"{missing}: no such file or directory (fix: check the path)\n", error);
        Assert.Contains("validated 1 file(s), 1 resource(s): all valid, 0 error(s), 0 warning(s), 1 unreadable", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NotJson_Exit2WithPositionAndFix()
    {
        var file = Write("garbage.json", "{\n  \"resourceType\": \"Observation\",\n  oops\n}");

        var (exit, _, error) = Run("validate", file);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.StartsWith($"{file}:3:3: not JSON: Invalid JSON: 'o' is an invalid start of a property name.", error, StringComparison.Ordinal);
        Assert.Contains("(fix: give FHIR R4 JSON or XML; a file of one JSON resource per line must be named *.ndjson)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_JsonThatIsNotFhir_Exit2WithFix()
    {
        var file = Write("thing.json", "{\"resourceType\": \"Frobnicator\"}");

        var (exit, _, error) = Run("validate", file);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Equal($"{file}: not a FHIR R4 resource: Unknown resourceType 'Frobnicator'. (fix: give a FHIR R4 resource or Bundle with a valid 'resourceType')\n", error);
    }

    [Fact]
    public void Validate_Xml_ReportsIssues()
    {
        var file = Write("obs.xml", "<Observation xmlns=\"http://hl7.org/fhir\"><status value=\"final\"/></Observation>");

        var (exit, output, _) = Run("validate", file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.StartsWith($"{file}: error invalid: Observation: Missing required member: 'code'", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DirectoryRecursive_SkipsJsonWithoutResourceTypeAndKeepsInputOrder()
    {
        File.Copy(Example("trd-condition.valid.json"), Path.Combine(Dir, "a.json"));
        Write("package.json", "{\"name\": \"not-fhir\"}");
        Directory.CreateDirectory(Path.Combine(Dir, "sub"));
        File.Copy(Example("trd-condition.invalid-no-trd-code.json"), Path.Combine(Dir, "sub", "b.json"));
        File.Copy(Example("trd-goal.invalid-no-addresses.json"), Path.Combine(Dir, "sub", "c.json"));

        var (exit, output, error) = Run("validate", Dir);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.Equal("", error);
        var b = output.IndexOf(Path.Combine(Dir, "sub", "b.json"), StringComparison.Ordinal);
        var c = output.IndexOf(Path.Combine(Dir, "sub", "c.json"), StringComparison.Ordinal);
        Assert.True(b >= 0 && c > b, output);
        Assert.Contains("validated 3 file(s), 3 resource(s): 2 invalid", output, StringComparison.Ordinal);
    }

    /// <summary>Counts say what they count: a Bundle counts its entries, an NDJSON file its lines, files count once.</summary>
    [Fact]
    public void Validate_BundleAndNdjson_SummaryCountsFilesAndTheResourcesInThem()
    {
        var bundle = Path.Combine(Dir, "b.bundle.json");
        File.Copy(Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase1-augmentation.bundle.json"), bundle);
        var ndjson = MixedNdjson();

        var (exit, output, _) = Run("validate", bundle, ndjson);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(lines, l => l.StartsWith(bundle, StringComparison.Ordinal));
        Assert.Equal("validated 2 file(s), 69 resource(s): 3 invalid, 4 error(s), 0 warning(s)", lines[^1]);
    }

    [Fact]
    public void Validate_ParallelAndSerial_GiveTheSameOutput()
    {
        var serial = Run("validate", "-j", "1", Repo.Path("profiles", "examples"), MixedNdjson());
        var parallel = Run("validate", "-j", "4", Repo.Path("profiles", "examples"), MixedNdjson());

        Assert.Equal(ExitCodes.ValidationFailed, parallel.Exit);
        Assert.Equal(serial, parallel);
    }

    [Fact]
    public void Validate_BundleWithABadEntry_ReportsTheEntryExpression()
    {
        var bundle = JsonNode.Parse(File.ReadAllText(Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase2-remission.bundle.json")))!;
        var entries = bundle["entry"]!.AsArray();
        var index = entries.Select((e, i) => (e, i)).First(x => (string?)x.e!["resource"]!["resourceType"] == "Goal").i;
        entries[index]!["resource"]!["lifecycleStatus"] = "dreaming";
        var file = Write("bundle.json", bundle.ToJsonString());

        var (exit, output, _) = Run("validate", file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        var fullUrl = (string)entries[index]!["fullUrl"]!;
        Assert.Contains($": error code-invalid: Bundle.entry[{index}].resource/*Goal {fullUrl}*/.lifecycleStatus: Code 'dreaming'", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_BundleEntryFindings_NameTheResourceInEveryFormat()
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Collection };
        var patient = new Patient { Id = "p1", Gender = AdministrativeGender.Male };
        patient.GenderElement.JsonValue = "robot";
        bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = "http://example.org/fhir/Patient/p1", Resource = patient });
        var file = Write("named.json", new FhirJsonSerializer().SerializeToString(bundle));
        const string at = "Bundle.entry[0].resource/*Patient/p1*/.gender";

        var text = Run("validate", file);
        var json = Run("validate", "--format", "json", file);
        var junit = Run("validate", "--format", "junit", file);
        var sarif = Run("validate", "--format", "sarif", file);

        Assert.Contains($"error code-invalid: {at}: Code 'robot'", text.Out, StringComparison.Ordinal);
        Assert.Contains("\"url\":\"https://trd-fhir.example.org/fhir/StructureDefinition/validation-resource\",\"valueString\":\"Patient/p1\"", json.Out, StringComparison.Ordinal);
        Assert.Contains("\"expression\":[\"Bundle.entry[0].resource.gender\"]", json.Out, StringComparison.Ordinal);
        Assert.Contains($"name=\"entry[0] Patient/p1\"", junit.Out, StringComparison.Ordinal);
        Assert.Contains($"{at}: Code", junit.Out, StringComparison.Ordinal);
        Assert.Contains(at, sarif.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ContainedResourceFinding_NamesTheContainedResource()
    {
        var contained = new Patient { Id = "inner" };
        contained.GenderElement = new Code<AdministrativeGender>();
        contained.GenderElement.JsonValue = "robot";
        var obs = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept { Text = "x" }, Subject = new ResourceReference("#inner") };
        obs.Contained.Add(contained);
        var file = Write("contained.json", new FhirJsonSerializer().SerializeToString(obs));

        var (_, output, _) = Run("validate", file);

        Assert.Contains("Observation.contained[0]/*Patient/inner*/.gender: Code 'robot'", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ProfileByKind_AppliesOurProfileToAResourceWithoutMetaProfile()
    {
        var condition = ExampleJson("trd-condition.invalid-no-trd-code.json");
        condition.AsObject().Remove("meta");
        var file = Write("condition.json", condition.ToJsonString());

        Assert.Equal(ExitCodes.Success, Run("validate", file).Exit);
        var (exit, output, _) = Run("validate", "--profile-by-kind", file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.Contains(": error ", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExplicitProfile_ValidatesAgainstIt()
    {
        var total = ExampleJson("trd-observation-phq9-total.valid.json");
        total.AsObject().Remove("meta");
        total["valueQuantity"]!["value"] = 30;
        var file = Write("total.json", total.ToJsonString());

        Assert.Equal(ExitCodes.Success, Run("validate", file).Exit);
        var (exit, output, _) = Run("validate", "--profile", "https://trd-fhir.example.org/fhir/StructureDefinition/trd-observation-phq9-total", file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.Contains("Instance failed constraint trd-phq9-total-1", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownProfile_Exit2()
    {
        var (exit, _, error) = Run("validate", "--profile", "https://example.org/nope", Example("trd-condition.valid.json"));

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("--profile https://example.org/nope: unknown profile", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownFormat_Exit2()
    {
        var (exit, _, error) = Run("validate", "--format", "yaml", Example("trd-condition.valid.json"));

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("yaml", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_IgWithAStricterProfile_FailsWhatOursAccept()
    {
        var strict = Directory.CreateDirectory(Path.Combine(Dir, "ig")).FullName;
        var sd = JsonNode.Parse(File.ReadAllText(Repo.Path("profiles", "StructureDefinition-trd-condition.json")))!;
        sd["differential"]!["element"]!.AsArray().Add(new JsonObject { ["id"] = "Condition.note", ["path"] = "Condition.note", ["min"] = 1 });
        File.WriteAllText(Path.Combine(strict, "StructureDefinition-trd-condition.json"), sd.ToJsonString());
        var file = Example("trd-condition.valid.json");

        var (exit, output, _) = Run("validate", "--ig", strict, file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.Contains($"{file}:1:1: error invalid: Condition: Missing required member: 'note'", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_IgThatDoesNotExist_Exit2()
    {
        var (exit, _, error) = Run("validate", "--ig", Path.Combine(Dir, "none.tgz"), Example("trd-condition.valid.json"));

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("none.tgz: no such file or directory", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FormatJson_OneOperationOutcomePerNdjsonLineNamingTheLine()
    {
        var file = MixedNdjson();

        var (exit, output, _) = Run("validate", "--format", "json", file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        var outcomes = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => new FhirJsonDeserializer().Deserialize<OperationOutcome>(l)).ToList();
        Assert.Equal([1, 3, 4, 6, 7], outcomes.Select(o => ((Integer)o.Extension.Single(e => e.Url == ValidationOutputJson.InputExtension).Extension.Single(e => e.Url == "line").Value).Value!.Value));
        Assert.All(outcomes, o => Assert.Equal(file, ((FhirString)o.Extension.Single(e => e.Url == ValidationOutputJson.InputExtension).Extension.Single(e => e.Url == "file").Value).Value));
        Assert.Equal(OperationOutcome.IssueSeverity.Information, outcomes[0].Issue.Single().Severity);
        Assert.Equal($"{file}:4:1", outcomes[2].Issue[0].Location.Single());
        Assert.False(outcomes[2].Success);
    }

    [Fact]
    public void Validate_FormatJunit_OneTestcasePerResourceAndBundleEntry()
    {
        var bundle = Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase1-augmentation.bundle.json");
        var entries = JsonNode.Parse(File.ReadAllText(bundle))!["entry"]!.AsArray().Count;

        var (exit, output, _) = Run("validate", "--format", "junit", MixedNdjson(), bundle);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        var xml = XDocument.Parse(output);
        var suites = xml.Root!.Elements("testsuite").ToList();
        Assert.Equal(2, suites.Count);
        Assert.Equal("5", suites[0].Attribute("tests")!.Value);
        Assert.Equal("3", suites[0].Attribute("failures")!.Value);
        Assert.Equal(["line 1: Observation/phq9-total-example", "line 3", "line 4: Observation/phq9-total-example", "line 6", "line 7: Condition/condition-example"],
            suites[0].Elements("testcase").Select(t => t.Attribute("name")!.Value));
        Assert.Equal(entries + 1, suites[1].Elements("testcase").Count());
        Assert.Equal("0", suites[1].Attribute("failures")!.Value);
        Assert.Equal((entries + 6).ToString(System.Globalization.CultureInfo.InvariantCulture), xml.Root.Attribute("tests")!.Value);
    }

    [Fact]
    public void Validate_FormatJunit_ControlCharactersEchoedFromTheInputStayWellFormedXml()
    {
        var total = ExampleJson("trd-observation-phq9-total.valid.json");
        total["status"] = "fin\u0001al";
        var file = Write("control.ndjson", total.ToJsonString() + "\n");

        var (exit, output, _) = Run("validate", "--format", "junit", file);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        var failure = XDocument.Parse(output).Root!.Element("testsuite")!.Element("testcase")!.Element("failure")!;
        Assert.Contains("fin\uFFFDal", failure.Value, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FormatSarif_ResultsWithRuleIdAndPhysicalLocation()
    {
        var file = MixedNdjson();

        var (exit, output, _) = Run("validate", "--format", "sarif", file, Path.Combine(Dir, "missing.json"));

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        var sarif = JsonNode.Parse(output)!;
        Assert.Equal("2.1.0", (string?)sarif["version"]);
        var run = sarif["runs"]![0]!;
        Assert.Equal("trd-fhir", (string?)run["tool"]!["driver"]!["name"]);
        var results = run["results"]!.AsArray();
        Assert.Equal(["structure", "invariant", "invariant", "structure", "unreadable"], results.Select(r => (string?)r!["ruleId"]));
        var location = results[1]!["locations"]![0]!["physicalLocation"]!;
        Assert.Equal(4, (int)location["region"]!["startLine"]!);
        Assert.EndsWith("mixed.ndjson", (string?)location["artifactLocation"]!["uri"], StringComparison.Ordinal);
        Assert.Equal("Observation", (string?)results[1]!["locations"]![0]!["logicalLocations"]![0]!["fullyQualifiedName"]);
        Assert.Equal(["invariant", "structure", "unreadable"], run["tool"]!["driver"]!["rules"]!.AsArray().Select(r => (string?)r!["id"]));
    }
}
