using System.Text;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Report;
using Trd.Fhir.Adapter.Transport.Push;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>
/// The part of the plan a read-mostly EHR cannot store (CarePlan, Goal, CareTeam, MedicationRequest… as the server profile
/// says), written as one DocumentReference so clinicians see it in the chart: the plan as plain text (a line per resource
/// not written, from its narrative) and the clinical read-out as HTML — the self-contained page of <c>trd-fhir report</c>
/// (<see cref="ReportHtml"/>: phase, PHQ-9 course, safety signals, adherence, hints), as of the push's date; and those
/// resources themselves as a FHIR collection Bundle (<see cref="FhirContentType"/>), from which <c>pull</c> rebuilds the
/// phases the EHR cannot hold as CarePlans. Its type is the
/// project's own code (trd-careplan-kind#protocol): terminology.md confirms no LOINC note type for it. Its business
/// identifier is made with the push's identity (<c>--identifier-base</c>), one per protocol, looked up before it is
/// created like every pushed resource.
/// </summary>
public static partial class PlanDocument
{
    public const string TextTitle = "TRD protocol: the plan (text)";
    public const string HtmlTitle = "TRD clinical read-out (HTML)";
    public const string FhirTitle = "TRD protocol: the plan parts not stored here (FHIR collection Bundle)";
    public const string FhirContentType = "application/fhir+json";

    /// <summary>
    /// The resources the server does not store, as a collection Bundle, so <c>pull</c> rebuilds the phases from them: copies
    /// whose references to other resources of the push are logical (type and business identifier), which a reader resolves
    /// whether the target is in the Bundle or on the server. PHQ-9 Observations are left out (PHQ-9 has its own channel).
    /// </summary>
    private static Bundle Structured(IReadOnlyList<PushEntry> unstored, IReadOnlyList<PushEntry> entries)
    {
        var byUrl = entries.ToDictionary(e => e.FullUrl, StringComparer.Ordinal);
        var bundle = new Bundle { Type = Bundle.BundleType.Collection };
        foreach (var entry in unstored.Where(e => !(e.Resource is Observation o && PushPlanner.IsPhq9(o))).OrderBy(e => Order(e.Type)).ThenBy(e => e.Identifier.Value, StringComparer.Ordinal))
        {
            var copy = (DomainResource)entry.Resource.DeepCopy();
            copy.Text = null;
            foreach (var reference in FhirReferences.In(copy))
            {
                if (reference.Reference is { } url && byUrl.TryGetValue(url, out var target))
                {
                    reference.Reference = null;
                    reference.Type = target.Type;
                    reference.Identifier = (Identifier)target.Identifier.DeepCopy();
                }
            }
            bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = entry.FullUrl, Resource = copy });
        }
        return bundle;
    }

    public static PushEntry? For(TrdProtocol protocol, IReadOnlyList<PushEntry> entries, Identity identity, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        ArgumentNullException.ThrowIfNull(identity);
        var protocolId = protocol.Id;
        var unstored = entries.Where(e => e.NotWritable).ToList();
        if (unstored.Count == 0)
            return null;
        var lines = unstored
            .OrderBy(e => Order(e.Type)).ThenBy(e => e.Identifier.Value, StringComparer.Ordinal)
            .Select(e => $"{e.Type}: {Plain(e.Resource.Text?.Div) ?? e.Identifier.Value}")
            .ToList();
        var text = "TRD protocol — the parts of the plan this EHR does not store as structured data\n\n" + string.Join("\n", lines) + "\n";
        // The read-out the report shows (its validation section left out: the push validated the Bundle, not this page).
        var readout = ClinicalReadout.Read(protocol, time);
        var html = ReportHtml.Render(new ClinicalReport(protocol, readout, 0, []), validation: false);
        var identifier = identity.For("DocumentReference", protocolId, "plan-document");
        var subject = entries.SelectMany(e => FhirReferences.In(e.Resource)).FirstOrDefault(r => r.Reference?.StartsWith("Patient/", StringComparison.Ordinal) == true)?.Reference;
        var document = new DocumentReference
        {
            Identifier = [identifier],
            Status = DocumentReferenceStatus.Current,
            Type = new CodeableConcept(Codes.CarePlanKind, "protocol", "TRD protocol"),
            Subject = subject is null ? null : new ResourceReference(subject),
            Description = "TRD protocol: plan parts not stored as structured data on this server",
            Content =
            [
                new DocumentReference.ContentComponent { Attachment = new Attachment { ContentType = "text/plain; charset=utf-8", Data = Encoding.UTF8.GetBytes(text), Title = TextTitle } },
                new DocumentReference.ContentComponent { Attachment = new Attachment { ContentType = "text/html; charset=utf-8", Data = Encoding.UTF8.GetBytes(html), Title = HtmlTitle } },
                new DocumentReference.ContentComponent { Attachment = new Attachment { ContentType = FhirContentType, Data = Encoding.UTF8.GetBytes(FhirJson.Serialize(Structured(unstored, entries), pretty: false)), Title = FhirTitle } },
            ],
        };
        return new PushEntry(Identity.FullUrl(identifier), document, identifier, new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "DocumentReference" });
    }

    private static int Order(string type) => type switch
    {
        "CarePlan" => 0,
        "Goal" => 1,
        "CareTeam" => 2,
        "MedicationRequest" => 3,
        "MedicationStatement" => 4,
        _ => 5,
    };

    private static string? Plain(string? div) =>
        string.IsNullOrWhiteSpace(div) ? null : System.Net.WebUtility.HtmlDecode(Tags().Replace(div, " ")).Trim() is { Length: > 0 } t ? Whitespace().Replace(t, " ") : null;

    [GeneratedRegex("<[^>]+>")]
    private static partial Regex Tags();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
