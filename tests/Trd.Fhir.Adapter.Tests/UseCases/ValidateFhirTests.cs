using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>The validate use case: each unit parsed, validated through the pool and located; many in parallel, in order.</summary>
public sealed class ValidateFhirTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-validatefhir-").FullName;
    private readonly ValidateFhir _sut = new(ValidatorPool.Shared(), ValidationPlan.Default);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Example(string name) => Repo.Path("profiles", "examples", name);

    private string Copy(string example, string name)
    {
        var path = Path.Combine(_dir, name);
        File.Copy(Example(example), path);
        return path;
    }

    [Fact]
    public void Run_SixFilesFourAtOnce_ResultsInInputOrder()
    {
        var files = Enumerable.Range(0, 6).Select(k => Copy(k % 2 == 0 ? "trd-condition.valid.json" : "trd-condition.invalid-no-trd-code.json", $"{k}.json")).ToList();
        var results = new List<ValidationResult>();

        _sut.Run([.. files.Select(f => new ValidationInput(f, InputKind.Json, FromDirectory: false))], jobs: 4, results.Add);

        Assert.Equal(files, results.Select(r => r.File));
        Assert.Equal([false, true, false, true, false, true], results.Select(r => r.HasErrors));
    }

    [Fact]
    public void Check_InvalidFile_IssueLocatedAtLineAndColumn()
    {
        var file = Example("trd-careplan-phase.invalid-minimum-duration-not-ucum.json");

        var result = _sut.Check(new ValidationUnit(new ValidationInput(file, InputKind.Json, false), null, File.ReadAllBytes(file), null))!;

        var finding = result.Findings().First(f => f.IsError);
        Assert.Equal(("CarePlan.extension[1].value", 23, 7), (finding.Expression, finding.Line, finding.Column));
        Assert.Equal(1, result.ResourceCount);
    }

    [Fact]
    public void Check_JsonWithoutResourceTypeFoundInADirectory_Skipped_GivenAsAFile_Unreadable()
    {
        var utf8 = "{\"name\": \"not-fhir\"}"u8.ToArray();

        var fromDirectory = _sut.Check(new ValidationUnit(new ValidationInput("package.json", InputKind.Json, FromDirectory: true), null, utf8, null));
        var given = _sut.Check(new ValidationUnit(new ValidationInput("package.json", InputKind.Json, FromDirectory: false), null, utf8, null))!;

        Assert.Null(fromDirectory);
        Assert.True(given.Unreadable);
        Assert.StartsWith("package.json: not a FHIR R4 resource: ", given.Outcome.Issue[0].Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_MissingInput_UnreadableNotFoundWithTheFix()
    {
        var result = _sut.Check(new ValidationUnit(new ValidationInput("gone.json", InputKind.Json, false, Missing: true), null, null, null))!;

        Assert.True(result.Unreadable);
        Assert.Equal((OperationOutcome.IssueType.NotFound, "gone.json: no such file or directory (fix: check the path)"), (result.Outcome.Issue[0].Code!.Value, result.Outcome.Issue[0].Details.Text));
    }

    [Fact]
    public void Check_BundleFile_CountsItsEntriesAndLabelsThem()
    {
        var file = Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase2-tms-partial-response.bundle.json");

        var result = _sut.Check(new ValidationUnit(new ValidationInput(file, InputKind.Json, false), null, File.ReadAllBytes(file), null))!;

        Assert.Equal((109, 109), (result.ResourceCount, result.EntryLabels.Count));
        Assert.False(result.HasErrors);
    }

    [Fact]
    public void IsKnownProfile_OursCoreAndUnknown()
    {
        Assert.True(_sut.IsKnownProfile(ProfileUrls.Phq9Total));
        Assert.True(_sut.IsKnownProfile("http://hl7.org/fhir/StructureDefinition/vitalsigns"));
        Assert.False(_sut.IsKnownProfile("https://example.org/fhir/StructureDefinition/nobody"));
    }

    [Fact]
    public void Produced_MappedBundle_LabelledByTypeAndIdWithPlainExpressions()
    {
        var outcome = new OperationOutcome { Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.Required, Expression = ["Bundle.entry[0].resource"], Details = new CodeableConcept { Text = "Missing required member: 'note'" } }] };

        var result = ValidateFhir.Produced("p.json", new Bundle { Id = "b1" }, outcome);

        Assert.Equal(("p.json", "Bundle/b1"), (result.File, result.Label));
        Assert.Equal(new Finding("error", "required", "Bundle.entry[0].resource", "Missing required member: 'note'", null, null), Assert.Single(result.Findings()));
    }
}
