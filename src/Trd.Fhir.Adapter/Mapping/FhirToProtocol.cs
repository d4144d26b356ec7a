using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Mapping.ReadContext;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>A resource with where it came from (<c>Bundle.entry[3]</c>) and the fullUrl it was known by, if any.</summary>
public sealed record SourcedResource(Resource Resource, string Location, string? FullUrl);

public sealed record ReverseResult(TrdProtocol? Protocol, IReadOnlyList<Problem> Problems);

/// <summary>
/// FHIR → protocol, the tolerant reader used by pull and <c>map --reverse</c>. Reads what Trd.Fhir wrote (business
/// identifiers, project codes and extensions) and what other systems hold. Pure. One reader per resource family:
/// <see cref="PlanReader"/>, <see cref="OrderReader"/>, <see cref="SessionReader"/>, <see cref="Phq9Reader"/> (every PHQ-9
/// shape). Anything it cannot interpret is reported as a problem with its location, never dropped silently.
/// </summary>
public sealed class FhirToProtocol(Identity identity)
{
    public static FhirToProtocol Default { get; } = new(Identity.Default);

    public static IReadOnlyList<SourcedResource> Entries(Bundle bundle) =>
        bundle.Entry.Select((e, i) => (e, i)).Where(x => x.e.Resource is not null)
            .Select(x => new SourcedResource(x.e.Resource!, $"Bundle.entry[{x.i}]", x.e.FullUrl)).ToArray();

    public ReverseResult Read(IReadOnlyList<SourcedResource> resources)
    {
        var r = new ReadContext(resources, identity);
        var patient = FindPatient(r);
        if (patient is null)
            return new ReverseResult(null, r.Problems);
        r.ProtocolId = FindProtocolId(r, patient);
        var orders = new OrderReader(r);
        var plans = new PlanReader(r, orders);
        plans.MarkDerivedGoals();
        var diagnosis = plans.ReadDiagnosis();
        var trials = plans.ReadTrials();
        var team = plans.ReadCareTeam();
        var phases = plans.ReadPhases();
        var protocol = new TrdProtocol(
            r.ProtocolId,
            patient,
            diagnosis,
            trials,
            team,
            phases,
            new SessionReader(r).ReadSessions(orders.Orders),
            new Phq9Reader(r).ReadPhq9());
        foreach (var s in r.All.Where(s => !r.IsUsed(s.Resource) && s.Resource is not Patient))
            r.Warn(s.Location, ProblemCode.NotInterpretable, $"{s.Resource.TypeName}{(s.Resource.Id is { } id ? "/" + id : "")} is not part of a TRD protocol as Trd.Fhir reads it; left out");
        return new ReverseResult(r.Problems.Any(p => p.IsError) ? null : protocol, r.Problems);
    }

    private static PatientRef? FindPatient(ReadContext r)
    {
        var subjects = r.All.Select(s => s.Resource switch
        {
            CarePlan x => x.Subject,
            Condition x => x.Subject,
            Goal x => x.Subject,
            CareTeam x => x.Subject,
            MedicationRequest x => x.Subject,
            MedicationStatement x => x.Subject,
            ServiceRequest x => x.Subject,
            Procedure x => x.Subject,
            Observation x => x.Subject,
            _ => null,
        }).Where(s => s is not null).Select(s => s!).ToArray();

        var patients = r.OfType<Patient>().ToArray();
        foreach (var subject in subjects)
        {
            if (subject.Identifier is { System: { } system, Value: { } value })
                return new PatientRef(system, value, LiteralPatient(subject.Reference));
            if (r.Resolve(subject)?.Resource is Patient patient && Best(patient.Identifier) is { } id)
                return new PatientRef(id.System!, id.Value!, LiteralPatient(subject.Reference) ?? (patient.Id is { } pid ? $"Patient/{pid}" : null));
        }
        if (patients.Length == 1 && Best(patients[0].Resource.Identifier) is { } only)
            return new PatientRef(only.System!, only.Value!, patients[0].Resource.Id is { } pid ? $"Patient/{pid}" : null);
        r.Fail("Bundle", ProblemCode.MissingProperty, "cannot tell which patient these resources belong to", "include the Patient (with an identifier) or give subjects a logical identifier");
        return null;
    }

    private static string? LiteralPatient(string? reference)
    {
        if (reference is null || reference.Contains('?', StringComparison.Ordinal) || reference.StartsWith("urn:", StringComparison.Ordinal))
            return null;
        var parts = reference.Split('/');
        var at = Array.LastIndexOf(parts, "Patient");
        return at >= 0 && at + 1 < parts.Length && ProtocolReader.IdPattern().IsMatch(parts[at + 1]) ? $"Patient/{parts[at + 1]}" : null;
    }

    /// <summary>The patient identifier to key the protocol on: a medical record number if marked, else the first usable one.</summary>
    private static Identifier? Best(IEnumerable<Identifier> identifiers)
    {
        var usable = identifiers.Where(i => i.System is not null && !string.IsNullOrWhiteSpace(i.Value)).ToArray();
        return usable.FirstOrDefault(i => Has(i.Type, "http://terminology.hl7.org/CodeSystem/v2-0203", "MR")) ?? usable.FirstOrDefault();
    }

    private static string FindProtocolId(ReadContext r, PatientRef patient)
    {
        foreach (var (plan, _) in r.OfType<CarePlan>())
        {
            if (Has(plan.Category.FirstOrDefault(c => Has(c, Codes.CarePlanKind, "protocol")), Codes.CarePlanKind, "protocol") && r.Identity.ProtocolIdOf(plan, plan.Identifier) is { } id)
                return id;
        }
        foreach (var s in r.All)
        {
            var identifiers = Identity.IdentifiersOf(s.Resource);
            if (r.Identity.ProtocolIdOf(s.Resource, identifiers) is { } id && ProtocolReader.IdPattern().IsMatch(id))
                return id;
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{patient.System}|{patient.Value}"));
        return "pulled-" + Convert.ToHexStringLower(hash)[..16];
    }
}
