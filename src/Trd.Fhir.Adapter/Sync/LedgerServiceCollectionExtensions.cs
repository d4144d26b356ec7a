using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Sync;

public static class LedgerServiceCollectionExtensions
{
    /// <summary>
    /// Registers the sync ledger named by <paramref name="spec"/> (<see cref="SyncLedgers.Open"/>: a SQLite file path or
    /// <c>sqlite:PATH</c>, or a PostgreSQL URL / connection string) and <see cref="LedgerSync"/> over it, as singletons. The
    /// options are validated now. Needs the transport (<c>AddTrdFhirTransport</c>); registers <see cref="FhirServerConnection"/>,
    /// <see cref="PushWorkflow"/> and <see cref="ProtocolToFhir"/> (default identity) unless already registered. The ledger's
    /// schema is created on first use.
    /// </summary>
    public static IServiceCollection AddTrdFhirLedger(this IServiceCollection services, string spec, Action<LedgerSyncOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var options = new LedgerSyncOptions();
        configure?.Invoke(options);
        options.Validate();

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(sp => SyncLedgers.Open(spec, sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new FhirServerConnection(
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetRequiredService<IOptions<FhirServerOptions>>().Value.BaseUrl!,
            sp.GetRequiredService<ILogger<FhirServerConnection>>(),
            ServerProfileCatalog.ChooseOrDetect(sp.GetRequiredService<IOptions<FhirServerOptions>>().Value.ServerProfile)));
        services.TryAddSingleton(sp => new PushWorkflow(sp.GetRequiredService<FhirServerConnection>(), sp.GetRequiredService<ILogger<PushWorkflow>>()));
        services.TryAddSingleton(ProtocolToFhir.Default);
        services.AddSingleton(sp => new LedgerSync(
            sp.GetRequiredService<ISyncLedger>(),
            sp.GetRequiredService<PushWorkflow>(),
            sp.GetRequiredService<ProtocolToFhir>(),
            sp.GetRequiredService<LedgerSyncOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<LedgerSync>>()));
        return services;
    }
}
