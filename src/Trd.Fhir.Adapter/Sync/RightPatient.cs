using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Transport.Push;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>One patient per protocol: the Patient a server returns must carry the identifier asked for, and every resource
/// read must reference that patient.</summary>
public static class RightPatient
{
    public static bool Carries(Patient patient, string system, string value) =>
        patient.Identifier.Any(i => i.System == system && i.Value == value);

    /// <summary>Whether <paramref name="resource"/> references the patient <paramref name="patientId"/> (and no other patient).</summary>
    public static bool References(Resource resource, string patientId)
    {
        var patients = FhirReferences.In(resource)
            .Select(r => r.Reference)
            .Where(r => r is not null && (r.StartsWith("Patient/", StringComparison.Ordinal) || r.Contains("/Patient/", StringComparison.Ordinal)))
            .Select(r => r!.Split("/_history/")[0])
            .Select(r => r[(r.LastIndexOf("Patient/", StringComparison.Ordinal) + "Patient/".Length)..])
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        return patients.Length == 1 && patients[0] == patientId;
    }
}
