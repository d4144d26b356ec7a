using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Tests.Mapping;

public class FhirToProtocolTests
{
    private const string Mrn = "https://hospital.example.org/fhir/sid/mrn";

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Read_MappedExample_RoundTripsToTheSameProtocol(string example)
    {
        var protocol = ProtocolToFhirTests.Example(example);
        var bundle = ProtocolToFhir.Default.Map(protocol);

        var result = FhirToProtocol.Default.Read(FhirToProtocol.Entries(bundle));

        Assert.Empty(result.Problems);
        Assert.Equal(ProtocolWriter.Write(protocol), ProtocolWriter.Write(result.Protocol!));
    }

    [Fact]
    public void Read_MappedExampleAfterJsonRoundTrip_IsEqualToTheExampleFile()
    {
        var path = Repo.Path("examples", "phase3-ect-esketamine.json");
        var json = FhirJson.Serialize(ProtocolToFhirTests.Map("phase3-ect-esketamine"));
        var bundle = (Bundle)FhirJson.Parse(System.Text.Encoding.UTF8.GetBytes(json), out var issues)!;

        var result = FhirToProtocol.Default.Read(FhirToProtocol.Entries(bundle));

        Assert.Empty(issues);
        Assert.Equal(File.ReadAllText(path), ProtocolWriter.Write(result.Protocol!));
    }

