using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>
/// Pushes one mapped protocol to one FHIR server. Steps: find the patient by identifier (never created); drop what the
/// server cannot write (per its CapabilityStatement, reported per resource); look up what the server already holds by
/// business identifier and compare — unchanged resources are not sent, changed ones are updated, new ones created with
/// If-None-Exist (<see cref="PushPlanner"/>); then hand the rest to Transport's <see cref="PushSender"/> (transaction →
/// batch in dependency order → one request per resource, falling back when the server refuses).
/// </summary>
public sealed class PushWorkflow(FhirServerConnection server, ILogger<PushWorkflow> logger)
{
    private const int IdentifierSearchChunk = 20;

    /// <summary>Forces a strategy (tests, <c>--strategy</c>); null lets the server's capabilities decide.</summary>
    public PushStrategy? ForcedStrategy { get; init; }

    public System.Threading.Tasks.Task<PushReport> PushAsync(TrdProtocol protocol, Bundle bundle, CancellationToken cancellationToken) =>
        PushAsync(protocol, bundle, confirmed: null, cancellationToken);

    /// <summary>
    /// As <see cref="PushAsync(TrdProtocol, Bundle, CancellationToken)"/>; resources in <paramref name="confirmed"/> (keyed by
    /// <c>system|value</c> of their business identifier) are known to be on the server with exactly this content (the sync
    /// ledger confirmed them with the same content hash): they are neither looked up nor sent, reported Unchanged, and
    /// references to them point at their known server id.
    /// </summary>
    public async System.Threading.Tasks.Task<PushReport> PushAsync(TrdProtocol protocol, Bundle bundle, IReadOnlyDictionary<string, ConfirmedResource>? confirmed, CancellationToken cancellationToken)
    {
        using var waits = Transport.Resilience.TransportWaits.Record(); // this push's waits, for its report
        var report = await PushCoreAsync(protocol, bundle, confirmed, cancellationToken);
        return report with { Waits = waits.Summary() };
    }

    private async System.Threading.Tasks.Task<PushReport> PushCoreAsync(TrdProtocol protocol, Bundle bundle, IReadOnlyDictionary<string, ConfirmedResource>? confirmed, CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        var entries = PushPlanner.Entries(bundle);
        PushPlanner.ApplyConfirmed(entries, confirmed);
        logger.LogInformation("Push of protocol {ProtocolId}: {Resources} resources to {Server}", protocol.Id, entries.Count, server.BaseUrl.Host);

        PushStrategy? used = null;
        try
        {
            var capabilities = await server.CapabilitiesAsync(cancellationToken);
            var patientId = await FindPatientAsync(protocol.Patient, cancellationToken);
            if (patientId is null)
            {
                PushEntry.Fail(entries, "the patient was not found on the server by its identifier (system " + protocol.Patient.System + "); Trd.Fhir never creates patients — register the patient in the EHR first", retryable: false);
                return Report(protocol, null, entries, notes);
            }
            PushPlanner.RewritePatient(entries, patientId);
            PushPlanner.MarkNotWritable(entries, capabilities);
            var serverCopies = await LookUpExistingAsync(entries, capabilities, cancellationToken);
            PushPlanner.DetachUnwritable(entries, notes);
            PushPlanner.ClassifyExisting(entries, serverCopies, capabilities);
            used = await new PushSender(server, logger).SendAsync(entries, capabilities, ForcedStrategy, notes, cancellationToken);
        }
        catch (Exception e) when (ServerAnswers.IsSendFailure(e, cancellationToken))
        {
            PushEntry.Fail(entries.Where(i => i.State is null), ServerAnswers.Describe(e), ServerAnswers.IsTransient(e));
            logger.LogError("Push of protocol {ProtocolId} failed: {ErrorType}", protocol.Id, e.GetType().Name);
            if (ServerAnswers.CircuitOpenFor(e) is { } wait)
                return Report(protocol, used, entries, notes) with { CircuitOpenFor = wait };
        }
        return Report(protocol, used, entries, notes);
    }

    private PushReport Report(TrdProtocol protocol, PushStrategy? strategy, List<PushEntry> entries, List<string> notes)
    {
        var report = new PushReport(protocol.Id, strategy, entries.Select(i => new PushOutcome(i.Type, i.Identifier.Value!, PushPlanner.StateOf(i), i.ServerId, i.Reason ?? (i.State is null ? "not sent" : null), i.ServerVersion, i.State is null || i.Retryable)).ToArray(), notes);
        logger.LogInformation("Push of protocol {ProtocolId} done: strategy {Strategy}, created {Created}, updated {Updated}, unchanged {Unchanged}, failed {Failed}, skipped {Skipped}",
            protocol.Id, strategy, report.Count(PushState.Created), report.Count(PushState.Updated), report.Count(PushState.Unchanged), report.Count(PushState.Failed), report.Count(PushState.Skipped));
        return report;
    }

    private async System.Threading.Tasks.Task<string?> FindPatientAsync(PatientRef patient, CancellationToken cancellationToken)
    {
        var found = await server.SearchAllAsync("Patient", new SearchParams().Add("identifier", $"{patient.System}|{patient.Value}"), cancellationToken, maxPages: 1);
        var ids = found.Select(f => f.Resource.Id).Where(id => id is not null).Distinct().ToArray();
        if (ids.Length > 1)
            throw new FhirTransportException($"{ids.Length} patients on the server share the identifier (system {patient.System}); resolve the duplicate in the EHR first");
        return ids.FirstOrDefault();
    }

    private async System.Threading.Tasks.Task<Dictionary<PushEntry, Resource>> LookUpExistingAsync(List<PushEntry> entries, ServerCapabilities capabilities, CancellationToken cancellationToken)
    {
        var copies = new Dictionary<PushEntry, Resource>();
        foreach (var group in entries.Where(i => i.State is null).GroupBy(i => i.Type))
        {
            if (capabilities.Resources.Count > 0 && !capabilities.For(group.Key).Search)
                continue; // cannot look: rely on If-None-Exist
            foreach (var chunk in group.Chunk(IdentifierSearchChunk))
            {
                var query = new SearchParams().Add("identifier", string.Join(",", chunk.Select(i => PushPlanner.Key(i.Identifier))));
                query.Count = 100;
                var found = await server.SearchAllAsync(group.Key, query, cancellationToken);
                foreach (var (resource, _) in found)
                {
                    var identifiers = Identity.IdentifiersOf(resource);
                    var match = chunk.FirstOrDefault(i => identifiers.Any(x => x.System == i.Identifier.System && x.Value == i.Identifier.Value));
                    if (match is null)
                        continue;
                    if (match.ServerId is not null && match.ServerId != resource.Id)
                    {
                        match.Fail($"{group.Key} with this business identifier exists twice on the server ({match.ServerId}, {resource.Id}); resolve the duplicate first", retryable: false);
                        continue;
                    }
                    match.ServerId = resource.Id;
                    match.ServerVersion = resource.Meta?.VersionId;
                    copies[match] = resource;
                }
            }
        }
        return copies;
    }
}
