using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>The probe's answer (CLI <c>probe --format json</c> and API <c>GET /servers/probe</c>): what the server can store
/// and read of the protocol's resource kinds, and the push strategy it gets — one shape for both surfaces.</summary>
public static class ServerProbe
{
    public static IReadOnlyDictionary<string, object?> Describe(Uri server, ServerCapabilities capabilities, IEnumerable<(string Check, bool Ok, string Detail)>? live = null)
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
                conditionalCreate = k.Caps.ConditionalCreate, conditionalUpdate = k.Caps.ConditionalUpdate, pushable = k.Caps.Create, pullable = k.Caps.Search,
            }).ToArray(),
        };
        if (live is not null)
            document["live"] = live.Select(c => new { check = c.Check, ok = c.Ok, detail = c.Detail }).ToArray();
        return document;
    }
}
