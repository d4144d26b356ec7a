using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>Paths and builders for the test artefacts and instances under TestData/.</summary>
internal static class TestData
{
    public const string Phq9Total = Canonical.Base + "/StructureDefinition/test-phq9-total";
    public const string CarePlanProfile = Canonical.Base + "/StructureDefinition/test-careplan";
    public const string InstrumentVersion = Canonical.Base + "/StructureDefinition/test-instrument-version";
    public const string SeveritySystem = Canonical.Base + "/CodeSystem/test-phq9-severity";

    public static string ProfilesDir => Path.Combine(AppContext.BaseDirectory, "TestData", "profiles");

    public static string Instance(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "instances", name));

    public static TrdValidatorOptions Options()
    {
        var o = new TrdValidatorOptions();
        o.ExtraSources.Add(ArtifactSource.Directory(ProfilesDir));
        return o;
    }

    /// <summary>A valid PHQ-9 total (17, moderately severe) claiming the test profile.</summary>
    public static Observation Phq9(int score = 17)
    {
        var parsed = TrdFhirParser.ParseJson(Instance("one-observation.json"));
        var obs = (Observation)parsed.Resource!;
        obs.Value = new Integer(score);
        return obs;
    }
}

/// <summary>One validator for a whole test class: creating and warming one costs about a second.</summary>
public sealed class ValidatorFixture : IDisposable
{
    public ValidatorFixture()
    {
        var options = TestData.Options();
        options.ProfileByResourceType["Observation"] = TestData.Phq9Total;
        Validator = TrdValidator.Create(options);
    }

    public TrdValidator Validator { get; }

    public void Dispose() => Validator.Dispose();
}
