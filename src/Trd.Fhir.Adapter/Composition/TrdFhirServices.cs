using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serilog;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Composition;

/// <summary>What <see cref="TrdFhirServices.AddTrdFhir"/> composes: the FHIR server (optional: map and validate need none),
/// the identifier base, the clock, the ledger (optional) and where logs go.</summary>
public sealed class TrdFhirOptions
{
    /// <summary>The FHIR server pushes, pulls and probes talk to; null registers no transport.</summary>
    public FhirServerOptions? Server { get; set; }

    /// <summary>Base URL of the business identifier systems.</summary>
    public string IdentifierBase { get; set; } = Identity.DefaultBase;

    /// <summary>The installation secret of pseudonymous protocol ids; null: <see cref="PseudonymKey.EnvironmentVariable"/>, else unkeyed.</summary>
    public PseudonymKey? PseudonymKey { get; set; }

    /// <summary>The clock every use case waits and dates on (tests: a FakeTimeProvider).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Push with this strategy instead of the one the server's CapabilityStatement suggests.</summary>
    public PushStrategy? ForcedStrategy { get; set; }

    /// <summary>Push PHQ-9 through this channel (<c>push --phq9-as</c>) instead of the server profile's.</summary>
    public Phq9Channel? Phq9As { get; set; }

    /// <summary>The sync ledger spec (SQLite file or PostgreSQL); null registers no ledger.</summary>
    public string? Ledger { get; set; }

    /// <summary>Ledger worker options (attempts, lease, retry delays …).</summary>
    public Action<LedgerSyncOptions>? ConfigureLedger { get; set; }

    /// <summary>The Serilog logger behind Microsoft.Extensions.Logging (disposed with the container); null when a host
    /// provides logging itself (<c>serve</c>: UseSerilog).</summary>
    public Serilog.ILogger? Logger { get; set; }
}

/// <summary>The composition root of <c>trd-fhir</c>, used by the CLI verbs and by <c>serve</c>.</summary>
public static class TrdFhirServices
{
    /// <summary>
    /// Logging, clock, identity, the shared <see cref="ValidatorPool"/>, the transport and the one
    /// <see cref="FhirServerConnection"/> (with a server), the ledger (with a spec), and the use cases over them.
    /// </summary>
    public static IServiceCollection AddTrdFhir(this IServiceCollection services, TrdFhirOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Logger is { } logger)
            services.AddLogging(b => b.ClearProviders().AddSerilog(logger, dispose: true));
        else
            services.AddLogging();
        var identity = new Identity(options.IdentifierBase);
        services.AddSingleton(options.Time);
        services.AddSingleton(identity);
        services.AddSingleton(new ProtocolToFhir(identity));
        services.AddSingleton(new FhirToProtocol(identity, options.PseudonymKey ?? PseudonymKey.FromEnvironment()));
        services.AddSingleton(_ => ValidatorPool.Shared());
        services.AddSingleton(sp => new MapProtocol(identity, sp.GetRequiredService<ValidatorPool>()));
        services.AddSingleton(sp => new ValidateFhir(sp.GetRequiredService<ValidatorPool>(), ValidationPlan.Default));
        services.AddSingleton(sp => new BuildReport(sp.GetRequiredService<ValidatorPool>(), identity, sp.GetRequiredService<TimeProvider>()));

        if (options.Server is { } server)
        {
            services.AddTrdFhirTransport(server); // auth + resilience, once, at the HttpClient seam
            services.AddSingleton(sp => Connection(sp, server));
            services.AddSingleton(sp => new PushWorkflow(sp.GetRequiredService<FhirServerConnection>(), sp.GetRequiredService<ILogger<PushWorkflow>>()) { ForcedStrategy = options.ForcedStrategy, Identity = identity, Time = options.Time, Phq9Override = options.Phq9As });
            services.AddSingleton(sp => new PullWorkflow(sp.GetRequiredService<FhirServerConnection>(), sp.GetRequiredService<FhirToProtocol>(), sp.GetRequiredService<ILogger<PullWorkflow>>()));
            services.AddSingleton(sp => new PushProtocols(sp.GetRequiredService<MapProtocol>(), sp.GetRequiredService<PushWorkflow>()));
            services.AddSingleton(sp => new PullProtocol(sp.GetRequiredService<PullWorkflow>()));
            services.AddSingleton(sp => new ProbeServer(sp.GetRequiredService<FhirServerConnection>()));
        }
        if (options.Ledger is { } spec)
        {
            services.AddTrdFhirLedger(spec, options.ConfigureLedger);
            services.AddSingleton(sp => new PushThroughLedger(sp.GetRequiredService<LedgerSync>(), sp.GetRequiredService<TimeProvider>()));
        }
        return services;
    }

    /// <summary>The one connection to the server. The server profile's SMART scopes (chosen now, or detected from
    /// <c>/metadata</c> later) become the token request's default scope when no <c>--scope</c> was given.</summary>
    private static FhirServerConnection Connection(IServiceProvider services, FhirServerOptions server)
    {
        var tokens = services.GetRequiredService<Transport.Auth.SmartTokenProvider>();
        var chosen = Transport.ServerProfiles.ServerProfileCatalog.ChooseOrDetect(server.ServerProfile);
        if (chosen is not null)
            tokens.UseProfileScope(chosen.Scopes);
        return new FhirServerConnection(services.GetRequiredService<IHttpClientFactory>(), server.BaseUrl!, services.GetRequiredService<ILogger<FhirServerConnection>>(), chosen)
        {
            ProfileDetected = profile => tokens.UseProfileScope(profile.Scopes),
        };
    }

    /// <summary>A ledger run over an already opened ledger (CLI <c>push --ledger</c>), with this container's push, mapper and clock.</summary>
    public static PushThroughLedger LedgerRun(this IServiceProvider services, Sync.Ledger.ISyncLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(services);
        var time = services.GetRequiredService<TimeProvider>();
        var sync = new LedgerSync(ledger, services.GetRequiredService<PushWorkflow>(), services.GetRequiredService<ProtocolToFhir>(), new LedgerSyncOptions(), time, services.GetRequiredService<ILogger<LedgerSync>>());
        return new PushThroughLedger(sync, time);
    }
}
