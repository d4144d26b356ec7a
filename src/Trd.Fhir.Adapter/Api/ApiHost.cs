using System.Diagnostics;
using System.Globalization;
using System.Threading.RateLimiting;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using Hl7.Fhir.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Scalar.AspNetCore;
using Serilog;
using Serilog.Context;
using Serilog.Events;
using Trd.Fhir.Adapter.Composition;
using Trd.Fhir.Adapter.Telemetry;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// The composition of <c>trd-fhir serve</c>: one <see cref="IHostBuilder"/> that <c>trd-fhir serve</c> runs on Kestrel
/// and the tests' WebApplicationFactory runs on a TestServer (it overrides <c>CreateHostBuilder</c> with this one), so both
/// exercise the same pipeline: correlation id → request log → OperationOutcome errors → routing → authentication → rate
/// limit → authorization → endpoints (<see cref="ApiEndpoints"/>).
/// </summary>
public static class ApiHost
{
    public const string CorrelationHeader = "X-Correlation-Id";

    public static IHostBuilder CreateHostBuilder(ApiSettings settings, string[]? urls = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var errors = settings.Validate();
        if (errors.Count > 0)
            throw new ArgumentException(string.Join(Environment.NewLine, errors));

        // One Serilog logger per host (not the static Log.Logger: tests run several hosts), also given to the request log.
        var logger = ConfigureLogging(TrdFhirLogging.Configure(settings.LogWriter ?? Console.Error, settings.JsonLogs, properties: true), settings).CreateLogger();
        return Host.CreateDefaultBuilder()
            .UseSerilog(logger, dispose: true)
            .ConfigureServices(services => services.AddSingleton<Serilog.ILogger>(logger))
            .ConfigureWebHostDefaults(web =>
            {
                if (urls is { Length: > 0 })
                    web.UseUrls(urls);
                web.ConfigureKestrel(k =>
                {
                    k.Limits.MaxRequestBodySize = settings.MaxBodyBytes;
                    k.AddServerHeader = false;
                });
                web.ConfigureServices(services => AddTrdFhirApi(services, settings));
                web.Configure(UseTrdFhirApi);
            });
    }

    private static LoggerConfiguration ConfigureLogging(LoggerConfiguration log, ApiSettings settings) => log
        .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
        .Enrich.With<NoRawPath>();

