using System.Text.Json;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Report;
using Trd.Fhir.Adapter.Tests.Clinical;
using Trd.Fhir.Adapter.Tests.Mapping;
using static Trd.Fhir.Adapter.Tests.Clinical.ClinicalTestData;

namespace Trd.Fhir.Adapter.Tests.Report;

public class ClinicalReportTests
{
    [Fact]
    public void ToJson_TmsExample_SameNumbersAsTheReadout()
    {
        var protocol = ProtocolToFhirTests.Example("phase2-tms-partial-response");
        var readout = ClinicalReadout.Read(protocol, Clock("2026-11-27"));

        using var json = JsonDocument.Parse(new ClinicalReport(protocol, readout, 42, []).ToJson());

        var root = json.RootElement;
        Assert.Equal("2026-11-27", root.GetProperty("asOf").GetString());
        Assert.Equal(6, root.GetProperty("phq9").GetArrayLength());
        Assert.Equal(42.9m, root.GetProperty("outcome").GetProperty("improvementPercent").GetDecimal());
        Assert.Equal(10.5m, root.GetProperty("outcome").GetProperty("responseThreshold").GetDecimal());
        Assert.False(root.GetProperty("outcome").GetProperty("response").GetBoolean());
        Assert.Equal(4, root.GetProperty("safetySignals").GetArrayLength());
        var acute = root.GetProperty("adherence").EnumerateArray().Single(c => c.GetProperty("kind").GetString() == "tms-acute");
        Assert.Equal((15, 20, 5, "behind"), (acute.GetProperty("delivered").GetInt32(), acute.GetProperty("expectedToDate").GetProperty("min").GetInt32(), acute.GetProperty("shortfall").GetInt32(), acute.GetProperty("state").GetString()));
        var staging = root.GetProperty("staging");
        Assert.Equal(2, staging.GetProperty("thaseRush").GetProperty("stage").GetInt32());
        Assert.Equal(9, staging.GetProperty("maudsley").GetProperty("total").GetInt32());
        Assert.Equal("moderate", staging.GetProperty("maudsley").GetProperty("band").GetString());
        Assert.Equal(42, root.GetProperty("validation").GetProperty("resources").GetInt32());
    }

    [Fact]
    public void ValidationFinding_From_KeepsErrorsAndWarningsDropsInformation()
    {
        var outcome = new OperationOutcome
        {
            Issue =
            [
                new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Expression = ["Flag.code"], Details = new CodeableConcept { Text = "bad code" } },
                new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Warning, Diagnostics = "odd" },
                new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Information, Diagnostics = "fyi" },
            ],
        };

        var findings = ValidationFinding.From(outcome);

        Assert.Equal([new ValidationFinding("error", "Flag.code", "bad code"), new ValidationFinding("warning", "", "odd")], findings);
    }
}
