using Hl7.Fhir.Model;
using Hl7.Fhir.Specification.Terminology;

namespace Trd.Fhir.Profiles.Tests;

public class TerminologyTests
{
    private const string Profile = "http://example.org/fhir/StructureDefinition/obs-remote-binding";
    internal const string RemoteValueSet = "http://example.org/fhir/ValueSet/known-only-remotely";

    [Fact]
    public void Validate_ValueSetUnknownLocally_AskedOfTheRemoteService()
    {
        var remote = new FakeRemote();
        var options = Options();
        options.RemoteTerminology = remote;
        using var validator = TrdValidator.Create(options);

        var good = validator.Validate(Instance("good"));
        var bad = validator.Validate(Instance("bad"));

        Assert.True(good.Success, string.Join("; ", good.Issue.Select(i => i.Details?.Text)));
        var issue = Assert.Single(bad.Issue);
        Assert.Equal(["Observation.value"], issue.Expression);
        Assert.Contains("remote says no", issue.Details.Text, StringComparison.Ordinal);
        Assert.All(remote.Asked, url => Assert.Equal(RemoteValueSet, url));
    }

    [Fact]
    public void Validate_OurValueSet_NeverAskedOfTheRemoteService()
    {
        var remote = new FakeRemote();
        var options = TestData.Options();
        options.RemoteTerminology = remote;
        using var validator = TrdValidator.Create(options);

        var oo = validator.Validate(TrdValidatorTests.Mutate("status-preliminary"));

        Assert.Contains("TestPhq9Status", Assert.Single(oo.Issue).Details.Text, StringComparison.Ordinal);
        Assert.Empty(remote.Asked);
    }

    [Fact]
    public void Validate_ValueSetUnknownAndNoRemote_ReportedNotThrown()
    {
        using var validator = TrdValidator.Create(Options());

        var oo = validator.Validate(Instance("good"));

        Assert.Contains(oo.Issue, i => i.Details?.Text?.Contains(RemoteValueSet, StringComparison.Ordinal) == true);
    }

    internal static TrdValidatorOptions Options()
    {
        var options = new TrdValidatorOptions { IncludeEmbeddedProfiles = false };
        options.ExtraSources.Add(ArtifactSource.FromResources(new StructureDefinition
        {
            Url = Profile, Name = "ObsRemoteBinding", Status = PublicationStatus.Draft, FhirVersion = FHIRVersion.N4_0_1,
            Kind = StructureDefinition.StructureDefinitionKind.Resource, Abstract = false, Type = "Observation",
            BaseDefinition = "http://hl7.org/fhir/StructureDefinition/Observation", Derivation = StructureDefinition.TypeDerivationRule.Constraint,
            Differential = new StructureDefinition.DifferentialComponent
            {
                Element =
                [
                    new ElementDefinition { ElementId = "Observation", Path = "Observation" },
                    new ElementDefinition
                    {
                        ElementId = "Observation.value[x]", Path = "Observation.value[x]",
                        Type = [new ElementDefinition.TypeRefComponent { Code = "CodeableConcept" }],
                        Binding = new ElementDefinition.ElementDefinitionBindingComponent { Strength = BindingStrength.Required, ValueSet = RemoteValueSet },
                    },
                ],
            },
        }));
        return options;
    }

    internal static Observation Instance(string code) => new()
    {
        Meta = new Meta { Profile = [Profile] },
        Status = ObservationStatus.Final,
        Code = new CodeableConcept { Text = "x" },
        Value = new CodeableConcept("http://example.org/cs", code),
    };

    /// <summary>Accepts code "good" only; records the value sets it was asked about.</summary>
    private sealed class FakeRemote : ICodeValidationTerminologyService
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Asked { get; } = new();

        public System.Threading.Tasks.Task<Parameters> ValueSetValidateCode(Parameters parameters, string? id = null, bool useGet = false)
        {
            Asked.Enqueue((parameters.Parameter.First(p => p.Name == "url").Value as PrimitiveType)!.ToString()!);
            var coding = parameters.Parameter.FirstOrDefault(p => p.Name == "coding")?.Value as Coding
                ?? (parameters.Parameter.FirstOrDefault(p => p.Name == "codeableConcept")?.Value as CodeableConcept)?.Coding.FirstOrDefault();
            var ok = coding?.Code == "good";
            var result = new Parameters();
            result.Add("result", new FhirBoolean(ok));
            if (!ok) result.Add("message", new FhirString("remote says no"));
            return System.Threading.Tasks.Task.FromResult(result);
        }

        public System.Threading.Tasks.Task<Parameters> Subsumes(Parameters parameters, string? id = null, bool useGet = false) =>
            throw new NotSupportedException();
    }
}
