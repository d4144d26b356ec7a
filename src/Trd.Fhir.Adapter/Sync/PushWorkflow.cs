using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>
/// Pushes one mapped protocol to one FHIR server, following its server profile (chosen or detected). Steps: find the
/// patient by identifier (never created; the Patient returned must carry that identifier); skip what the server does not
/// store ("not writable on this server", <see cref="PushPlanner"/>) and, where the profile says so, write those plan parts
/// as one DocumentReference (<see cref="PlanDocument"/>); look up what the server already holds with patient-scoped
/// searches carrying what the server requires, matching business identifiers on our side (<see cref="ScopedLookup"/>), and
/// compare — unchanged resources are not sent, changed ones updated; then hand the rest to Transport's
/// <see cref="PushSender"/>. A re-push creates nothing, with or without conditional create.
/// </summary>
public sealed class PushWorkflow(FhirServerConnection server, ILogger<PushWorkflow> logger)
{
    /// <summary>Forces a strategy (tests, <c>--strategy</c>); null lets the server's capabilities decide.</summary>
    public PushStrategy? ForcedStrategy { get; init; }

    /// <summary>The identity the Bundles were mapped with (<c>--identifier-base</c>): the plan document's business identifier
    /// and a re-mapped PHQ-9 are made with it.</summary>
    public Identity Identity { get; init; } = Identity.Default;

    /// <summary>The clock the plan document's clinical read-out is dated by.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary><c>--phq9-as</c>: the PHQ-9 write channel; null takes the server profile's (<c>phq9Channel</c>).</summary>
    public Phq9Channel? Phq9Override { get; init; }

    /// <summary>How PHQ-9 is written to this server: <see cref="Phq9Override"/>, else the server profile's channel (chosen or
    /// detected from the CapabilityStatement).</summary>
    public async System.Threading.Tasks.Task<Phq9Channel> Phq9ChannelAsync(CancellationToken cancellationToken) =>
        Channel(await server.ProfileAsync(cancellationToken));

    private Phq9Channel Channel(ServerProfile profile) => Phq9Override ?? ChannelOf(profile);