    public static IServiceCollection AddTrdFhirApi(IServiceCollection services, ApiSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton(settings);
        services.AddTrdFhir(new TrdFhirOptions
        {
            Server = settings.Server,
            IdentifierBase = settings.IdentifierBase,
            PseudonymKey = settings.PseudonymKey is { Length: > 0 } secret ? new Mapping.PseudonymKey(secret) : null,
            Time = settings.Time,
            Ledger = settings.Ledger,
            ConfigureLedger = o =>
            {
                var sync = settings.Sync;
                (o.MaxAttempts, o.Lease, o.RetryBaseDelay, o.MaxRetryDelay) = (sync.MaxAttempts, sync.Lease, sync.RetryBaseDelay, sync.MaxRetryDelay);
                (o.DrainRetryHorizon, o.PollInterval, o.Parallelism, o.Worker) = (sync.DrainRetryHorizon, sync.PollInterval, sync.Parallelism, sync.Worker);
            },
        });
        if (settings.RunWorker)
            services.AddHostedService<LedgerWorker>();
        services.AddHostedService<ValidatorWarmup>();
        services.AddTrdFhirApiAuth(settings);
        services.AddTrdFhirTelemetry();
        services.AddHsts(o => o.MaxAge = TimeSpan.FromDays(365));
        if (settings.CorsOrigins.Count > 0)
            services.AddCors(o => o.AddDefaultPolicy(p => p.WithOrigins([.. settings.CorsOrigins]).WithMethods("GET", "POST")
                .WithHeaders(ApiAuth.HeaderName, "Authorization", "Content-Type", "Accept", "Prefer", CorrelationHeader)
                .WithExposedHeaders("Content-Location", "Retry-After", CorrelationHeader, SafetySignalHeader.Name)));
        services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                RateLimitPartition.GetFixedWindowLimiter(ApiAuth.ClientOf(context), _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = settings.RateLimitPermits,
                    Window = settings.RateLimitWindow,
                    QueueLimit = 0,
                }));
            o.OnRejected = async (context, _) =>
            {
                var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : (int)settings.RateLimitWindow.TotalSeconds;
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await ApiOutcome.WriteAsync(context.HttpContext, StatusCodes.Status429TooManyRequests, ApiOutcome.Issue(OperationOutcome.IssueType.Throttled,
                    $"too many requests from this client: at most {settings.RateLimitPermits} per {settings.RateLimitWindow.TotalSeconds:0} s (fix: retry after {seconds} s)"));
            };
        });
        services.AddOpenApi(OpenApiContract.Configure);
        return services;
    }

    public static void UseTrdFhirApi(IApplicationBuilder app)
    {
        var settings = app.ApplicationServices.GetRequiredService<ApiSettings>();
        app.Use(CorrelationAsync);
        app.UseTrdFhirSecurityHeaders();
        app.UseHsts(); // only over HTTPS, never for localhost/loopback names (ASP.NET Core's defaults)
        app.UseSerilogRequestLogging(o =>
        {
            // The route template, never the raw path: /patients/{patient}/… carries a patient identifier. No query string.
            o.Logger = app.ApplicationServices.GetRequiredService<Serilog.ILogger>();
            o.MessageTemplate = "HTTP {RequestMethod} {Route} responded {StatusCode} in {Elapsed:0.0} ms";
            o.IncludeQueryInRequestPath = false;
            o.GetMessageTemplateProperties = (context, _, elapsed, status) =>
            [
                new LogEventProperty("RequestMethod", new ScalarValue(context.Request.Method)),
                new LogEventProperty("Route", new ScalarValue(RouteOf(context))),
                new LogEventProperty("StatusCode", new ScalarValue(status)),
                new LogEventProperty("Elapsed", new ScalarValue(elapsed)),
            ];
            o.EnrichDiagnosticContext = (diagnostics, context) => diagnostics.Set("Client", context.User.FindFirst(ApiAuth.ClientClaim)?.Value ?? "anonymous");
        });
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = HandleExceptionAsync,
            StatusCodeSelector = StatusOf,
            // A body over Kestrel's limit is the client's error (413), not an error of the service worth a stack trace.
            SuppressDiagnosticsCallback = c => c.Exception is Microsoft.AspNetCore.Http.BadHttpRequestException,
        });
        app.UseStatusCodePages(context => context.HttpContext.Response.HasStarted || context.HttpContext.Response.ContentLength > 0 || context.HttpContext.Response.ContentType is not null
            ? System.Threading.Tasks.Task.CompletedTask
            : ApiOutcome.WriteAsync(context.HttpContext, context.HttpContext.Response.StatusCode, StatusOutcome(context.HttpContext)));
        app.Use((context, next) =>
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = settings.MaxBodyBytes;
            return next(context);
        });
        app.UseTrdFhirRequestBudget(settings);
        app.UseRouting();
        app.Use((context, next) =>
        {
            context.Items[RouteKey] = RouteOf(context);
            return next(context);
        });
        app.UseTrdFhirUseCaseSpans();
        if (settings.CorsOrigins.Count > 0)
            app.UseCors(); // no CORS headers at all unless Api:CorsOrigins names the browser origins allowed
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.UseEndpoints(endpoints =>
        {
            endpoints.MapTrdFhirApi();
            endpoints.MapProtocolEndpoints();
            endpoints.MapTrdFhirMetrics();
            endpoints.MapOpenApi().AllowAnonymous();
            // The reference page sends the API key (entered once on the page, kept in the browser); no fonts from a CDN.
            endpoints.MapScalarApiReference(o => o.WithTitle("trd-fhir API").DisableDefaultFonts()
                .AddPreferredSecuritySchemes(OpenApiContract.ApiKeyScheme).AddApiKeyAuthentication(OpenApiContract.ApiKeyScheme, _ => { })
                .EnablePersistentAuthentication()).AllowAnonymous();
        });
    }

    /// <summary>ASP.NET Core's request scope puts the raw path (RequestPath) on every event of a request, and a path like
    /// /patients/{system|value}/… carries a patient identifier: removed from every event; the request log has the Route.</summary>
    private sealed class NoRawPath : Serilog.Core.ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, Serilog.Core.ILogEventPropertyFactory propertyFactory) => logEvent.RemovePropertyIfPresent("RequestPath");
    }

    /// <summary>Accepts the caller's <c>X-Correlation-Id</c> (1–64 of [A-Za-z0-9._-]) or uses the trace id; returns it and
    /// puts it on every log event of the request.</summary>
    private static async System.Threading.Tasks.Task CorrelationAsync(HttpContext context, RequestDelegate next)
    {
        var given = context.Request.Headers[CorrelationHeader].ToString();
        var id = given.Length is > 0 and <= 64 && given.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            ? given
            : Activity.Current?.TraceId.ToString() ?? context.TraceIdentifier;
        context.Response.Headers[CorrelationHeader] = id;
        using (LogContext.PushProperty("CorrelationId", id))
            await next(context);
    }

    /// <summary>The endpoint's route template (e.g. <c>/patients/{patient}/protocol</c>), or a fixed word when none matched.</summary>
    internal static string RouteOf(HttpContext context) =>
        context.Items.TryGetValue(RouteKey, out var known) && known is string route ? route
        : context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } template } ? "/" + template.TrimStart('/') : "(no route)";

    private const string RouteKey = "trd-fhir.route";

    private static int StatusOf(Exception e) => e switch
    {
        Microsoft.AspNetCore.Http.BadHttpRequestException bad => bad.StatusCode,
        HttpRequestException or FhirTransportException or FhirOperationException => StatusCodes.Status502BadGateway,
        OperationCanceledException => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static System.Threading.Tasks.Task HandleExceptionAsync(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var status = error is null ? StatusCodes.Status500InternalServerError : StatusOf(error);
        var id = context.Response.Headers[CorrelationHeader].ToString();
        var outcome = status switch
        {
            StatusCodes.Status413PayloadTooLarge => ApiOutcome.Issue(OperationOutcome.IssueType.TooLong, "the request body is too large (fix: send one protocol document per request, or raise --max-body-size)"),
            StatusCodes.Status502BadGateway => ApiOutcome.Issue(OperationOutcome.IssueType.Transient, $"the FHIR server could not be used: {error!.Message}"),
            StatusCodes.Status504GatewayTimeout => ApiOutcome.Issue(OperationOutcome.IssueType.Timeout, "the FHIR server did not answer in time"),
            < 500 => ApiOutcome.Issue(OperationOutcome.IssueType.Invalid, "the request could not be read (fix: check its headers and body)"),
            _ => ApiOutcome.Issue(OperationOutcome.IssueType.Exception, $"an unexpected error occurred; quote correlation id {id} to the operators"),
        };
        return ApiOutcome.WriteAsync(context, status, outcome);
    }

    private static OperationOutcome StatusOutcome(HttpContext context) => context.Response.StatusCode switch
    {
        StatusCodes.Status404NotFound => ApiOutcome.Issue(OperationOutcome.IssueType.NotFound, "no such endpoint (fix: see /scalar/v1 for the API reference)"),
        StatusCodes.Status405MethodNotAllowed => ApiOutcome.Issue(OperationOutcome.IssueType.NotSupported, $"method {context.Request.Method} is not allowed here"),
        StatusCodes.Status401Unauthorized => ApiOutcome.Issue(OperationOutcome.IssueType.Login, "authentication required"),
        StatusCodes.Status403Forbidden => ApiOutcome.Issue(OperationOutcome.IssueType.Forbidden, "this client may not use this endpoint"),
        StatusCodes.Status413PayloadTooLarge => ApiOutcome.Issue(OperationOutcome.IssueType.TooLong, "the request body is too large"),
        StatusCodes.Status415UnsupportedMediaType => ApiOutcome.Issue(OperationOutcome.IssueType.NotSupported,
            $"Content-Type '{context.Request.ContentType}' is not accepted here (fix: send application/json or application/fhir+json; /$validate also takes application/fhir+xml and application/xml)"),
        var s when s >= 500 => ApiOutcome.Issue(OperationOutcome.IssueType.Exception, "an unexpected error occurred"),
        _ => ApiOutcome.Issue(OperationOutcome.IssueType.Invalid, "the request was not accepted"),
    };
}
