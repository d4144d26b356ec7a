using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Sync;

public sealed record PullResult(ReverseResult Result, int ResourcesRead, IReadOnlyList<string> Notes);

/// <summary>
/// Pulls one patient's TRD data from a FHIR server: finds the patient by identifier, searches every resource kind of
/// the protocol by patient (following <c>next</c> links; PHQ-9 Observations by LOINC code, as Epic requires a code or
/// category), optionally only what changed since an instant (<c>_lastUpdated</c>), and rebuilds the protocol with the
/// tolerant reader. Kinds the server cannot search are reported, not silently missing.
/// </summary>
public sealed class PullWorkflow(FhirServerConnection server, FhirToProtocol reader, ILogger<PullWorkflow> logger)
{
    public static readonly IReadOnlyList<string> ResourceTypes =
        ["CarePlan", "Condition", "Goal", "CareTeam", "MedicationRequest", "MedicationStatement", "ServiceRequest", "Procedure", "Observation", "QuestionnaireResponse"];

    private static readonly string Phq9Codes = string.Join(",",
        new[] { Codes.Phq9Panel, Codes.Phq9Total, Codes.Phq9DifficultyItem }.Concat(Codes.Phq9Items.Select(i => i.Code)).Select(c => $"{Codes.Loinc}|{c}"));

    public async Task<PullResult> PullAsync(string system, string value, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        var capabilities = await server.CapabilitiesAsync(cancellationToken);
        var patients = await server.SearchAllAsync("Patient", new SearchParams().Add("identifier", $"{system}|{value}"), cancellationToken, maxPages: 1);
        if (patients.Count != 1)
        {
            var problem = new Problem(ProblemSeverity.Error, ProblemCode.UnknownReference, "Patient",
                patients.Count == 0 ? $"no patient on the server has this identifier (system {system})" : $"{patients.Count} patients on the server share this identifier (system {system})",
                patients.Count == 0 ? "check the identifier system and value" : "resolve the duplicate in the EHR");
            return new PullResult(new ReverseResult(null, [problem]), 0, notes);
        }
        var (patient, patientUrl) = patients[0];
        var resources = new List<SourcedResource> { new(patient, $"Patient/{patient.Id}", patientUrl) };

        foreach (var type in ResourceTypes)
        {
            if (capabilities.Resources.Count > 0 && !capabilities.For(type).Search)
            {
                notes.Add($"{type}: the server cannot search it (CapabilityStatement); not pulled");
                continue;
            }
            var query = new SearchParams().Add("patient", $"Patient/{patient.Id}");
            query.Count = 100;
            if (type == "Observation")
                query.Add("code", Phq9Codes);
            if (since is { } instant)
                query.Add("_lastUpdated", "ge" + instant.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
            var found = await server.SearchAllAsync(type, query, cancellationToken);
            resources.AddRange(found.Where(f => f.Resource.TypeName == type)
                .Select(f => new SourcedResource(f.Resource, $"{type}/{f.Resource.Id}", f.FullUrl)));
            logger.LogInformation("Pulled {Count} {ResourceType} resources", found.Count, type);
        }
        var result = reader.Read(resources);
        return new PullResult(result, resources.Count, notes);
    }
}
