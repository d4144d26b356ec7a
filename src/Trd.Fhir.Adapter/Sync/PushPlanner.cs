using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>
/// The pure part of a push (no I/O): turn a mapped Bundle into entries, point them at the server's patient, drop what the
/// server cannot write, keep references to dropped resources as logical references, and decide per resource found on the
/// server whether it is unchanged (not sent) or changed (sent as an update). What is left without a state is sent.
/// </summary>
public static class PushPlanner
{
    public static List<PushEntry> Entries(Bundle bundle) =>
        bundle.Entry.Select(e => new PushEntry(e.FullUrl!, (DomainResource)e.Resource!, IdentifierOf(e.Resource!), e.Request!)).ToList();

    public static Identifier IdentifierOf(Resource resource) =>
        Identity.IdentifiersOf(resource).FirstOrDefault() ?? throw new InvalidOperationException($"{resource.TypeName} carries no business identifier");

    public static string Key(Identifier identifier) => $"{identifier.System}|{identifier.Value}";

    /// <summary>Resources the sync ledger confirmed with this exact content: not looked up, not sent, reported Unchanged.</summary>
    public static void ApplyConfirmed(IEnumerable<PushEntry> entries, IReadOnlyDictionary<string, ConfirmedResource>? confirmed)
    {
        if (confirmed is null)
            return;
        foreach (var entry in entries)
        {
            if (confirmed.TryGetValue(Key(entry.Identifier), out var known))
            {
                entry.ServerId = known.ServerId;
                entry.ServerVersion = known.ServerVersion;
                entry.Done(EntryState.Unchanged);
            }
        }
    }

    public static void RewritePatient(IEnumerable<PushEntry> entries, string patientId)
    {
        foreach (var entry in entries)
        {
            foreach (var reference in FhirReferences.In(entry.Resource).Where(r => r.Reference?.StartsWith("Patient", StringComparison.Ordinal) == true))
                reference.Reference = $"Patient/{patientId}";
        }
    }

