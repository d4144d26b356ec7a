using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Mapping.ReadContext;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>One patient found in the input, with the resources tied to it.</summary>
internal sealed record PatientGroup(PatientRef? Patient, string Where, IReadOnlyList<SourcedResource> Resources);

/// <summary>
/// One patient per protocol: ties every resource to exactly one patient — by literal reference (fullUrl, <c>Patient/id</c>,
/// absolute URL), by logical identifier (<c>subject.identifier</c> or a conditional <c>Patient?identifier=</c>), or by a
/// contained Patient — and groups the input per patient. A Patient resource joins its identifiers and references into one
/// patient. A resource whose subject is missing or names two different patients is reported and never attached.
/// </summary>
internal static class PatientScope
{
    private const string V2IdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203";

    public static (IReadOnlyList<PatientGroup> Groups, IReadOnlyList<Problem> Untied, IReadOnlyList<SourcedResource> Unrelated) Split(IReadOnlyList<SourcedResource> all)
    {
        var context = new ReadContext(all, Identity.Default);
        var owner = new Dictionary<string, int>(StringComparer.Ordinal);   // key → patient number
        var patients = new List<(List<Patient> Resources, List<Identifier> Identifiers, string Where)>();
        var untied = new List<Problem>();
        var unrelated = new List<SourcedResource>();
        var members = new List<(SourcedResource Resource, int Patient)>();

        int NewPatient(string where)
        {
            patients.Add(([], [], where));
            return patients.Count - 1;
        }

        void Join(int number, IEnumerable<string> keys)
        {
            foreach (var key in keys)
                owner.TryAdd(key, number);
        }

        // 1. Patient resources: each one a patient; two Patient resources sharing an identifier are one person.
        foreach (var r in all.Where(r => r.Resource is Patient))
        {
            var patient = (Patient)r.Resource;
            var keys = PatientKeys(patient, r.FullUrl).ToArray();
            var number = keys.Select(k => owner.TryGetValue(k, out var n) ? n : -1).FirstOrDefault(n => n >= 0, -1);
            if (number < 0)
                number = NewPatient(r.Location);
            patients[number].Resources.Add(patient);
            patients[number].Identifiers.AddRange(patient.Identifier);
            Join(number, keys);
            members.Add((r, number));
        }

        // 2. Every other resource by its subject.
        foreach (var r in all.Where(r => r.Resource is not Patient))
        {
            var subject = SubjectOf(r.Resource, out var hasSubject);
            if (!hasSubject)
            {
                unrelated.Add(r);
                continue;
            }
            if (subject is null || (subject.Reference is null && subject.Identifier is null))
            {
                untied.Add(new Problem(ProblemSeverity.Warning, ProblemCode.MissingProperty, r.Location, $"{r.Resource.TypeName} has no subject: it cannot be tied to a patient and is not attached to any protocol", "set subject to the patient (reference or identifier)"));
                continue;
            }
            var keys = new List<string>();
            Patient? contained = null;
            if (subject.Reference is { } reference && reference.StartsWith('#') && r.Resource is DomainResource domain)
            {
                contained = domain.Contained.OfType<Patient>().FirstOrDefault(p => p.Id == reference[1..]);
                if (contained is not null)
                    keys.AddRange(PatientKeys(contained, null).Where(k => k.StartsWith("id:", StringComparison.Ordinal)));
            }
            else if (subject.Reference is { } literal)
            {
                if (context.Resolve(subject) is { Resource: Patient target } found)
                    keys.AddRange(PatientKeys(target, found.FullUrl).Where(k => k.StartsWith("ref:", StringComparison.Ordinal)));
                else if (ConditionalIdentifier(literal) is { } conditional)
                    keys.Add(conditional);
                else
                    keys.Add(RefKey(literal));
            }
            if (subject.Identifier is { System: { } system, Value: { } value } && !string.IsNullOrWhiteSpace(value))
                keys.Add(IdKey(system, value));
            var owners = keys.Select(k => owner.TryGetValue(k, out var n) ? n : -1).Where(n => n >= 0).Distinct().ToArray();
            if (owners.Length > 1)
            {
                untied.Add(new Problem(ProblemSeverity.Warning, ProblemCode.Inconsistent, r.Location, $"the subject of this {r.Resource.TypeName} names two different patients (its reference and its identifier disagree): not attached to any protocol", "make subject.reference and subject.identifier name the same patient"));
                continue;
            }
            var number = owners.Length == 1 ? owners[0] : NewPatient(r.Location);
            if (contained is not null && patients[number].Resources.Count == 0)
                patients[number].Identifiers.AddRange(contained.Identifier);
            if (subject.Identifier is { System: not null, Value: not null } id && owners.Length == 0)
                patients[number].Identifiers.Add(id);
            Join(number, keys);
            members.Add((r, number));
        }

        var groups = patients.Select((p, i) => new PatientGroup(
            Best(p.Identifiers) is { } best ? new PatientRef(best.System!, best.Value!, null) : null,
            p.Where,
            members.Where(m => m.Patient == i).Select(m => m.Resource).ToArray())).ToArray();
        return (groups, untied, unrelated);
    }

