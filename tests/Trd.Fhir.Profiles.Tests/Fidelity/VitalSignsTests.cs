using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Validation;

namespace Trd.Fhir.Profiles.Tests.Fidelity;

/// <summary>Issue 12 item 3, the core vital-signs profiles applied by LOINC code (Validation/VitalSigns.cs): the code → profile
/// table is the specification's, read back out of each profile in specification.zip; the cases are in Fidelity/cases/vitals.*.</summary>
public sealed class VitalSignsTests(FidelityFixture fixture) : IClassFixture<FidelityFixture>
{
    public static TheoryData<string, string> Table()
    {
        var data = new TheoryData<string, string>();
        foreach (var (loinc, profile) in VitalSigns.ProfileByLoinc) data.Add(loinc, profile);
        return data;
    }

    [Theory]
    [MemberData(nameof(Table))]
    public void EachProfile_FixesItsLoincCodeOnObservationCode(string loinc, string profile)
    {
        var sd = Assert.IsType<StructureDefinition>(fixture.Validator.Resolver.Resolve(profile));

        var fixedCodes = sd.Snapshot.Element
            .Where(e => e.Path.StartsWith("Observation.code", StringComparison.Ordinal))
            .SelectMany(e => Codes(e.Fixed).Concat(Codes(e.Pattern)));

        Assert.Contains(loinc, fixedCodes);
    }

    [Fact]
    public void ObservationWithoutAVitalSignCode_NoProfileImplied()
    {
        var phq9Total = new Observation { Code = new CodeableConcept("http://loinc.org", "44261-6") };
        var heartRateOtherSystem = new Observation { Code = new CodeableConcept("http://example.org/codes", "8867-4") };

        Assert.Null(VitalSigns.ImpliedProfile(phq9Total));
        Assert.Null(VitalSigns.ImpliedProfile(heartRateOtherSystem));
        Assert.Equal("http://hl7.org/fhir/StructureDefinition/heartrate",
            VitalSigns.ImpliedProfile(new Observation { Code = new CodeableConcept { Coding = [new Coding("http://example.org/codes", "x"), new Coding("http://loinc.org", "8867-4")] } }));
    }

    private static IEnumerable<string> Codes(DataType? value) => value switch
    {
        Code c when c.Value is { } v => [v],
        Coding c when c.Code is { } v => [v],
        CodeableConcept cc => cc.Coding.Select(c => c.Code).OfType<string>(),
        _ => [],
    };
}