    /// <summary>The channel to map with before a push: <see cref="Phq9ChannelAsync"/>, or — when the server cannot be reached —
    /// <see cref="Phq9Override"/>, else Observations (the push then reports the failure). Mapping with the channel the push uses
    /// means what is validated, hashed in the ledger and sent is one and the same Bundle.</summary>
    public async System.Threading.Tasks.Task<Phq9Channel> Phq9ChannelForMappingAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await Phq9ChannelAsync(cancellationToken);
        }
        catch (Exception e) when (ServerAnswers.IsSendFailure(e, cancellationToken))
        {
            return Phq9Override ?? Phq9Channel.Observation;
        }
    }

    public static Phq9Channel ChannelOf(ServerProfile profile) =>
        profile.Phq9Channel == ServerProfile.Phq9QuestionnaireResponse ? Phq9Channel.QuestionnaireResponse : Phq9Channel.Observation;

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
        ServerProfile? profile = null;
        try
        {
            var capabilities = await server.CapabilitiesAsync(cancellationToken);
            profile = await server.ProfileAsync(cancellationToken);
            var patientId = await FindPatientAsync(protocol.Patient, cancellationToken);
            if (patientId is null)
            {
                PushEntry.Fail(entries, "the patient was not found on the server by its identifier (system " + protocol.Patient.System + "); Trd.Fhir never creates patients — register the patient in the EHR first", retryable: false);
                return Report(protocol, null, entries, notes, profile);
            }
            var channel = Channel(profile);
            PushPlanner.UsePhq9Channel(entries, protocol, Identity, channel);
            if (protocol.Phq9.Count > 0 && channel != Phq9Channel.Observation)
                notes.Add($"PHQ-9 written as {Phq9Channels.Name(channel)} ({(Phq9Override is null ? $"server profile '{profile.Name}'" : "--phq9-as")})");
            if (profile.Phq9Channel == ServerProfile.Phq9FlowsheetObservation && profile.Phq9Flowsheet is { } flowsheet && channel != Phq9Channel.QuestionnaireResponse
                && PushPlanner.FileOnFlowsheet(entries, flowsheet) is > 0 and var filed)
                notes.Add($"PHQ-9 written as flowsheet Observations: {filed} filed under the site's rows of server profile '{profile.Name}'");
            PushPlanner.RewritePatient(entries, patientId);
            PushPlanner.MarkNotWritable(entries, capabilities, profile, channel);
            if (profile.PlanDocument && PlanDocument.For(protocol, entries, Identity, Time) is { } document)
            {
                entries.Add(document);
                if (capabilities.Resources.Count > 0 && !capabilities.For("DocumentReference").Create)
                    document.SkipNotWritable("the server cannot create DocumentReference (no 'create' interaction in its CapabilityStatement)");
            }
            PushPlanner.ApplyConfirmed(entries.Where(e => e.State is null), confirmed); // the plan document too
            var lookup = new ScopedLookup(server, profile, capabilities);
            var serverCopies = await lookup.FindAsync(entries, patientId, cancellationToken);
            PushPlanner.DetachUnwritable(entries, notes);
            PushPlanner.ClassifyExisting(entries, serverCopies, capabilities);
            var sender = new PushSender(server, logger, profile)
            {
                // a create whose answer was lost may be on the server: look again before creating again (no conditional create)
                FindAgain = async (entry, ct) =>
                {
                    logger.LogWarning("Push of protocol {ProtocolId}: the answer to a {ResourceType} create was lost; looking it up again before another create", protocol.Id, entry.Type);
                    await lookup.FindAsync([entry], patientId, ct);
                },
            };
            used = await sender.SendAsync(entries, capabilities, ForcedStrategy, notes, cancellationToken);
        }
        catch (Exception e) when (ServerAnswers.IsSendFailure(e, cancellationToken))
        {
            PushEntry.Fail(entries.Where(i => i.State is null), ServerAnswers.Describe(e), ServerAnswers.IsTransient(e));
            logger.LogError("Push of protocol {ProtocolId} failed: {ErrorType}", protocol.Id, e.GetType().Name);
            if (ServerAnswers.CircuitOpenFor(e) is { } wait)
                return Report(protocol, used, entries, notes, profile) with { CircuitOpenFor = wait };
        }
        return Report(protocol, used, entries, notes, profile);
    }

    private PushReport Report(TrdProtocol protocol, PushStrategy? strategy, List<PushEntry> entries, List<string> notes, ServerProfile? profile)
    {
        var report = new PushReport(protocol.Id, strategy, entries.Select(i => new PushOutcome(i.Type, i.Identifier.Value!, PushPlanner.StateOf(i), i.ServerId, i.Reason ?? (i.State is null ? "not sent" : null), i.ServerVersion, i.State is null || i.Retryable) { NotWritable = i.NotWritable }).ToArray(), notes)
        {
            ServerProfile = profile is null ? null : $"{profile.Name} ({profile.Reason})",
        };
        logger.LogInformation("Push of protocol {ProtocolId} done: profile {Profile}, strategy {Strategy}, created {Created}, updated {Updated}, unchanged {Unchanged}, failed {Failed}, skipped {Skipped} ({NotWritable} not writable on this server)",
            protocol.Id, profile?.Name, strategy, report.Count(PushState.Created), report.Count(PushState.Updated), report.Count(PushState.Unchanged), report.Count(PushState.Failed), report.Count(PushState.Skipped), report.NotWritable);
        return report;
    }

    private async System.Threading.Tasks.Task<string?> FindPatientAsync(PatientRef patient, CancellationToken cancellationToken)
    {
        var found = await server.SearchAllAsync("Patient", new SearchParams().Add("identifier", $"{patient.System}|{patient.Value}"), cancellationToken, maxPages: 1);
        var patients = found.Select(f => f.Resource).OfType<Patient>().ToList();
        if (patients.Count > 0 && patients.All(p => !RightPatient.Carries(p, patient.System, patient.Value)))
            throw new FhirTransportException($"the server answered the patient search with a Patient that does not carry the identifier asked for (system {patient.System}); nothing was pushed — check the server's patient search");
        var ids = patients.Where(p => RightPatient.Carries(p, patient.System, patient.Value)).Select(p => p.Id).Where(id => id is not null).Distinct().ToArray();
        if (ids.Length > 1)
            throw new FhirTransportException($"{ids.Length} patients on the server share the identifier (system {patient.System}); resolve the duplicate in the EHR first");
        return ids.FirstOrDefault();
    }
}
