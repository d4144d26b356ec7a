using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Store;

namespace Trd.Fhir.Profiles.Tests;

public class CoreSliceBuilderTests
{
    [Fact]
    public void Trim_CoreConstraint_KeepsTheDifferentialTheSnapshotGeneratorNeeds()
    {
        var sd = Sd(StructureDefinition.TypeDerivationRule.Constraint);

        CoreSliceBuilder.Trim(sd);

        Assert.NotNull(sd.Differential);
        Assert.Null(sd.Snapshot.Element[0].Definition);
    }

    [Fact]
    public void Trim_CoreSpecialization_DropsDifferentialAndDocumentation()
    {
        var sd = Sd(StructureDefinition.TypeDerivationRule.Specialization);

        CoreSliceBuilder.Trim(sd);

        Assert.Null(sd.Differential);
        Assert.Null(sd.Text);
        Assert.Null(sd.Snapshot.Element[0].Definition);
        Assert.Null(sd.Snapshot.Element[0].Constraint[0].Xpath);
        Assert.Equal("x.exists()", sd.Snapshot.Element[0].Constraint[0].Expression);
    }

    [Fact]
    public void Validate_ProfileUsingACoreExtension_SnapshotGeneratedAgainstTheSlice()
    {
        // flag-detail is a core extension (a constraint): generating our snapshot needs its differential.
        const string url = "http://example.org/fhir/StructureDefinition/flag-with-detail";
        var profile = new StructureDefinition
        {
            Url = url, Name = "FlagWithDetail", Status = PublicationStatus.Draft, FhirVersion = FHIRVersion.N4_0_1,
            Kind = StructureDefinition.StructureDefinitionKind.Resource, Abstract = false, Type = "Flag",
            BaseDefinition = "http://hl7.org/fhir/StructureDefinition/Flag", Derivation = StructureDefinition.TypeDerivationRule.Constraint,
            Differential = new StructureDefinition.DifferentialComponent
            {
                Element =
                [
                    new ElementDefinition { ElementId = "Flag", Path = "Flag" },
                    new ElementDefinition
                    {
                        ElementId = "Flag.extension:detail", Path = "Flag.extension", SliceName = "detail", Min = 1, Max = "1",
                        Type = [new ElementDefinition.TypeRefComponent { Code = "Extension", Profile = ["http://hl7.org/fhir/StructureDefinition/flag-detail"] }],
                    },
                ],
            },
        };
        var options = new TrdValidatorOptions();
        options.ExtraSources.Add(ArtifactSource.FromResources(profile));
        using var validator = TrdValidator.Create(options);
        var flag = new Flag
        {
            Meta = new Meta { Profile = [url] },
            Status = Flag.FlagStatus.Active,
            Code = new CodeableConcept { Text = "safety" },
            Subject = new ResourceReference("Patient/p1"),
        };

        var missing = validator.Validate(flag);
        flag.Extension.Add(new Extension("http://hl7.org/fhir/StructureDefinition/flag-detail", new ResourceReference("Observation/o1")));
        var present = validator.Validate(flag);

        Assert.Empty(validator.Resolver.SnapshotFailures);
        Assert.Contains(missing.Issue, i => i.Details.Text.Contains("extension:detail", StringComparison.Ordinal));
        Assert.True(present.Success, string.Join("; ", present.Issue.Select(i => i.Details?.Text)));
    }

    private static StructureDefinition Sd(StructureDefinition.TypeDerivationRule derivation) => new()
    {
        Url = "http://hl7.org/fhir/StructureDefinition/x",
        Derivation = derivation,
        Text = new Narrative { Div = "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>" },
        Differential = new StructureDefinition.DifferentialComponent { Element = [new ElementDefinition { Path = "X" }] },
        Snapshot = new StructureDefinition.SnapshotComponent
        {
            Element =
            [
                new ElementDefinition
                {
                    Path = "X", Definition = "doc",
                    Constraint = [new ElementDefinition.ConstraintComponent { Key = "x-1", Expression = "x.exists()", Xpath = "f:x" }],
                },
            ],
        },
    };
}
