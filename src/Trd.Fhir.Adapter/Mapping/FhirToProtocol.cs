using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Mapping.ReadContext;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>A resource with where it came from (<c>Bundle.entry[3]</c>) and the fullUrl it was known by, if any.</summary>
public sealed record SourcedResource(Resource Resource, string Location, string? FullUrl);

/// <summary>
/// The protocol read from FHIR (null when an error stops it), the problems met reading it, and the notices a user must see
/// even when reading went well: every PHQ-9 safety signal (item 9 ≥ 1, <see cref="SafetySignals"/>, also as a
/// <see cref="ProblemCode.SafetySignal"/> warning in <see cref="Notices"/>) and the note on unkeyed protocol ids.
/// </summary>
public sealed record ReverseResult(TrdProtocol? Protocol, IReadOnlyList<Problem> Problems)
{
    public IReadOnlyList<Phq9SafetySignal> SafetySignals { get; init; } = [];

    public IReadOnlyList<Problem> Notices { get; init; } = [];
}

/// <summary>Every patient's protocol from one input (one per patient, never merged), and the problems that belong to no
/// single patient (resources that cannot be tied to one).</summary>
public sealed record ReverseReading(IReadOnlyList<ReverseResult> Protocols, IReadOnlyList<Problem> Problems);

/// <summary>
/// FHIR → protocol, the tolerant reader used by pull and <c>map --reverse</c>. Reads what Trd.Fhir wrote (business
/// identifiers, project codes and extensions) and what other systems hold. Pure (the pseudonym key is given or read once
/// from the environment). One patient per protocol: <see cref="PatientScope"/> ties each resource to its patient first.
/// One reader per resource family: <see cref="PlanReader"/>, <see cref="OrderReader"/>, <see cref="SessionReader"/>,
/// <see cref="Phq9Reader"/> (every PHQ-9 shape). Anything it cannot interpret is reported with its location, never
/// dropped silently.
/// </summary>
public sealed class FhirToProtocol(Identity identity, PseudonymKey? key)
{
    private int _unkeyedWarned;

    public FhirToProtocol(Identity identity) : this(identity, PseudonymKey.FromEnvironment())
    {
    }

    public static FhirToProtocol Default { get; } = new(Identity.Default);

    public static IReadOnlyList<SourcedResource> Entries(Bundle bundle) =>
        bundle.Entry.Select((e, i) => (e, i)).Where(x => x.e.Resource is not null)
            .Select(x => new SourcedResource(x.e.Resource!, $"Bundle.entry[{x.i}]", x.e.FullUrl)).ToArray();

    /// <summary>One protocol from input that must hold one patient; several patients are an error naming how many.</summary>
    public ReverseResult Read(IReadOnlyList<SourcedResource> resources)
    {
        var (groups, untied, unrelated) = PatientScope.Split(resources);
        if (groups.Count > 1)
        {
            var where = string.Join(", ", groups.Select(g => g.Where));
            var problem = new Problem(ProblemSeverity.Error, ProblemCode.Inconsistent, "Bundle",
                $"the input holds {groups.Count} patients (first seen at {where}); one protocol is one patient, so none was written",
                "give --out-dir to write one protocol per patient, or split the input by patient");
            return new ReverseResult(null, [.. untied, problem]);
        }
        if (groups.Count == 0)
            return new ReverseResult(null, [.. untied, CannotTell()]);
        var one = ReadPatient(groups[0], unrelated);
        return one with { Problems = [.. untied, .. one.Problems] };
    }

    /// <summary>One protocol per patient found in the input.</summary>
    public ReverseReading ReadEach(IReadOnlyList<SourcedResource> resources)
    {
        var (groups, untied, unrelated) = PatientScope.Split(resources);
        var problems = untied.ToList();
        if (groups.Count != 1)
            problems.AddRange(unrelated.Select(NotOurs));
        if (groups.Count == 0)
            problems.Add(CannotTell());
        var results = groups.Select(g => ReadPatient(g, groups.Count == 1 ? unrelated : [])).ToArray();
        return new ReverseReading(results, problems);
    }

    private static Problem CannotTell() => new(ProblemSeverity.Error, ProblemCode.MissingProperty, "Bundle",
        "cannot tell which patient these resources belong to", "include the Patient (with an identifier) or give subjects a logical identifier");

