using System.Text.Json.Nodes;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary>
/// Issue 12 item 4: codings of large external code systems (SNOMED CT, LOINC, …) that were not checked because no
/// terminology server was given are one summary line per run — never an issue on the resource that holds them.
/// </summary>
public sealed class ValidateNotCheckedOfflineTests() : CliTest("trd-validate-offline-")
{
    private const string Note = "codes not checked offline: 4 coding(s) in 3 system(s) (http://loinc.org 2, http://hl7.org/fhir/sid/icd-10-cm 1, http://snomed.info/sct 1) — use --tx URL to check them";

    /// <summary>Two PHQ-9 totals (one LOINC coding each) and a Condition (SNOMED CT and ICD-10-CM): all valid.</summary>
    private string[] Inputs()
    {
        string Copy(string example, string name)
        {
            var path = Path.Combine(Dir, name);
            File.Copy(Repo.Path("profiles", "examples", example), path);
            return path;
        }

        return [Copy("trd-observation-phq9-total.valid.json", "a.json"), Copy("trd-observation-phq9-total.valid.json", "b.json"), Copy("trd-condition.valid.json", "c.json")];
    }

    [Fact]
    public void Text_OneSummaryLineBeforeTheVerdict_NoFindingOnTheResources()
    {
        var (exit, output, error) = Run(["validate", "-j", "1", .. Inputs()]);

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal($"{Note}\nvalidated 3 file(s), 3 resource(s): all valid, 0 error(s), 0 warning(s)\n", output);
        Assert.Equal("", error);
    }

    [Fact]
    public void Json_EachOutcomeCarriesItsCountsAsAnExtension_AndNoIssue()
    {
        var (exit, output, _) = Run(["validate", "-j", "1", "--format", "json", .. Inputs()]);

        Assert.Equal(ExitCodes.Success, exit);
        var outcomes = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(3, outcomes.Count);
        var phq9 = outcomes[0];
        var counts = phq9["extension"]!.AsArray().Single(e => (string)e!["url"]! == "https://trd-fhir.example.org/fhir/StructureDefinition/codes-not-checked-offline")!;
        Assert.Equal("http://loinc.org", (string)counts["extension"]![0]!["valueUri"]!);
        Assert.Equal(1, (int)counts["extension"]![1]!["valueInteger"]!);
        Assert.Equal("No issues: the resource conforms.", (string)phq9["issue"]!.AsArray().Single()!["details"]!["text"]!);
        var condition = outcomes[2]["extension"]!.AsArray().Where(e => (string)e!["url"]! == "https://trd-fhir.example.org/fhir/StructureDefinition/codes-not-checked-offline")
            .Select(e => (string)e!["extension"]![0]!["valueUri"]!).ToList();
        Assert.Equal(["http://hl7.org/fhir/sid/icd-10-cm", "http://snomed.info/sct"], condition);
    }

    [Fact]
    public void Sarif_TheSummaryIsANoteOfTheInvocation_WithTheCountsPerSystem()
    {
        var (exit, output, _) = Run(["validate", "-j", "1", "--format", "sarif", .. Inputs()]);

        Assert.Equal(ExitCodes.Success, exit);
        var invocation = JsonNode.Parse(output)!["runs"]![0]!["invocations"]![0]!;
        var note = invocation["toolExecutionNotifications"]!.AsArray().Single()!;
        Assert.Equal("codes-not-checked-offline", (string)note["descriptor"]!["id"]!);
        Assert.Equal("note", (string)note["level"]!);
        Assert.Equal(Note, (string)note["message"]!["text"]!);
        Assert.Equal(2, (int)note["properties"]!["codingsNotCheckedOffline"]!["http://loinc.org"]!);
        Assert.Empty(JsonNode.Parse(output)!["runs"]![0]!["results"]!.AsArray());
    }

    [Fact]
    public void Text_NoExternalCodings_NoSummaryLine()
    {
        var careTeam = Path.Combine(Dir, "careteam.json");
        File.Copy(Repo.Path("profiles", "examples", "trd-careteam.valid.json"), careTeam);

        var (exit, output, _) = Run("validate", careTeam);

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal("validated 1 file(s), 1 resource(s): all valid, 0 error(s), 0 warning(s)\n", output);
    }

    [Fact]
    public void Text_WithATerminologyServer_TheCodesAreItsToCheck_NoSummaryLine()
    {
        // a port nothing listens on: the server is asked (and reported unreachable), the codes are not "not checked offline"
        var (_, output, _) = Run(["validate", "-j", "1", "--tx", "http://127.0.0.1:9/fhir", .. Inputs()]);

        Assert.DoesNotContain("codes not checked offline", output, StringComparison.Ordinal);
        Assert.Contains("validated 3 file(s), 3 resource(s)", output, StringComparison.Ordinal);
    }
}
