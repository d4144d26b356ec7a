using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// The state of one protocol → Bundle mapping, shared by the family writers (plans, orders, sessions, PHQ-9): the Bundle
/// being built, the patient reference every resource carries, and the fullUrl of every entry added so far (a resource only
/// references entries before it).
/// </summary>
internal sealed class BundleWriter(TrdProtocol protocol, Identity identity)
{
    private readonly Dictionary<string, string> _fullUrls = new(StringComparer.Ordinal);

    public TrdProtocol Protocol { get; } = protocol;

    public Identity Identity { get; } = identity;

    public Bundle Bundle { get; } = new() { Type = Bundle.BundleType.Transaction };

    public ResourceReference Subject { get; } = SubjectOf(protocol.Patient);

    /// <summary>Adds <paramref name="resource"/> as a conditional create on its business identifier; returns a reference to its fullUrl.</summary>
    public ResourceReference Add(DomainResource resource, string local, string? profile)
    {
        var entry = Identity.ConditionalCreate(resource, Protocol.Id, local, profile);
        _fullUrls[$"{resource.TypeName}/{local}"] = entry.FullUrl!;
        Bundle.Entry.Add(entry);
        return new ResourceReference(entry.FullUrl);
    }

    /// <summary>A reference to an entry added before (by resource type and local identifier part).</summary>
    public ResourceReference Ref(string resourceType, string local) => new(_fullUrls[$"{resourceType}/{local}"]);

    /// <summary>The patient as every resource's subject: the literal reference when known, else a conditional reference on
    /// the identifier; the logical identifier always.</summary>
    public static ResourceReference SubjectOf(PatientRef patient) => new()
    {
        Reference = patient.Reference ?? "Patient?" + Identity.IdentifierQuery(patient.System, patient.Value),
        Identifier = new Identifier(patient.System, patient.Value),
    };

    public static string Date(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static Period? ToPeriod(DatePeriod? period) => period is null ? null
        : new Period { Start = period.Start is { } s ? Date(s) : null, End = period.End is { } e ? Date(e) : null };

    public static Narrative Text(string text) => new()
    {
        Status = Narrative.NarrativeStatus.Generated,
        Div = $"<div xmlns=\"http://www.w3.org/1999/xhtml\">{System.Net.WebUtility.HtmlEncode(text)}</div>",
    };

    public static string Num(decimal value) => ProtocolWriter.Normalize(value).ToString(CultureInfo.InvariantCulture);

    public static CodeableConcept Medication(string drugKey) => new()
    {
        Coding = Codes.DrugCodings(drugKey).Select(c => (Coding)c.DeepCopy()).ToList(),
        Text = Drugs.Find(drugKey)!.Display,
    };
}
