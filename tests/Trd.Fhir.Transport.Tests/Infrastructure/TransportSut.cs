using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Transport;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests.Infrastructure;

/// <summary>The system under test: a service provider with AddTrdFhirTransport on a fake clock, and its HttpClient.</summary>
public sealed class TransportSut : IDisposable
{
    private readonly ServiceProvider _provider;

    private TransportSut(ServiceProvider provider, LogSink logs)
    {
        _provider = provider;
        Logs = logs;
    }

    public LogSink Logs { get; }

    public IServiceProvider Services => _provider;

    /// <summary>A new client, as a caller gets it: IHttpClientFactory.CreateClient(TransportContext.HttpClientName).</summary>
    public HttpClient Client => _provider.GetRequiredService<IHttpClientFactory>().CreateClient(TransportContext.HttpClientName);

    public static TransportSut Create(FhirServerOptions options, TimeProvider clock)
    {
        var logs = new LogSink();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        services.AddSingleton(clock);
        services.AddTrdFhirTransport(options);
        return new TransportSut(services.BuildServiceProvider(), logs);
    }

    /// <summary>Options for a WireMock FHIR server at <c>{server}/fhir</c>: retries fast, breaker out of the way.</summary>
    public static FhirServerOptions OptionsFor(WireMockServer server, Action<ResilienceSettings>? resilience = null)
    {
        var options = new FhirServerOptions { BaseUrl = new Uri(server.Url + "/fhir") };
        options.Resilience.BaseDelay = TimeSpan.FromMilliseconds(100);
        options.Resilience.TotalTimeout = TimeSpan.FromMinutes(5);
        options.Resilience.BreakerMinimumThroughput = 1000;
        resilience?.Invoke(options.Resilience);
        return options;
    }

    /// <summary>
    /// Polly waits, on the pipeline's clock, for executions still in flight when its registry is disposed: on a fake
    /// clock that is forever. A test that failed half-way must fail, not hang, so disposal gets a real-time bound.
    /// </summary>
    public void Dispose() => Task.Run(_provider.Dispose).Wait(TimeSpan.FromSeconds(5));
}
