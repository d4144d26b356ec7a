using Hl7.Fhir.Model;

namespace Trd.Fhir.Adapter.Transport;

/// <summary>What one FHIR server says it can do (its CapabilityStatement), reduced to what push and pull decide on.</summary>
public sealed record ServerCapabilities(
    string Software,
    bool Transaction,
    bool Batch,
    IReadOnlyDictionary<string, ResourceCapabilities> Resources)
{
    public static ServerCapabilities From(CapabilityStatement statement)
    {
        var rest = statement.Rest.FirstOrDefault(r => r.Mode == CapabilityStatement.RestfulCapabilityMode.Server) ?? statement.Rest.FirstOrDefault();
        var system = rest?.Interaction.Select(i => i.Code).ToHashSet() ?? [];
        var resources = new Dictionary<string, ResourceCapabilities>(StringComparer.Ordinal);
        foreach (var resource in rest?.Resource ?? [])
        {
            if (resource.Type is not { } type)
                continue;
            var interactions = resource.Interaction.Select(i => i.Code).ToHashSet();
            resources[type] = new ResourceCapabilities(
                Read: interactions.Contains(CapabilityStatement.TypeRestfulInteraction.Read),
                Search: interactions.Contains(CapabilityStatement.TypeRestfulInteraction.SearchType),
                Create: interactions.Contains(CapabilityStatement.TypeRestfulInteraction.Create),
                Update: interactions.Contains(CapabilityStatement.TypeRestfulInteraction.Update),
                Delete: interactions.Contains(CapabilityStatement.TypeRestfulInteraction.Delete),
                ConditionalCreate: resource.ConditionalCreate ?? false,
                ConditionalUpdate: resource.ConditionalUpdate ?? false,
                SearchParameters: resource.SearchParam.Select(p => p.Name).Where(n => n is not null).Select(n => n!).ToHashSet(StringComparer.Ordinal),
                SearchInclude: resource.SearchInclude.Any());
        }
        var software = statement.Software is { } s ? $"{s.Name} {s.Version}".Trim() : "unknown";
        return new ServerCapabilities(
            software,
            system.Contains(CapabilityStatement.SystemRestfulInteraction.Transaction),
            system.Contains(CapabilityStatement.SystemRestfulInteraction.Batch),
            resources);
    }

    public ResourceCapabilities For(string resourceType) =>
        Resources.TryGetValue(resourceType, out var found) ? found : ResourceCapabilities.None;

    /// <summary>The push strategy this server gets first; <see cref="PushStrategy"/> falls back from there on refusal.</summary>
    public PushStrategy PreferredStrategy => Transaction ? PushStrategy.Transaction : Batch ? PushStrategy.Batch : PushStrategy.Individual;
}

public sealed record ResourceCapabilities(
    bool Read,
    bool Search,
    bool Create,
    bool Update,
    bool Delete,
    bool ConditionalCreate,
    bool ConditionalUpdate,
    IReadOnlySet<string> SearchParameters,
    bool SearchInclude)
{
    public static ResourceCapabilities None { get; } = new(false, false, false, false, false, false, false, new HashSet<string>(), false);

    public bool Writable => Create || Update;
}

/// <summary>How a push reaches the server: one atomic transaction, batches in dependency order, or one request per resource.</summary>
public enum PushStrategy { Transaction, Batch, Individual }
