using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Sync;

public sealed record PullResult(ReverseResult Result, int ResourcesRead, IReadOnlyList<string> Notes);

/// <summary>
/// Pulls one patient's TRD data from a FHIR server, following its server profile: finds the patient by identifier — the
/// Patient returned must carry that identifier, or nothing is pulled —; searches every resource kind of the protocol scoped
/// by the patient with what the server requires (PHQ-9 Observations by LOINC code; CarePlan by category where required),
/// following <c>next</c> links, optionally only what changed since an instant (<c>_lastUpdated</c>); keeps only resources
/// that reference that patient; rebuilds the protocol with the tolerant reader. Every kind it could not read, and every
/// resource it left out, is listed in the notes.
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
        var profile = await server.ProfileAsync(cancellationToken);
        notes.Add($"server profile: {profile.Name} ({profile.Reason})");
        var patients = await server.SearchAllAsync("Patient", new SearchParams().Add("identifier", $"{system}|{value}"), cancellationToken, maxPages: 1);
        var right = patients.Where(p => p.Resource is Patient patient && RightPatient.Carries(patient, system, value)).ToList();
        if (patients.Count > 0 && right.Count == 0)
        {
            logger.LogError("Pull stopped: the server returned a Patient without the identifier asked for");
            return Stop($"the server answered the search for this identifier (system {system}) with a Patient that does not carry it; nothing was pulled — the server's patient search cannot be trusted for this identifier",
                "check the identifier system and the server's Patient search (it must match system and value)", notes);
        }
        if (right.Count != 1)
        {
            return Stop(right.Count == 0 ? $"no patient on the server has this identifier (system {system})" : $"{right.Count} patients on the server share this identifier (system {system})",
                right.Count == 0 ? "check the identifier system and value" : "resolve the duplicate in the EHR", notes);
        }
        var (patientResource, patientUrl) = right[0];
        var patientId = patientResource.Id!;
        var resources = new List<SourcedResource> { new(patientResource, $"Patient/{patientId}", patientUrl) };

        foreach (var type in ResourceTypes)
        {
            if (capabilities.Resources.Count > 0 && !capabilities.For(type).Search)
            {
                notes.Add($"{type}: the server cannot search it (CapabilityStatement); not pulled");
                continue;
            }
            var query = new SearchParams().Add(profile.PatientParameter, $"Patient/{patientId}");
            query.Count = 100;
            if (type == "Observation")
                query.Add("code", Phq9Codes);
            if (since is { } instant)
                query.Add("_lastUpdated", "ge" + instant.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
            var missing = profile.Complete(type, query);
            if (missing.Count > 0)
            {
                notes.Add($"{type}: not pulled — server profile '{profile.Name}' says the server requires {string.Join(" and ", missing)} and gives no value");
                continue;
            }
            List<(Resource Resource, string? FullUrl)> found;
            try
            {
                found = await server.SearchAllAsync(type, query, cancellationToken);
            }
            catch (FhirOperationException e) when ((int)e.Status is >= 400 and < 500 && e.Status != HttpStatusCode.TooManyRequests)
            {
                ServerAnswers.ThrowIfStop(e, profile);
                notes.Add($"{type}: not pulled — the server refused {SearchShape.Of(type, query)} ({(int)e.Status}: {ServerAnswers.OutcomeText(e.Outcome) ?? e.Message})");
                logger.LogWarning("Pull search refused: {Search} answered {Status}", SearchShape.Of(type, query), (int)e.Status);
                continue;
            }
            var ofType = found.Where(f => f.Resource.TypeName == type).ToList();
            var foreign = ofType.Where(f => !RightPatient.References(f.Resource, patientId)).ToList();
            foreach (var (resource, _) in foreign)
                notes.Add($"{type}/{resource.Id}: left out — it does not reference the patient asked for");
            resources.AddRange(ofType.Except(foreign).Select(f => new SourcedResource(f.Resource, $"{type}/{f.Resource.Id}", f.FullUrl)));
            logger.LogInformation("Pulled {Count} {ResourceType} resources ({Foreign} left out: another patient)", ofType.Count - foreign.Count, type, foreign.Count);
        }
        if (profile.PlanDocument && !(capabilities.Resources.Count > 0 && !capabilities.For("DocumentReference").Search))
            resources.AddRange(await PlanDocumentsAsync(profile, patientId, notes, cancellationToken));
        var result = reader.Read(resources);
        return new PullResult(result, resources.Count, notes);
    }

    /// <summary>
    /// A read-mostly EHR (the profile's <c>planDocument</c>) holds the plan parts it cannot store — CarePlans, Goals,
    /// CareTeam, MedicationRequests — only in the plan DocumentReference a push wrote: its FHIR attachment is read back
    /// (with the Firely parser), so the phases, their interventions and the sessions based on them are rebuilt. What it holds
    /// is as of the last push; listed in the notes.
    /// </summary>
    private async Task<List<SourcedResource>> PlanDocumentsAsync(ServerProfile profile, string patientId, List<string> notes, CancellationToken cancellationToken)
    {
        var read = new List<SourcedResource>();
        var query = new SearchParams().Add(profile.PatientParameter, $"Patient/{patientId}");
        query.Count = 100;
        List<(Resource Resource, string? FullUrl)> found;
        try
        {
            found = await server.SearchAllAsync("DocumentReference", query, cancellationToken);
        }
        catch (FhirOperationException e) when ((int)e.Status is >= 400 and < 500 && e.Status != HttpStatusCode.TooManyRequests)
        {
            notes.Add($"DocumentReference: not pulled — the server refused {SearchShape.Of("DocumentReference", query)} ({(int)e.Status}); the plan parts this server does not store were not read");
            return read;
        }
        foreach (var (resource, _) in found)
        {
            if (resource is not DocumentReference document || !RightPatient.References(document, patientId)
                || !document.Type?.Coding.Any(c => c.System == Codes.CarePlanKind && c.Code == "protocol") == true)
                continue;
            for (var i = 0; i < document.Content.Count; i++)
            {
                if (document.Content[i].Attachment is not { ContentType: PlanDocument.FhirContentType, Data: { } data })
                    continue;
                if (FhirJson.Parse(data, out _) is not Bundle bundle)
                {
                    notes.Add($"DocumentReference/{document.Id}: its FHIR attachment could not be read; the plan parts it holds were not read");
                    continue;
                }
                var at = $"DocumentReference/{document.Id}.content[{i}]";
                var parts = FhirToProtocol.Entries(bundle).Select(e => e with { Location = $"{at} {e.Location}" })
                    .Where(e => RightPatient.References(e.Resource, patientId)).ToList();
                read.AddRange(parts);
                notes.Add($"{string.Join(", ", parts.GroupBy(p => p.Resource.TypeName).Select(g => $"{g.Key} {g.Count()}"))}: not stored on this server as such — read from the plan DocumentReference/{document.Id} (as of its last push)");
            }
        }
        if (read.Count == 0)
            notes.Add("no plan DocumentReference written by Trd.Fhir on this server: without CarePlans the phases cannot be rebuilt, and the ServiceRequests and Procedures that belong to them are listed as left out");
        logger.LogInformation("Pulled {Count} plan resources from plan documents", read.Count);
        return read;
    }

    private static PullResult Stop(string message, string fix, List<string> notes) =>
        new(new ReverseResult(null, [new Problem(ProblemSeverity.Error, ProblemCode.UnknownReference, "Patient", message, fix)]), 0, notes);
}
