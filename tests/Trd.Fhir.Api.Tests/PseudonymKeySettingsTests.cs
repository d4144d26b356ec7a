using Trd.Fhir.Adapter.Api;
using Trd.Fhir.Api.Tests.Infrastructure;

namespace Trd.Fhir.Api.Tests;

/// <summary>Issue 11 item 6: serve takes the pseudonym key from its configuration (Api:PseudonymKey / Api__PseudonymKey).</summary>
public sealed class PseudonymKeySettingsTests
{
    [Fact]
    public void Bind_PseudonymKeyFromConfiguration_IsSet()
    {
        var configuration = ServeConfiguration.Build("no-such-appsettings.json", required: false,
            [new("Api:Server:BaseUrl", "http://127.0.0.1:9/fhir"), new("Api:ApiKeys:0:Name", "ci"), new("Api:ApiKeys:0:Sha256", ApiKeyClient.Hash("k")), new(Trd.Fhir.Adapter.Mapping.PseudonymKey.ConfigurationKey, "synthetic-installation-secret-0002")],
            new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource());

        var (settings, errors) = ServeConfiguration.Bind(configuration);

        Assert.Empty(errors);
        Assert.Equal("synthetic-installation-secret-0002", settings.PseudonymKey);
    }

    [Fact]
    public void Validate_PseudonymKeyShorterThan16Bytes_StopsTheStartWithTheFix()
    {
        var settings = new ApiFactory().Settings;
        settings.PseudonymKey = "too-short";

        var error = Assert.Single(settings.Validate());

        Assert.Equal("Api:PseudonymKey: the pseudonym key needs at least 16 bytes (fix: a random secret, e.g. openssl rand -base64 32)", error);
    }
}