    private static Patient Patient() => new()
    {
        Id = "p1",
        Identifier =
        [
            new Identifier("urn:oid:2.999.1", "ALT-1"),
            new Identifier(Mrn, "SYN-7") { Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0203", "MR") },
        ],
    };

    private static Observation Obs(string code, DataType? value, string date, string id) => new()
    {
        Id = id,
        Status = ObservationStatus.Final,
        Code = new CodeableConcept(Codes.Loinc, code),
        Subject = new ResourceReference("Patient/p1"),
        Effective = new FhirDateTime(date),
        Value = value,
    };

    private static ReverseResult ReadEhr(params Resource[] resources) =>
        FhirToProtocol.Default.Read(resources.Select((r, i) => new SourcedResource(r, $"Bundle.entry[{i}]", $"http://ehr.example/fhir/{r.TypeName}/{r.Id}")).ToArray());

    [Fact]
    public void Read_EhrTotalsOnly_GivesAssessmentsAndNoPhases()
    {
        var result = ReadEhr(
            Patient(),
            Obs(Codes.Phq9Total, new FhirString("12"), "2026-03-01", "a"),
            Obs(Codes.Phq9Total, new Quantity { Value = 9, System = Codes.UcumSystem, Code = "{score}", Unit = "{score}" }, "2026-04-01T10:30:00+02:00", "b"),
            Obs(Codes.Phq9Total, new Integer(4), "2026-05-01", "c"));

        var protocol = result.Protocol!;
        Assert.Empty(result.Problems);
        // Issue 11: a foreign server's Patient.id is no longer carried as the protocol's literal reference (another server would misread it).
        Assert.Equal(new PatientRef(Mrn, "SYN-7", null), protocol.Patient);
        Assert.Empty(protocol.Phases);
        Assert.Equal([12, 9, 4], protocol.Phq9.Select(a => a.Total));
        Assert.All(protocol.Phq9, a => Assert.Null(a.Items));
        Assert.Equal(new DateOnly(2026, 4, 1), protocol.Phq9[1].Date);
        Assert.StartsWith("pulled-", protocol.Id, StringComparison.Ordinal);
    }

    private static IEnumerable<Observation> LaItems(int[] scores, string date, string prefix) =>
        scores.Select((s, i) => Obs(Codes.Phq9Items[i].Code, new CodeableConcept(Codes.Loinc, Codes.Phq9Answers[s].Code), date, $"{prefix}{i}"));

    [Fact]
    public void Read_LooseLaCodedItemsWithoutPanel_AreGroupedByDay()
    {
        int[] scores = [2, 1, 3, 2, 1, 0, 2, 1, 1];
        var items = LaItems(scores, "2026-02-10T09:00:00Z", "i").ToArray();

        var result = ReadEhr([Patient(), .. items]);

        var assessment = Assert.Single(result.Protocol!.Phq9);
        Assert.Equal(scores, assessment.Items);
        Assert.Equal(13, assessment.Total);
        Assert.True(assessment.SuicidalityFlag);
    }

    [Fact]
    public void Read_PanelWithHasMemberAndStringTotal_UsesMembers()
    {
        int[] scores = [1, 1, 1, 1, 1, 1, 1, 1, 0];
        var items = LaItems(scores, "2026-02-10", "i").ToList();
        var total = Obs(Codes.Phq9Total, new FhirString("8"), "2026-02-10", "t");
        var panel = Obs(Codes.Phq9Panel, null, "2026-02-10", "panel");
        panel.HasMember = [.. items.Select(i => new ResourceReference($"Observation/{i.Id}")), new ResourceReference("Observation/t")];

        var result = ReadEhr([Patient(), panel, .. items, total]);

        Assert.Empty(result.Problems);
        var assessment = Assert.Single(result.Protocol!.Phq9);
        Assert.Equal(8, assessment.Total);
        Assert.Equal(scores, assessment.Items);
    }

    [Fact]
    public void Read_PanelWithComponents_ReadsComponentScores()
    {
        var panel = Obs(Codes.Phq9Panel, null, "2026-02-10", "panel");
        for (var i = 0; i < 9; i++)
            panel.Component.Add(new Observation.ComponentComponent { Code = new CodeableConcept(Codes.Loinc, Codes.Phq9Items[i].Code), Value = new Integer(i % 4) });

        var result = ReadEhr(Patient(), panel);

        Assert.Equal([0, 1, 2, 3, 0, 1, 2, 3, 0], result.Protocol!.Phq9.Single().Items);
    }

    [Fact]
    public void Read_IncompleteItemsAndMismatchedTotal_ReportsAndKeepsWhatItCan()
    {
        var items = LaItems([1, 1, 1, 1, 1, 1, 1, 1, 1], "2026-02-10", "i").Take(7).ToArray();
        var total = Obs(Codes.Phq9Total, new Integer(11), "2026-02-10", "t");

        var result = ReadEhr([Patient(), .. items, total]);

        var assessment = Assert.Single(result.Protocol!.Phq9);
        Assert.Null(assessment.Items);
        Assert.Equal(11, assessment.Total);
        Assert.Contains(result.Problems, p => p.Code == ProblemCode.NotInterpretable && p.Message.Contains("7 of 9 item scores", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_UnreadableValueAndUnrelatedObservation_AreReportedNotDropped()
    {
        var bad = Obs(Codes.Phq9Total, new FhirString("twelve"), "2026-02-10", "bad");
        var heartRate = Obs("8867-4", new Quantity(72, "/min"), "2026-02-10", "hr");
        var ok = Obs(Codes.Phq9Total, new Integer(7), "2026-03-10", "ok");

        var result = ReadEhr(Patient(), bad, heartRate, ok);

        Assert.Contains(result.Problems, p => p.Path == "Bundle.entry[1]" && p.Message.Contains("44261-6", StringComparison.Ordinal));
        Assert.Contains(result.Problems, p => p.Path == "Bundle.entry[2]" && p.Code == ProblemCode.NotInterpretable);
        Assert.Equal([7], result.Protocol!.Phq9.Select(a => a.Total));
    }

    [Fact]
    public void Read_EnteredInErrorObservation_IsSkippedAndReported()
    {
        var wrong = Obs(Codes.Phq9Total, new Integer(20), "2026-02-10", "x");
        wrong.Status = ObservationStatus.EnteredInError;

        var result = ReadEhr(Patient(), wrong);

        Assert.Empty(result.Protocol!.Phq9);
        Assert.Contains(result.Problems, p => p.Message.Contains("status entered-in-error skipped", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_NoPatientIdentity_FailsWithClearProblem()
    {
        var orphan = Obs(Codes.Phq9Total, new Integer(7), "2026-03-10", "ok");
        orphan.Subject = new ResourceReference("Patient/unknown");

        var result = FhirToProtocol.Default.Read([new SourcedResource(orphan, "Bundle.entry[0]", null)]);

        Assert.Null(result.Protocol);
        Assert.Contains(result.Problems, p => p.IsError && p.Message.Contains("which patient", StringComparison.Ordinal));
    }
}
