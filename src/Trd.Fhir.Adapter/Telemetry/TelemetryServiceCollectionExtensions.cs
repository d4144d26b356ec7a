using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Trd.Fhir.Adapter.Telemetry;

/// <summary>
/// OpenTelemetry for <c>trd-fhir serve</c>: traces of incoming requests (ASP.NET Core), the use case (<see cref="TrdTelemetry"/>)
/// and each FHIR server call (HttpClient), metrics of the adapter, ASP.NET Core and HttpClient; every span passes
/// <see cref="RedactingProcessor"/> before any exporter. OTLP is on when the standard <c>OTEL_EXPORTER_OTLP_*</c> endpoint
/// variables are set (all other <c>OTEL_*</c> variables apply); Prometheus text on <c>/metrics</c>, behind the API's
/// authentication (docs/api.md "Telemetry").
/// </summary>
public static class TelemetryServiceCollectionExtensions
{
    public const string MetricsPath = "/metrics";

    private static readonly string[] OtlpEndpointVariables = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"];

    public static IServiceCollection AddTrdFhirTelemetry(this IServiceCollection services, IConfiguration? configuration = null)
    {
        var otlp = OtlpEndpointVariables.Any(v => !string.IsNullOrEmpty(configuration?[v] ?? Environment.GetEnvironmentVariable(v)));
        var builder = services.AddOpenTelemetry()
            .ConfigureResource(r =>
            {
                if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME")))
                    r.AddService("trd-fhir", serviceVersion: typeof(TrdTelemetry).Assembly.GetName().Version?.ToString());
            })
            .WithTracing(t => t
                .AddProcessor(new RedactingProcessor())
                .AddSource(TrdTelemetry.Name)
                .AddAspNetCoreInstrumentation(o =>
                {
                    // Probes and documents are not worth a trace; the request path never leaves the processor unredacted.
                    o.Filter = c => !c.Request.Path.StartsWithSegments("/health") && !c.Request.Path.StartsWithSegments(MetricsPath);
                    o.RecordException = false;
                })
                .AddHttpClientInstrumentation(o =>
                {
                    o.RecordException = false;
                    o.EnrichWithHttpRequestMessage = (activity, request) => RedactingProcessor.TagFhirCall(activity, request.Method.Method, request.RequestUri);
                }))
            .WithMetrics(m => m
                .AddMeter(TrdTelemetry.Name)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddPrometheusExporter(o => o.ScrapeEndpointPath = MetricsPath));
        if (otlp)
            builder.UseOtlpExporter();
        services.AddSingleton<LedgerGauges>();
        services.AddHostedService(sp => sp.GetRequiredService<LedgerGauges>());
        return services;
    }

    /// <summary>A span per use case, named after the endpoint (<c>trd-fhir MapProtocol</c>), around the endpoint's work:
    /// the FHIR calls it makes are its children. Goes after routing.</summary>
    public static IApplicationBuilder UseTrdFhirUseCaseSpans(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var name = context.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName;
        using var activity = name is null ? null : TrdTelemetry.StartUseCase(name);
        await next(context);
        activity?.SetTag("http.response.status_code", context.Response.StatusCode);
        if (context.Response.StatusCode >= 500)
            activity?.SetStatus(ActivityStatusCode.Error);
    });

    /// <summary>The Prometheus scrape endpoint (text format 0.0.4), authenticated like every other endpoint but /health.</summary>
    public static IEndpointConventionBuilder MapTrdFhirMetrics(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath);
}
