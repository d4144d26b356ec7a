namespace Trd.Fhir.Profiles;

/// <summary>
/// The one canonical base of every Trd.Fhir conformance artefact (profiles, extensions, code systems, value sets)
/// and of the business identifier systems. Defined once; everything else derives from it.
/// </summary>
public static class Canonical
{
    public const string Base = "https://trd-fhir.example.org/fhir";

    public static string StructureDefinition(string id) => $"{Base}/StructureDefinition/{id}";
    public static string CodeSystem(string id) => $"{Base}/CodeSystem/{id}";
    public static string ValueSet(string id) => $"{Base}/ValueSet/{id}";
}