    private static Problem NotOurs(SourcedResource s) => new(ProblemSeverity.Warning, ProblemCode.NotInterpretable, s.Location,
        $"{s.Resource.TypeName}{(s.Resource.Id is { } id ? "/" + id : "")} is not part of a TRD protocol as Trd.Fhir reads it; left out");

    private ReverseResult ReadPatient(PatientGroup group, IReadOnlyList<SourcedResource> unrelated)
    {
        var r = new ReadContext([.. group.Resources, .. unrelated], identity);
        if (group.Patient is not { } patient)
        {
            r.Fail(group.Where, ProblemCode.MissingProperty, "cannot tell which patient these resources belong to: the patient has no identifier here", "include the Patient (with an identifier) or give subjects a logical identifier");
            return new ReverseResult(null, r.Problems);
        }
        var notices = new List<Problem>();
        r.ProtocolId = FindProtocolId(r, patient, notices);
        patient = patient with { Reference = OwnReference(r) };
        var orders = new OrderReader(r);
        var plans = new PlanReader(r, orders);
        plans.MarkDerivedGoals();
        var diagnosis = plans.ReadDiagnosis();
        var trials = plans.ReadTrials();
        var team = plans.ReadCareTeam();
        var phases = plans.ReadPhases();
        var sessions = new SessionReader(r).ReadSessions(orders.Orders);
        var phq9Reader = new Phq9Reader(r);
        var phq9 = phq9Reader.ReadPhq9();
        var protocol = new TrdProtocol(r.ProtocolId, patient, diagnosis, trials, team, phases, sessions, phq9);
        foreach (var s in r.All.Where(s => !r.IsUsed(s.Resource) && s.Resource is not Patient))
            r.Warn(s.Location, ProblemCode.NotInterpretable, $"{s.Resource.TypeName}{(s.Resource.Id is { } id ? "/" + id : "")} is not part of a TRD protocol as Trd.Fhir reads it; left out");
        var signals = phq9Reader.SafetySignals;
        notices.InsertRange(0, signals.Select(s => s.ToProblem()));
        return new ReverseResult(r.Problems.Any(p => p.IsError) ? null : protocol, r.Problems) { SafetySignals = signals, Notices = notices };
    }

    /// <summary>
    /// The literal patient reference is kept only from a protocol Trd.Fhir wrote (its protocol CarePlan carries our business
    /// identifier and stated it). A foreign server's <c>Patient/123</c> means nothing to another server, so it is not carried
    /// into the protocol: the patient stays known by identifier (a conditional reference when pushed).
    /// </summary>
    private static string? OwnReference(ReadContext r)
    {
        foreach (var (plan, _) in r.OfType<CarePlan>())
        {
            if (plan.Category.Any(c => Has(c, Codes.CarePlanKind, "protocol")) && r.Local(plan) == "protocol")
                return LiteralPatient(plan.Subject?.Reference);
        }
        return null;
    }

    private static string? LiteralPatient(string? reference)
    {
        if (reference is null || reference.Contains('?', StringComparison.Ordinal) || reference.StartsWith("urn:", StringComparison.Ordinal))
            return null;
        var parts = reference.Split('/');
        return parts.Length == 2 && parts[0] == "Patient" && ProtocolReader.IdPattern().IsMatch(parts[1]) ? reference : null;
    }

    private string FindProtocolId(ReadContext r, PatientRef patient, List<Problem> notices)
    {
        foreach (var (plan, _) in r.OfType<CarePlan>())
        {
            if (plan.Category.Any(c => Has(c, Codes.CarePlanKind, "protocol")) && r.Identity.ProtocolIdOf(plan, plan.Identifier) is { } id)
                return id;
        }
        foreach (var s in r.All)
        {
            if (r.Identity.ProtocolIdOf(s.Resource, Identity.IdentifiersOf(s.Resource)) is { } id && ProtocolReader.IdPattern().IsMatch(id))
                return id;
        }
        if (key is not null)
            return key.ProtocolId(patient.System, patient.Value);
        if (Interlocked.Exchange(ref _unkeyedWarned, 1) == 0)
            notices.Add(new Problem(ProblemSeverity.Warning, ProblemCode.InvalidValue, "protocol.id", PseudonymKey.UnkeyedWarning, $"export {PseudonymKey.EnvironmentVariable}=<secret>"));
        return PseudonymKey.UnkeyedProtocolId(patient.System, patient.Value);
    }
}
