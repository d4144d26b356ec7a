using System.Text;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Transport.Push;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>
/// The part of the plan a read-mostly EHR cannot store (CarePlan, Goal, CareTeam, MedicationRequest… as the server profile
/// says), written as one DocumentReference so clinicians see it in the chart: a plain-text read-out of each resource not
/// written (from its narrative) and the same as HTML. Its type is the project's own code (trd-careplan-kind#protocol):
/// terminology.md confirms no LOINC note type for it. Idempotent like every pushed resource: a business identifier per
/// protocol, looked up before it is created.
/// </summary>
public static partial class PlanDocument
{
    public static PushEntry? For(string protocolId, IReadOnlyList<PushEntry> entries, Identity identity)
    {
        var unstored = entries.Where(e => e.NotWritable).ToList();
        if (unstored.Count == 0)
            return null;
        var lines = unstored
            .OrderBy(e => Order(e.Type)).ThenBy(e => e.Identifier.Value, StringComparer.Ordinal)
            .Select(e => $"{e.Type}: {Plain(e.Resource.Text?.Div) ?? e.Identifier.Value}")
            .ToList();
        var text = "TRD protocol — the parts of the plan this EHR does not store as structured data\n\n" + string.Join("\n", lines) + "\n";
        var html = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>TRD protocol</title></head><body><h1>TRD protocol</h1><ul>"
            + string.Concat(lines.Select(l => "<li>" + System.Net.WebUtility.HtmlEncode(l) + "</li>")) + "</ul></body></html>";
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
                new DocumentReference.ContentComponent { Attachment = new Attachment { ContentType = "text/plain; charset=utf-8", Data = Encoding.UTF8.GetBytes(text), Title = "TRD protocol (text)" } },
                new DocumentReference.ContentComponent { Attachment = new Attachment { ContentType = "text/html; charset=utf-8", Data = Encoding.UTF8.GetBytes(html), Title = "TRD protocol (HTML)" } },
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
