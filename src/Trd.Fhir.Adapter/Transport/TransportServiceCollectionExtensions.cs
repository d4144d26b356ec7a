using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trd.Fhir.Adapter.Transport.Auth;
using Trd.Fhir.Adapter.Transport.Resilience;

namespace Trd.Fhir.Adapter.Transport;

/// <summary>
/// Registers the HttpClient that talks to the FHIR server, with resilience and authentication configured once, here.
/// Handlers, outermost first: boundary (re-sendable body, waits for an open breaker in a TransportWaits scope, clear
/// timeout/circuit exceptions) → resilience (total timeout → retry → circuit breaker per server) → throttle (adaptive
/// concurrency per server, 429 waits: never seen by the breaker) → attempt timeout → auth (so every retry re-runs auth)
/// → attempt (counts, reads the body inside the attempt) → the socket handler.
/// </summary>
public static class TransportServiceCollectionExtensions
{
    /// <summary>The configuration section bound by <see cref="AddTrdFhirTransport(IServiceCollection, IConfiguration)"/>.</summary>
    public const string SectionName = "FhirServer";

    /// <summary>
    /// Registers the transport for one FHIR server described by <paramref name="options"/> (validated now: an invalid
    /// value throws <see cref="OptionsValidationException"/> before anything is registered).
    /// Get the client with <c>IHttpClientFactory.CreateClient(TransportContext.HttpClientName)</c>.
    /// </summary>
    public static IServiceCollection AddTrdFhirTransport(this IServiceCollection services, FhirServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var errors = FhirServerOptionsValidator.Collect(options, includeRootAnnotations: true);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(FhirServerOptions), errors);
        }

        services.AddOptions<FhirServerOptions>()
            .Configure(o =>
            {
                o.BaseUrl = options.BaseUrl;
                o.Auth = options.Auth;
                o.Resilience = options.Resilience;
            })
            .ValidateDataAnnotations()
            .ValidateOnStart();
        return services.AddTransportCore();
    }

    /// <summary>
    /// Registers the transport for the FHIR server described by the section <c>FhirServer</c> of
    /// <paramref name="configuration"/>, validated when the host starts (or when the options are first read).
    /// </summary>
    public static IServiceCollection AddTrdFhirTransport(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FhirServerOptions>()
            .Bind(configuration.GetSection(SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        return services.AddTransportCore();
    }

    private static IServiceCollection AddTransportCore(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(TransportMarker)))
        {
            throw new InvalidOperationException("AddTrdFhirTransport was already called: the transport is configured once.");
        }

        services.AddSingleton<TransportMarker>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FhirServerOptions>, FhirServerOptionsValidator>());
        services.TryAddSingleton<SmartTokenProvider>();
        services.TryAddSingleton(sp => new ServerLimiters(Server(sp).Resilience.MaxConcurrency, sp.GetRequiredService<TimeProvider>()));

        // Discovery and token requests: no auth, no retries (a token request carries a single-use jti; a failed one
        // fails the attempt it belongs to, which the pipeline may retry with a fresh assertion). No default logging:
        // URLs can carry patient identifiers, headers carry secrets.
        services.AddHttpClient(SmartTokenProvider.HttpClientName).RemoveAllLoggers();

        var client = services
            .AddHttpClient(TransportContext.HttpClientName, (sp, http) =>
            {
                http.BaseAddress = WithTrailingSlash(Server(sp).BaseUrl!);
                http.Timeout = Timeout.InfiniteTimeSpan; // the pipeline's total timeout governs, on the injected clock
            })
            .RemoveAllLoggers()
            .AddHttpMessageHandler(sp => new TransportBoundaryHandler(
                Server(sp).Resilience, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<TransportBoundaryHandler>>()));

        client
            .AddResilienceHandler("fhir-server", (pipeline, context) => FhirResiliencePipeline.Configure(
                pipeline,
                Server(context.ServiceProvider).Resilience,
                context.ServiceProvider.GetRequiredService<TimeProvider>(),
                context.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FhirResiliencePipeline))))
            // One pipeline, hence one circuit breaker, per server (scheme + host + port).
            .SelectPipelineBy(_ => request => request.RequestUri?.GetLeftPart(UriPartial.Authority) ?? string.Empty);

        client
            .AddHttpMessageHandler(sp => new ThrottleHandler(sp.GetRequiredService<ServerLimiters>(), Server(sp).Resilience,
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ThrottleHandler>>()))
            .AddResilienceHandler("fhir-attempt", (pipeline, context) => FhirResiliencePipeline.ConfigureAttempt(
                pipeline, Server(context.ServiceProvider).Resilience, context.ServiceProvider.GetRequiredService<TimeProvider>()));

        client
            .AddHttpMessageHandler(sp => new EpicClientIdHandler(Server(sp).Auth.EpicClientId))
            .AddHttpMessageHandler(CreateAuthHandler)
            .AddHttpMessageHandler(sp => new CredentialScopeHandler(Server(sp).BaseUrl!, sp.GetRequiredService<ILogger<CredentialScopeHandler>>()))
            .AddHttpMessageHandler(() => new AttemptHandler());
        return services;
    }

    private static DelegatingHandler CreateAuthHandler(IServiceProvider services)
    {
        var auth = Server(services).Auth;
        return auth.Kind switch
        {
            AuthKind.Basic => new BasicAuthHandler(auth.Username!, auth.Password!),
            AuthKind.Bearer => new BearerAuthHandler(auth.Token!),
            AuthKind.SmartBackend => new SmartBackendAuthHandler(services.GetRequiredService<SmartTokenProvider>()),
            _ => new NoAuthHandler(),
        };
    }

    private static FhirServerOptions Server(IServiceProvider services) =>
        services.GetRequiredService<IOptions<FhirServerOptions>>().Value;

    /// <summary>A base URL ending in '/', so that relative references ("Patient/1") resolve below it.</summary>
    internal static Uri WithTrailingSlash(Uri baseUrl) =>
        baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");

    private sealed class TransportMarker;
}

