using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Tests.Protocol;

public class ProtocolReaderTests
{
    private const string Valid = """
        {
          "id": "t-1",
          "patient": { "identifier": { "system": "https://hospital.example.org/fhir/sid/mrn", "value": "SYN-9" } },
          "phases": [
            { "number": 1, "status": "active", "planned": { "start": "2026-01-05" }, "actual": { "start": "2026-01-05" },
              "interventions": [
                { "id": "sertraline", "kind": "medication", "drug": "sertraline", "role": "continue", "doseMg": 150, "schedule": { "times": 1, "unit": "day" } },
                { "id": "tms", "kind": "tms", "acute": { "times": 1, "unit": "day", "minutes": 20, "weeks": { "min": 4, "max": 6 } } }
              ] }
          ],
          "phq9": [ { "date": "2026-01-05", "items": [2, 2, 2, 2, 2, 2, 2, 1, 0], "total": 15 } ]
        }
        """;

    private static IReadOnlyList<Problem> Errors(string json) => ProtocolReader.Read(json).Problems.Where(p => p.IsError).ToArray();

    private static string With(string from, string to)
    {
        Assert.Contains(from, Valid, StringComparison.Ordinal);
        return Valid.Replace(from, to, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ValidDocument_ReturnsModelWithDefaults()
    {
        var result = ProtocolReader.Read(Valid);

        Assert.True(result.Success, string.Join("\n", result.Problems));
        var protocol = result.Protocol!;
        Assert.Equal("t-1", protocol.Id);
        Assert.Equal("SYN-9", protocol.Patient.Value);
        var medication = Assert.IsType<MedicationIntervention>(protocol.Phases[0].Interventions[0]);
        Assert.Equal(InterventionStatus.Active, medication.Status); // defaults to the phase's status
        Assert.Equal(1, medication.Schedule.Every);
        var tms = Assert.IsType<TmsIntervention>(protocol.Phases[0].Interventions[1]);
        Assert.Equal(new IntRange(4, 6), tms.Acute.Weeks);
        Assert.Equal(15, protocol.Phq9[0].Total);
    }

    [Fact]
    public void Read_ItemScoreFour_ReportsOutOfRangeAtItemPath()
    {
        var problem = Assert.Single(Errors(With("[2, 2, 2, 2, 2, 2, 2, 1, 0], \"total\": 15", "[2, 2, 4, 2, 2, 2, 2, 1, 0]")));

        Assert.Equal(ProblemCode.OutOfRange, problem.Code);
        Assert.Equal("$.phq9[0].items[2]", problem.Path);
        Assert.Contains("4 is outside 0–3", problem.Message, StringComparison.Ordinal);
        Assert.Equal(11, problem.Line);
    }

    [Fact]
    public void Read_StatedTotalNotSum_ReportsTotalMismatchWithTheSum()
    {
        var problem = Assert.Single(Errors(With("\"total\": 15", "\"total\": 14")));

        Assert.Equal(ProblemCode.TotalMismatch, problem.Code);
        Assert.Equal("$.phq9[0].total", problem.Path);
        Assert.Contains("set total to 15", problem.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_UnknownDrug_ListsKnownDrugs()
    {
        var problem = Assert.Single(Errors(With("\"drug\": \"sertraline\"", "\"drug\": \"sertralin\"")));

        Assert.Equal(ProblemCode.UnknownCode, problem.Code);
        Assert.Equal("$.phases[0].interventions[0].drug", problem.Path);
        Assert.Contains("sertraline", problem.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TypoInPropertyName_SuggestsTheRightName()
    {
        var problems = Errors(With("\"doseMg\": 150", "\"doseMG\": 150"));

        Assert.Contains(problems, p => p.Code == ProblemCode.UnknownProperty && p.Path == "$.phases[0].interventions[0].doseMG" && p.Hint == "did you mean 'doseMg'?");
        Assert.Contains(problems, p => p.Code == ProblemCode.MissingProperty && p.Path == "$.phases[0].interventions[0].doseMg");
    }

    [Fact]
    public void Read_TmsDailyWeeksAboveTwelve_ReportsOutOfRange()
    {
        var problem = Assert.Single(Errors(With("\"weeks\": { \"min\": 4, \"max\": 6 }", "\"weeks\": { \"min\": 4, \"max\": 14 }")));

        Assert.Equal(ProblemCode.OutOfRange, problem.Code);
        Assert.Equal("$.phases[0].interventions[1].acute.weeks", problem.Path);
    }

    [Fact]
    public void Read_PhaseEndBeforeStart_ReportsDateOrder()
    {
        var problem = Assert.Single(Errors(With("\"planned\": { \"start\": \"2026-01-05\" }", "\"planned\": { \"start\": \"2026-01-05\", \"end\": \"2025-12-01\" }")));

        Assert.Equal(ProblemCode.DateOrder, problem.Code);
        Assert.Equal("$.phases[0].planned.end", problem.Path);
    }

    [Fact]
    public void Read_MissingPatientIdentifier_ReportsMissingProperty()
    {
        var problem = Assert.Single(Errors(With("\"patient\": { \"identifier\": { \"system\": \"https://hospital.example.org/fhir/sid/mrn\", \"value\": \"SYN-9\" } }", "\"patient\": { }")));

        Assert.Equal(ProblemCode.MissingProperty, problem.Code);
        Assert.Equal("$.patient.identifier", problem.Path);
    }

    [Fact]
    public void Read_SeveralFaults_ReportsEveryOne()
    {
        var json = With("\"drug\": \"sertraline\"", "\"drug\": \"prozac\"")
            .Replace("[2, 2, 2, 2, 2, 2, 2, 1, 0]", "[2, 2, 2, 2, 2, 2, 2, 1, 9]", StringComparison.Ordinal)
            .Replace("\"id\": \"t-1\"", "\"id\": \"t 1\"", StringComparison.Ordinal);

        var paths = Errors(json).Select(p => p.Path).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(["$.id", "$.phases[0].interventions[0].drug", "$.phq9[0].items[8]"], paths);
    }

    [Fact]
    public void Read_TruncatedJson_ReportsSyntaxErrorWithLine()
    {
        var problem = Assert.Single(Errors(Valid[..200]));

        Assert.Equal(ProblemCode.InvalidJson, problem.Code);
        Assert.NotNull(problem.Line);
    }

    [Fact]
    public void Read_DeepNesting_ReportsInvalidJsonInsteadOfThrowing()
    {
        var json = new string('[', 10_000) + new string(']', 10_000);

        var problem = Assert.Single(Errors(json));

        Assert.Equal(ProblemCode.InvalidJson, problem.Code);
    }

    [Fact]
    public void Read_ItemNinePositive_WarnsSafetySignalButSucceeds()
    {
        var result = ProtocolReader.Read(With("[2, 2, 2, 2, 2, 2, 2, 1, 0], \"total\": 15", "[2, 2, 2, 2, 2, 2, 2, 1, 1]"));

        Assert.True(result.Success);
        var warning = Assert.Single(result.Problems);
        Assert.Equal(ProblemCode.SafetySignal, warning.Code);
        Assert.Equal("$.phq9[0].items[8]", warning.Path);
    }

    [Fact]
    public void Read_AugmentRoleOnAnSsri_ReportsInconsistentRole()
    {
        var problem = Assert.Single(Errors(With("\"role\": \"continue\"", "\"role\": \"augment\"")));

        Assert.Equal("$.phases[0].interventions[0].role", problem.Path);
        Assert.Contains("lithium", problem.Hint, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Read_Example_HasNoErrors(string example)
    {
        var result = ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", example + ".json")));

        Assert.True(result.Success, string.Join("\n", result.Problems));
    }

    [Fact]
    public void Read_Phq9WithOnlyNullScores_ReportsMissingScores()
    {
        var problem = Assert.Single(Errors(With("\"items\": [2, 2, 2, 2, 2, 2, 2, 1, 0], \"total\": 15", "\"items\": null, \"total\": null")));

        Assert.Equal(ProblemCode.MissingProperty, problem.Code);
        Assert.Equal("$.phq9[0]", problem.Path);
    }

    [Fact]
    public void Read_IdWithTrailingNewline_IsRejected()
    {
        var problem = Assert.Single(Errors(With("\"id\": \"t-1\"", "\"id\": \"t-1\\n\"")));

        Assert.Equal("$.id", problem.Path);
    }

    [Fact]
    public void Read_RelativeIdentifierSystem_IsRejected()
    {
        var problem = Assert.Single(Errors(With("https://hospital.example.org/fhir/sid/mrn", "/mrn")));

        Assert.Equal("$.patient.identifier.system", problem.Path);
    }

    [Fact]
    public void Read_InterventionIdClashingWithADerivedOrder_ReportsDuplicate()
    {
        var json = With("{ \"id\": \"sertraline\"", "{ \"id\": \"tms-acute\"").Replace("\"drug\": \"sertraline\"", "\"drug\": \"sertraline\"", StringComparison.Ordinal);

        var problem = Assert.Single(Errors(json));

        Assert.Equal(ProblemCode.Duplicate, problem.Code);
        Assert.Contains("'tms-acute'", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_SupervisedSsri_ReportsInconsistent()
    {
        var problem = Assert.Single(Errors(With("\"doseMg\": 150,", "\"doseMg\": 150, \"supervised\": true,")));

        Assert.Equal("$.phases[0].interventions[0].supervised", problem.Path);
    }

    [Fact]
    public void Read_InvalidJson_MessageHasNoZeroBasedLineNumber()
    {
        var problem = Assert.Single(Errors("{\n  \"id\": \"x\",\n  oops\n}"));

        Assert.Equal(3, problem.Line);
        Assert.DoesNotContain("LineNumber", problem.Message, StringComparison.Ordinal);
    }
}