    /// <summary>The subject of the resource kinds a TRD protocol reads; <paramref name="hasSubject"/> is false for kinds without one.</summary>
    public static ResourceReference? SubjectOf(Resource resource, out bool hasSubject)
    {
        hasSubject = true;
        switch (resource)
        {
            case CarePlan x: return x.Subject;
            case Condition x: return x.Subject;
            case Goal x: return x.Subject;
            case CareTeam x: return x.Subject;
            case MedicationRequest x: return x.Subject;
            case MedicationStatement x: return x.Subject;
            case ServiceRequest x: return x.Subject;
            case Procedure x: return x.Subject;
            case Observation x: return x.Subject;
            case QuestionnaireResponse x: return x.Subject;
            case Flag x: return x.Subject;
            case DiagnosticReport x: return x.Subject;
            case Encounter x: return x.Subject;
            default:
                hasSubject = false;
                return null;
        }
    }

    /// <summary>The patient identifier to key the protocol on: a medical record number if marked, else the first usable one.</summary>
    public static Identifier? Best(IEnumerable<Identifier> identifiers)
    {
        var usable = identifiers.Where(i => i.System is not null && !string.IsNullOrWhiteSpace(i.Value)).ToArray();
        return usable.FirstOrDefault(i => Has(i.Type, V2IdentifierType, "MR")) ?? usable.FirstOrDefault();
    }

    private static IEnumerable<string> PatientKeys(Patient patient, string? fullUrl)
    {
        foreach (var id in patient.Identifier.Where(i => i.System is not null && !string.IsNullOrWhiteSpace(i.Value)))
            yield return IdKey(id.System!, id.Value!);
        if (patient.Id is { } pid)
            yield return RefKey("Patient/" + pid);
        if (fullUrl is not null)
            yield return RefKey(fullUrl);
    }

    private static string IdKey(string system, string value) => $"id:{system}|{value}";

    /// <summary>A reference as a key: <c>Patient/id</c> for relative or absolute REST URLs (history stripped), else the text.</summary>
    private static string RefKey(string reference)
    {
        var text = reference;
        var history = text.IndexOf("/_history/", StringComparison.Ordinal);
        if (history > 0)
            text = text[..history];
        var parts = text.Split('/');
        return parts.Length >= 2 && parts[^2] == "Patient" ? $"ref:Patient/{parts[^1]}" : $"ref:{text}";
    }

    /// <summary>The identifier key of a conditional reference <c>Patient?identifier=system|value</c>, if it is one.</summary>
    private static string? ConditionalIdentifier(string reference)
    {
        const string prefix = "Patient?identifier=";
        if (!reference.StartsWith(prefix, StringComparison.Ordinal))
            return null;
        var text = Uri.UnescapeDataString(reference[prefix.Length..]);
        var bar = text.IndexOf('|', StringComparison.Ordinal);
        return bar > 0 && bar < text.Length - 1 && !text.Contains('&', StringComparison.Ordinal) ? IdKey(text[..bar], text[(bar + 1)..]) : null;
    }
}
