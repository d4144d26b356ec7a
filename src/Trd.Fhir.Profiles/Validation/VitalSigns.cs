using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// The core vital-signs profiles applied by code, as the HL7 reference validator does: FHIR R4 observation-vitalsigns.html
/// ("If implementations use this Observation resource to represent vital signs, then they SHALL use the profiles"),
/// keyed by the LOINC code each profile fixes on <c>Observation.code</c> (the vital signs table of that page; a test reads
/// each code back out of the profile in the specification). An Observation whose <c>code</c> carries one of these LOINC
/// codes is validated against that profile as if it were in <c>meta.profile</c>. One scan of its codings: cheap.
/// </summary>
internal static class VitalSigns
{
    private const string Loinc = "http://loinc.org";
    private const string Core = "http://hl7.org/fhir/StructureDefinition/";

    /// <summary>LOINC code → core profile (R4 4.0.1).</summary>
    internal static readonly IReadOnlyDictionary<string, string> ProfileByLoinc = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["85353-1"] = Core + "vitalspanel",
        ["9279-1"] = Core + "resprate",
        ["8867-4"] = Core + "heartrate",
        ["2708-6"] = Core + "oxygensat",
        ["8310-5"] = Core + "bodytemp",
        ["8302-2"] = Core + "bodyheight",
        ["9843-4"] = Core + "headcircum",
        ["29463-7"] = Core + "bodyweight",
        ["39156-5"] = Core + "bmi",
        ["85354-9"] = Core + "bp",
    };

    /// <summary>The vital-signs profile <paramref name="resource"/> must conform to by its code, or null.</summary>
    public static string? ImpliedProfile(Resource resource)
    {
        if (resource is not Observation { Code.Coding: { Count: > 0 } codings }) return null;
        foreach (var c in codings)
        {
            if (c is { System: Loinc, Code: { } code } && ProfileByLoinc.TryGetValue(code, out var profile)) return profile;
        }
        return null;
    }
}