    /// <summary>
    /// Makes the push carry PHQ-9 through <paramref name="channel"/>: when the Bundle was mapped with another channel (the
    /// ledger and callers that map before the server is known map with Observations), its PHQ-9 entries — Observations and
    /// PHQ-9 QuestionnaireResponses — are replaced by those of the same protocol mapped with <paramref name="channel"/>
    /// (same identity, so the same business identifiers as a direct mapping). Nothing else references PHQ-9 entries.
    /// </summary>
    public static void UsePhq9Channel(List<PushEntry> entries, TrdProtocol protocol, Identity identity, Phq9Channel channel)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var observations = entries.Any(e => e.Resource is Observation o && IsPhq9(o));
        var responses = entries.Any(e => IsPhq9Response(e.Resource));
        if (!observations && !responses)
            return;
        var current = observations && responses ? Phq9Channel.Both : observations ? Phq9Channel.Observation : Phq9Channel.QuestionnaireResponse;
        if (current == channel)
            return;
        entries.RemoveAll(IsPhq9Entry);
        entries.AddRange(Entries(new ProtocolToFhir(identity, channel).Map(protocol)).Where(IsPhq9Entry));
    }

    private static bool IsPhq9Entry(PushEntry entry) => entry.Resource is Observation o ? IsPhq9(o) : IsPhq9Response(entry.Resource);

    private static bool IsPhq9Response(Resource resource) =>
        resource is QuestionnaireResponse qr && Phq9QuestionnaireResponse.IsPhq9(qr, Phq9QuestionnaireResponse.Flatten(qr.Item).Select(i => i.Item.LinkId));

    /// <summary>Kinds the server does not store are skipped as "not writable on this server" (reported, not a failure):
    /// the profile's writable list first, then the CapabilityStatement; PHQ-9 Observations when the PHQ-9 channel
    /// (<paramref name="channel"/>, else the profile's) does not include Observations.</summary>
    public static void MarkNotWritable(IEnumerable<PushEntry> entries, ServerCapabilities capabilities, ServerProfile? profile = null, Phq9Channel? channel = null)
    {
        var observationsWanted = channel is { } c ? c != Phq9Channel.QuestionnaireResponse : profile?.Phq9Channel != ServerProfile.Phq9QuestionnaireResponse;
        var flowsheet = profile?.Phq9Channel == ServerProfile.Phq9FlowsheetObservation ? profile.Phq9Flowsheet : null;
        foreach (var entry in entries.Where(e => e.State is null))
        {
            if (profile is not null && entry.Resource is Observation observation && IsPhq9(observation) && !observationsWanted)
                entry.SkipNotWritable($"not writable on this server: server profile '{profile.Name}' writes PHQ-9 as {profile.Phq9Channel}, not as Observations");
            else if (profile is not null && !profile.AllowsWrite(entry.Type) && !(flowsheet is not null && entry.Resource is Observation filed && OnFlowsheet(filed, flowsheet)))
                entry.SkipNotWritable($"not writable on this server: server profile '{profile.Name}' does not write {entry.Type}");
            else if (capabilities.Resources.Count > 0 && !capabilities.For(entry.Type).Create)
                entry.SkipNotWritable($"the server cannot create {entry.Type} (no 'create' interaction in its CapabilityStatement)");
            // a server that declares nothing: try, and report what it refuses
        }
    }

    /// <summary>
    /// The site-configured flowsheet channel (profile <c>phq9Channel: flowsheet-observation</c>): each PHQ-9 total — and each
    /// item when the site lists item rows — also carries its flowsheet row as a coding, so an EHR that files screening scores
    /// in flowsheets (Epic's Observation.Create) accepts it; those Observations are then written even where the profile does
    /// not list Observation as writable. Panels and rows the site did not configure stay as they are (not writable there).
    /// </summary>
    public static int FileOnFlowsheet(IEnumerable<PushEntry> entries, Phq9Flowsheet flowsheet)
    {
        ArgumentNullException.ThrowIfNull(flowsheet);
        var filed = 0;
        foreach (var observation in entries.Select(e => e.Resource).OfType<Observation>().Where(IsPhq9))
        {
            var loinc = observation.Code.Coding.Where(c => c.System == Codes.Loinc).Select(c => c.Code).ToList();
            var item = Enumerable.Range(0, Codes.Phq9Items.Count).FirstOrDefault(i => loinc.Contains(Codes.Phq9Items[i].Code), -1);
            var row = loinc.Contains(Codes.Phq9Total) ? flowsheet.Total : item >= 0 && flowsheet.Items is { } items ? items[item] : null;
            if (row is null || observation.Code.Coding.Any(c => c.System == flowsheet.System && c.Code == row))
                continue;
            observation.Code.Coding.Add(new Coding(flowsheet.System, row));
            filed++;
        }
        return filed;
    }

    private static bool OnFlowsheet(Observation observation, Phq9Flowsheet flowsheet) =>
        IsPhq9(observation) && observation.Code.Coding.Any(c => c.System == flowsheet.System);

    public static bool IsPhq9(Observation observation) =>
        observation.Code?.Coding.Any(c => c.System == Codes.Loinc && (c.Code is Codes.Phq9Panel or Codes.Phq9Total or Codes.Phq9DifficultyItem || Codes.Phq9Items.Any(i => i.Code == c.Code))) == true;

    /// <summary>References to resources the server cannot hold become logical references (identifier only), and say so.</summary>
    public static void DetachUnwritable(IReadOnlyList<PushEntry> entries, List<string> notes)
    {
        var byUrl = entries.ToDictionary(e => e.FullUrl, StringComparer.Ordinal);
        var detached = 0;
        foreach (var entry in entries.Where(e => e.State is null))
        {
            foreach (var reference in FhirReferences.In(entry.Resource))
            {
                if (reference.Reference is { } url && byUrl.TryGetValue(url, out var target) && target.State == EntryState.Skipped)
                {
                    reference.Reference = null;
                    reference.Identifier = (Identifier)target.Identifier.DeepCopy();
                    reference.Type = target.Type;
                    detached++;
                }
            }
        }
        if (detached > 0)
            notes.Add($"{detached} references to resources this server cannot store were kept as logical references (identifier only)");
    }

    /// <summary>Entries found on the server (<paramref name="serverCopies"/>): unchanged ones are done, changed ones become updates
    /// (conditional on the identifier where the server supports it, else by id and version).</summary>
    public static void ClassifyExisting(IReadOnlyList<PushEntry> entries, IReadOnlyDictionary<PushEntry, Resource> serverCopies, ServerCapabilities capabilities)
    {
        FhirReferences.RewriteToServerIds(entries, entries.ToDictionary(e => e.FullUrl, StringComparer.Ordinal));
        foreach (var entry in entries.Where(e => e.State is null && e.Exists))
        {
            if (serverCopies.TryGetValue(entry, out var copy) && Comparable(entry.Resource) == Comparable(copy))
            {
                entry.Done(EntryState.Unchanged);
                continue;
            }
            if (capabilities.Resources.Count > 0 && !capabilities.For(entry.Type).Update)
            {
                entry.Skip($"changed, but the server cannot update {entry.Type} (no 'update' interaction in its CapabilityStatement)");
                continue;
            }
            entry.Request = capabilities.For(entry.Type).ConditionalUpdate || capabilities.Resources.Count == 0
                ? new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{entry.Type}?{Identity.IdentifierQuery(entry.Identifier.System!, entry.Identifier.Value!)}" }
                : new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = entry.Local };
        }
    }

    /// <summary>A resource's content as it matters for "has it changed": without id, meta and narrative.</summary>
    public static string Comparable(Resource resource)
    {
        var copy = (Resource)resource.DeepCopy();
        copy.Id = null;
        copy.Meta = null;
        if (copy is DomainResource domain)
            domain.Text = null;
        return FhirJson.Serialize(copy, pretty: false);
    }

    public static PushState StateOf(PushEntry entry) => entry.State switch
    {
        EntryState.Created => PushState.Created,
        EntryState.Updated => PushState.Updated,
        EntryState.Unchanged => PushState.Unchanged,
        EntryState.Skipped => PushState.Skipped,
        _ => PushState.Failed,
    };
}
