using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>The map use case: read → map → validate through the pool; and back with the tolerant reader.</summary>
public sealed class MapProtocolTests
{
    private static MapProtocol Sut(bool validator = true) => new(new Identity(Identity.DefaultBase), validator ? ValidatorPool.Shared() : null);

    private static byte[] Example(string name) => File.ReadAllBytes(Repo.Path("examples", name + ".json"));

    [Fact]
    public void Map_Example_GoldenBundleValidatedWithoutErrors()
    {
        var mapped = Sut().Map(Example("phase1-augmentation"));

        Assert.Equal("syn-0001-trd", mapped.Protocol!.Id);
        Assert.DoesNotContain(mapped.Problems, p => p.IsError);
        Assert.Equal(File.ReadAllText(Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase1-augmentation.bundle.json")).TrimEnd(), FhirJson.Serialize(mapped.Bundle!).TrimEnd());
        Assert.NotNull(mapped.Validation);
        Assert.DoesNotContain(mapped.Validation!.Issue, i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal);
        Assert.False(mapped.Invalid);
    }

    [Fact]
    public void Map_NoValidateOrNoValidator_BundleWithoutValidation()
    {
        var skipped = Sut().Map(Example("phase2-remission"), validate: false);
        var without = Sut(validator: false).Map(Example("phase2-remission"));

        Assert.Equal((117, (OperationOutcome?)null), (skipped.Bundle!.Entry.Count, skipped.Validation));
        Assert.Equal((117, (OperationOutcome?)null), (without.Bundle!.Entry.Count, without.Validation));
    }

    [Fact]
    public void Map_InvalidDocument_ItsProblemAndNoBundle()
    {
        var mapped = Sut().Map(File.ReadAllBytes(Repo.Path("tests", "invalid-protocols", "phq9-total-mismatch.json")));

        Assert.Null(mapped.Bundle);
        Assert.Null(mapped.Protocol);
        var error = Assert.Single(mapped.Problems, p => p.IsError);
        Assert.Equal((ProblemCode.TotalMismatch, "$.phq9[1].total", 167), (error.Code, error.Path, error.Line));
    }

    [Fact]
    public void Map_BundleWithAnError_Invalid()
    {
        var protocol = ProtocolReader.Read(Example("phase1-augmentation")).Protocol!;
        var outcome = new OperationOutcome { Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.Invalid }] };

        Assert.True(new MappedProtocol(protocol, [], new Bundle(), outcome).Invalid);
        Assert.False(new MappedProtocol(protocol, [], new Bundle(), null).Invalid);
    }

    [Fact]
    public void Reverse_GoldenBundle_GivesTheExampleBack()
    {
        var reversed = Sut().Reverse(File.ReadAllBytes(Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase3-ect-esketamine.bundle.json")));

        Assert.Null(reversed.NotFhir);
        Assert.Equal(File.ReadAllText(Repo.Path("examples", "phase3-ect-esketamine.json")), ProtocolWriter.Write(reversed.Result!.Protocol!));
    }

    [Fact]
    public void Reverse_NotFhir_TheParsersIssue()
    {
        var reversed = Sut().Reverse("{\"hello\": 1}"u8.ToArray());

        Assert.Null(reversed.Result);
        Assert.Equal(OperationOutcome.IssueSeverity.Error, reversed.NotFhir!.Severity);
        Assert.Contains("resourceType", reversed.NotFhir.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ReverseEach_TwoBundlesOfTwoPatientsMerged_OneProtocolPerPatient()
    {
        var a = (Bundle)FhirJson.Parse(File.ReadAllBytes(Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase1-augmentation.bundle.json")), out _)!;
        var b = (Bundle)FhirJson.Parse(File.ReadAllBytes(Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", "phase2-remission.bundle.json")), out _)!;
        a.Entry.AddRange(b.Entry);

        var (reading, notFhir) = Sut().ReverseEach(System.Text.Encoding.UTF8.GetBytes(FhirJson.Serialize(a)));

        Assert.Null(notFhir);
        var expected = new[] { "phase1-augmentation", "phase2-remission" }.Select(n => ProtocolReader.Read(Example(n)).Protocol!);
        Assert.Equal(expected.Select(ProtocolWriter.Write), reading!.Protocols.OrderBy(p => p.Protocol!.Id, StringComparer.Ordinal).Select(p => ProtocolWriter.Write(p.Protocol!)));
    }
}
