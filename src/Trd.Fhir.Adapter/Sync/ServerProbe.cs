using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>The probe's answer (CLI <c>probe --format json</c> and API <c>GET /servers/probe</c>): what the server can store
/// and read of the protocol's resource kinds, and the push strategy it gets — one shape for both surfaces.</summary>
public static class ServerProbe
{
    /// <summary>Whether a push writes this kind to this server: its profile allows it and (when it declares kinds) its CapabilityStatement has create.</summary>
    public static bool Pushable(string type, ResourceCapabilities caps, ServerCapabilities capabilities, ServerProfile? profile) =>
        (profile?.AllowsWrite(type) ?? true) && (capabilities.Resources.Count == 0 || caps.Create)
        && !(type == "Observation" && profile is not null && profile.Phq9Channel != ServerProfile.Phq9Observation && profile.Writable is not null);

    /// <summary>What of a kind that is not <see cref="Pushable"/> is still written: on the site flowsheet channel, the PHQ-9
    /// Observations filed under the site's rows (<see cref="PushPlanner.FileOnFlowsheet"/>); null when nothing is.</summary>
    public static string? PushedAnyway(string type, ServerProfile? profile) =>
        type == "Observation" && profile is { Phq9Channel: ServerProfile.Phq9FlowsheetObservation, Phq9Flowsheet: { } rows }
            ? $"PHQ-9 {(rows.Items is null ? "totals" : "totals and items")} filed under the site's flowsheet rows ({rows.System})"
            : null;

    public static IReadOnlyDictionary<string, object?> Describe(Uri server, ServerCapabilities capabilities, IEnumerable<(string Check, bool Ok, string Detail)>? live = null, ServerProfile? profile = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(capabilities);
        var document = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["server"] = server.ToString(),
            ["software"] = capabilities.Software,
            ["transaction"] = capabilities.Transaction,
            ["batch"] = capabilities.Batch,
            ["pushStrategy"] = capabilities.PreferredStrategy.ToString().ToLowerInvariant(),
            ["resources"] = PullWorkflow.ResourceTypes.Select(type => (Type: type, Caps: capabilities.For(type))).Select(k => new
            {
                type = k.Type, read = k.Caps.Read, search = k.Caps.Search, create = k.Caps.Create, update = k.Caps.Update,
                conditionalCreate = k.Caps.ConditionalCreate, conditionalUpdate = k.Caps.ConditionalUpdate, pushable = profile is null ? k.Caps.Create : Pushable(k.Type, k.Caps, capabilities, profile),
                pushedAnyway = profile is null || Pushable(k.Type, k.Caps, capabilities, profile) ? null : PushedAnyway(k.Type, profile), pullable = k.Caps.Search,
            }).ToArray(),
        };
        if (profile is not null)
            document["serverProfile"] = new { name = profile.Name, reason = profile.Reason, description = profile.Description, bundles = profile.Bundles, identifierSearch = profile.IdentifierSearch, writable = profile.Writable, phq9Channel = profile.Phq9Channel, planDocument = profile.PlanDocument, scopes = profile.Scopes };
        if (live is not null)
            document["live"] = live.Select(c => new { check = c.Check, ok = c.Ok, detail = c.Detail }).ToArray();
        return document;
    }
}