/// <summary>
/// What data annotations cannot say: the nested resilience ranges, an absolute http(s) base URL, a total timeout that
/// leaves room for an attempt, and the settings each auth kind needs.
/// </summary>
internal sealed class FhirServerOptionsValidator : IValidateOptions<FhirServerOptions>
{
    public ValidateOptionsResult Validate(string? name, FhirServerOptions options)
    {
        var errors = Collect(options, includeRootAnnotations: false);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    internal static List<string> Collect(FhirServerOptions options, bool includeRootAnnotations)
    {
        var errors = new List<string>();
        if (includeRootAnnotations)
        {
            Annotations(options, "FhirServer", errors);
        }

        if (options.BaseUrl is { } baseUrl
            && (!baseUrl.IsAbsoluteUri || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps)))
        {
            errors.Add($"FhirServer:BaseUrl '{baseUrl}' must be an absolute http or https URL.");
        }

        var resilience = options.Resilience;
        if (resilience is null)
        {
            errors.Add("FhirServer:Resilience is required.");
        }
        else
        {
            Annotations(resilience, "FhirServer:Resilience", errors);
            if (resilience.TotalTimeout < resilience.AttemptTimeout)
            {
                errors.Add($"FhirServer:Resilience:TotalTimeout ({resilience.TotalTimeout}) must not be shorter than AttemptTimeout ({resilience.AttemptTimeout}).");
            }
        }

        var auth = options.Auth;
        if (auth is null)
        {
            errors.Add("FhirServer:Auth is required.");
            return errors;
        }

        void Require(string? value, string name)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                errors.Add($"FhirServer:Auth:{name} is required for Auth:Kind {auth.Kind}.");
            }
        }

        switch (auth.Kind)
        {
            case AuthKind.Basic:
                Require(auth.Username, nameof(AuthOptions.Username));
                Require(auth.Password, nameof(AuthOptions.Password));
                break;
            case AuthKind.Bearer:
                Require(auth.Token, nameof(AuthOptions.Token));
                break;
            case AuthKind.SmartBackend:
                Require(auth.ClientId, nameof(AuthOptions.ClientId));
                Require(auth.PrivateKeyPath, nameof(AuthOptions.PrivateKeyPath));
                if (auth.Algorithm.ToUpperInvariant() is not ("RS384" or "ES384"))
                {
                    errors.Add($"FhirServer:Auth:Algorithm '{auth.Algorithm}' is not supported: use RS384 or ES384.");
                }

                if (auth.Algorithm.Equals("ES384", StringComparison.OrdinalIgnoreCase) && auth.JwksUrl is null)
                {
                    errors.Add("FhirServer:Auth: " + SmartClientAssertion.Es384NeedsJwks);
                }

                if (auth.JwksUrl is { } jwks && (!jwks.IsAbsoluteUri || (jwks.Scheme != Uri.UriSchemeHttps && jwks.Scheme != Uri.UriSchemeHttp)))
                {
                    errors.Add($"FhirServer:Auth:JwksUrl '{jwks}' must be an absolute https URL (the server fetches the public keys from it).");
                }
                else if (auth.JwksUrl is not null && string.IsNullOrWhiteSpace(auth.KeyId))
                {
                    errors.Add("FhirServer:Auth: " + SmartClientAssertion.JwksNeedsKid);
                }

                if (auth.TokenEndpoint is { IsAbsoluteUri: false })
                {
                    errors.Add("FhirServer:Auth:TokenEndpoint must be an absolute URL.");
                }

                break;
            case AuthKind.None:
                break;
            default:
                errors.Add($"FhirServer:Auth:Kind '{auth.Kind}' is unknown.");
                break;
        }

        return errors;
    }

    private static void Annotations(object instance, string prefix, List<string> errors)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(instance, new ValidationContext(instance), results, validateAllProperties: true))
        {
            errors.AddRange(results.Select(r => $"{prefix}: {r.ErrorMessage}"));
        }
    }
}
