using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Transport.Tests.Infrastructure;
using TransportContext = Trd.Fhir.Adapter.Transport.TransportContext;

namespace Trd.Fhir.Transport.Tests;

public sealed class TransportServiceCollectionExtensionsTests
{
    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public void AddTrdFhirTransport_FromConfiguration_BindsServerAuthAndResilience()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddTrdFhirTransport(Configuration(new()
        {
            ["FhirServer:BaseUrl"] = "https://fhir.example.org/r4",
            ["FhirServer:Auth:Kind"] = "Bearer",
            ["FhirServer:Auth:Token"] = "t",
            ["FhirServer:Resilience:MaxRetries"] = "2",
            ["FhirServer:Resilience:AttemptTimeout"] = "00:00:10",
        }));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<FhirServerOptions>>().Value;
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient(TransportContext.HttpClientName);

        Assert.Equal((AuthKind.Bearer, 2, TimeSpan.FromSeconds(10)), (options.Auth.Kind, options.Resilience.MaxRetries, options.Resilience.AttemptTimeout));
        Assert.Equal(new Uri("https://fhir.example.org/r4/"), client.BaseAddress);
        Assert.Equal(Timeout.InfiniteTimeSpan, client.Timeout);
        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public void AddTrdFhirTransport_ConfigurationOutOfRange_FailsOnStartNamingEveryProblem()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddTrdFhirTransport(Configuration(new()
        {
            ["FhirServer:Auth:Kind"] = "SmartBackend",
            ["FhirServer:Resilience:MaxRetries"] = "50",
        }));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains(ex.Failures, f => f.Contains("BaseUrl", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("FhirServer:Resilience: The field MaxRetries must be between 0 and 10.", StringComparison.Ordinal));
        Assert.Contains("FhirServer:Auth:ClientId is required for Auth:Kind SmartBackend.", ex.Failures);
        Assert.Contains("FhirServer:Auth:PrivateKeyPath is required for Auth:Kind SmartBackend.", ex.Failures);
    }

    [Fact]
    public void AddTrdFhirTransport_InvalidOptions_ThrowsBeforeRegistering()
    {
        var services = new ServiceCollection();
        var options = new FhirServerOptions { BaseUrl = new Uri("ftp://fhir.example.org"), Auth = new AuthOptions { Kind = AuthKind.Basic, Username = "u" } };
        options.Resilience.TotalTimeout = TimeSpan.FromSeconds(5);
        options.Resilience.AttemptTimeout = TimeSpan.FromSeconds(30);

        var ex = Assert.Throws<OptionsValidationException>(() => services.AddTrdFhirTransport(options));

        Assert.Equal(
        [
            "FhirServer:BaseUrl 'ftp://fhir.example.org/' must be an absolute http or https URL.",
            "FhirServer:Resilience:TotalTimeout (00:00:05) must not be shorter than AttemptTimeout (00:00:30).",
            "FhirServer:Auth:Password is required for Auth:Kind Basic.",
        ], ex.Failures);
        Assert.Empty(services);
    }

    [Fact]
    public void AddTrdFhirTransport_CalledTwice_Throws()
    {
        var services = new ServiceCollection();
        var options = new FhirServerOptions { BaseUrl = new Uri("https://fhir.example.org/r4") };
        services.AddTrdFhirTransport(options);

        var ex = Assert.Throws<InvalidOperationException>(() => services.AddTrdFhirTransport(options));

        Assert.Equal("AddTrdFhirTransport was already called: the transport is configured once.", ex.Message);
    }

    [Fact]
    public void AddTrdFhirTransport_TimeProviderAlreadyRegistered_KeepsIt()
    {
        var clock = new TestClock();
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(clock);
        services.AddTrdFhirTransport(new FhirServerOptions { BaseUrl = new Uri("https://fhir.example.org/r4") });
        using var provider = services.BuildServiceProvider();

        Assert.Same(clock, provider.GetRequiredService<TimeProvider>());
    }
}
