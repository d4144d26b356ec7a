using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Trd.Fhir.Adapter.Bulk;

public enum ExportLevel { System, Patient, Group }

/// <summary>
/// One Bulk Data export as asked for: system level (<c>[base]/$export</c>), all patients (<c>Patient/$export</c>), one
/// Group (<c>Group/[id]/$export</c>) or a list of patients (<c>Patient/$export</c> POSTed with <c>patient</c> parameters);
/// optionally only resources changed after <see cref="Since"/> and only the <see cref="Types"/> named.
/// </summary>
public sealed record BulkExportRequest(ExportLevel Level, string? GroupId, IReadOnlyList<string> PatientIds, DateTimeOffset? Since, IReadOnlyList<string> Types)
{
    /// <summary>The kick-off path relative to the base URL.</summary>
    public string Path => Level switch
    {
        ExportLevel.Group => $"Group/{Uri.EscapeDataString(GroupId!)}/$export",
        ExportLevel.Patient => "Patient/$export",
        _ => "$export",
    };

    /// <summary>Patients named one by one go in a POSTed Parameters body (the spec allows <c>patient</c> only there).</summary>
    public bool UsesPost => PatientIds.Count > 0;

    public string SinceText => Since is { } s ? s.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) : "";

    /// <summary>The GET kick-off: path and query (<c>_outputFormat</c>, <c>_since</c>, <c>_type</c>).</summary>
    public string KickOffUrl()
    {
        var query = new List<string> { "_outputFormat=" + Uri.EscapeDataString("application/fhir+ndjson") };
        if (!UsesPost && Since is not null)
            query.Add("_since=" + Uri.EscapeDataString(SinceText));
        if (!UsesPost && Types.Count > 0)
            query.Add("_type=" + Uri.EscapeDataString(string.Join(',', Types)));
        return Path + "?" + string.Join('&', query);
    }

    /// <summary>The POST kick-off body: a FHIR Parameters resource (serialized by the Firely SDK).</summary>
    public Hl7.Fhir.Model.Parameters KickOffParameters()
    {
        var parameters = new Hl7.Fhir.Model.Parameters();
        if (Since is not null)
            parameters.Add("_since", new Hl7.Fhir.Model.Instant(Since));
        if (Types.Count > 0)
            parameters.Add("_type", new Hl7.Fhir.Model.FhirString(string.Join(',', Types)));
        foreach (var id in PatientIds)
            parameters.Add("patient", new Hl7.Fhir.Model.ResourceReference($"Patient/{id}"));
        return parameters;
    }

    /// <summary>A stable text that says which export this is (kept in the state file: a resumed run must ask the same).</summary>
    public string Key() => JsonSerializer.Serialize(new JsonObject
    {
        ["level"] = Level.ToString(),
        ["group"] = GroupId,
        ["patients"] = new JsonArray(PatientIds.Select(p => (JsonNode?)p).ToArray()),
        ["since"] = SinceText,
        ["types"] = new JsonArray(Types.Select(t => (JsonNode?)t).ToArray()),
    });

    /// <summary>Patient ids from a file: one per line, as <c>id</c> or <c>Patient/id</c>; blank lines and <c>#</c> comments skipped.
    /// Problems name the line.</summary>
    public static (List<string> Ids, List<string> Problems) ReadPatientsFile(string path)
    {
        var ids = new List<string>();
        var problems = new List<string>();
        var lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var id = line.StartsWith("Patient/", StringComparison.Ordinal) ? line["Patient/".Length..] : line;
            if (!System.Text.RegularExpressions.Regex.IsMatch(id, "^[A-Za-z0-9\\-\\.]{1,64}$"))
                problems.Add($"{path}:{lineNumber}: '{Clip(line)}' is not a patient id (fix: one FHIR id or Patient/id per line)");
            else
                ids.Add(id);
        }
        if (ids.Count == 0 && problems.Count == 0)
            problems.Add($"{path}: no patient ids (fix: one FHIR id or Patient/id per line)");
        return (ids, problems);
    }

    private static string Clip(string text) => text.Length > 40 ? text[..40] + "…" : text;
}
