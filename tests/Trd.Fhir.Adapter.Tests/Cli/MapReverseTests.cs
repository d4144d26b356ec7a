using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Cli;
using Trd.Fhir.Adapter.Mapping;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary>Issue 11 through the CLI: two patients never make one protocol; item 9 from map --reverse is a SafetySignal.</summary>
public sealed class MapReverseTests() : CliTest("trd-reverse-")
{
    private const string Mrn = "https://hospital.example.org/fhir/sid/mrn";

    private string TwoPatientBundle()
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Collection };
        foreach (var (id, mrn, totals) in new[] { ("alice", "A-1", new[] { 18, 12, 9 }), ("bob", "B-2", new[] { 22, 3, 2 }) })
        {
            bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = $"http://ehr.example/fhir/Patient/{id}", Resource = new Patient { Id = id, Identifier = [new Identifier(Mrn, mrn)] } });
            for (var i = 0; i < totals.Length; i++)
            {
                bundle.Entry.Add(new Bundle.EntryComponent
                {
                    FullUrl = $"http://ehr.example/fhir/Observation/{id}-{i}",
                    Resource = new Observation
                    {
                        Id = $"{id}-{i}",
                        Status = ObservationStatus.Final,
                        Code = new CodeableConcept(Codes.Loinc, Codes.Phq9Total),
                        Subject = new ResourceReference($"Patient/{id}"),
                        Effective = new FhirDateTime($"2026-0{i + 1}-05"),
                        Value = new Integer(totals[i]),
                    },
                });
            }
        }
        var file = Path.Combine(Dir, "two.json");
        File.WriteAllText(file, FhirJson.Serialize(bundle));
        return file;
    }

    [Fact]
    public void MapReverse_TwoPatients_Exit2NamingHowManyAndWritesNothing()
    {
        var (exit, output, error) = Run("map", "--reverse", TwoPatientBundle());

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Equal("", output);
        Assert.Contains("the input holds 2 patients", error, StringComparison.Ordinal);
    }

    [Fact]
    public void MapReverse_TwoPatientsWithOutDir_WritesOneProtocolPerPatient()
    {
        var outDir = Path.Combine(Dir, "out");

        var (exit, output, _) = Run("map", "--reverse", TwoPatientBundle(), "--out-dir", outDir);

        Assert.Equal(ExitCodes.Success, exit);
        var files = Directory.GetFiles(outDir, "*.protocol.json");
        Assert.Equal(2, files.Length);
        Assert.Single(files, f => File.ReadAllText(f).Contains("\"value\": \"A-1\"", StringComparison.Ordinal) && !File.ReadAllText(f).Contains("\"total\": 22", StringComparison.Ordinal));
        Assert.Contains("2 patient(s), 2 protocol(s) written", output, StringComparison.Ordinal);
    }

    [Fact]
    public void MapReverse_Item9Positive_PrintsASafetySignal()
    {
        var bundle = Path.Combine(Dir, "bundle.json");
        Assert.Equal(ExitCodes.Success, Run("map", Repo.Path("examples", "phase1-augmentation.json"), "-o", bundle, "--phq9-as", "questionnaire-response", "--no-validate").Exit);

        var (exit, _, error) = Run("map", "--reverse", bundle);

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains("warning SafetySignal", error, StringComparison.Ordinal);
        Assert.Contains("scored 1 on 2026-09-07", error, StringComparison.Ordinal);
    }
}
