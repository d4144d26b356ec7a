using System.Net;
using Microsoft.Extensions.Options;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Auth;
using Trd.Fhir.Transport.Tests.Infrastructure;

namespace Trd.Fhir.Transport.Tests.Auth;

/// <summary>
/// SMART Backend Services as Epic registers clients: RS384 with a static key (no <c>jku</c>); RS384 or ES384 with a JWKS
/// URL (<c>jku</c> + <c>kid</c> in the JWT header); ES384 without a JWKS URL refused as a usage error; the optional
/// <c>Epic-Client-ID</c> header; scopes from options. Against the WireMock token endpoint that verifies every assertion.
/// </summary>
public sealed class EpicClientRegistrationTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);
    private static readonly Uri Patient = new("Patient/1", UriKind.Relative);

    private readonly TestClock _clock = new();
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
            disposable.Dispose();
    }

    private T Track<T>(T disposable) where T : IDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    private FhirServerOptions Options(SmartServer smart, Action<AuthOptions>? auth = null)
    {
        var key = Track(new TempFile(smart.PrivateKeyPem(pkcs8: true)));
        var options = new FhirServerOptions { BaseUrl = new Uri(smart.BaseUrl) };
        options.Auth = new AuthOptions
        {
            Kind = AuthKind.SmartBackend,
            ClientId = SmartServer.ClientId,
            KeyId = SmartServer.KeyId,
            PrivateKeyPath = key.Path,
            Algorithm = smart.Algorithm,
        };
        auth?.Invoke(options.Auth);
        return options;
    }

    private async Task<SmartServer.TokenRequest> OneCallAsync(SmartServer smart, FhirServerOptions options)
    {
        using var sut = TransportSut.Create(options, _clock);
        using var response = await sut.Client.GetAsync(Patient).WaitAsync(Guard);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(smart.Refusals);
        return Assert.Single(smart.TokenRequests);
    }

    private static string? Text(System.Text.Json.JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.GetString() : null;

    [Fact]
    public async Task TokenRequest_Rs384WithAStaticKey_HeaderHasAlgTypKidAndNoJku()
    {
        var smart = Track(new SmartServer(_clock, "RS384"));

        var token = await OneCallAsync(smart, Options(smart));

        Assert.Equal(("RS384", "JWT", SmartServer.KeyId, (string?)null),
            (Text(token.Header, "alg"), Text(token.Header, "typ"), Text(token.Header, "kid"), Text(token.Header, "jku")));
        Assert.Equal((SmartServer.ClientId, SmartServer.ClientId, smart.TokenUrl),
            (Text(token.Claims, "iss"), Text(token.Claims, "sub"), Text(token.Claims, "aud")));
    }

    [Theory]
    [InlineData("RS384")]
    [InlineData("ES384")]
    public async Task TokenRequest_WithAJwksUrl_HeaderCarriesJkuAndKid(string algorithm)
    {
        var smart = Track(new SmartServer(_clock, algorithm));

        var token = await OneCallAsync(smart, Options(smart, a => a.JwksUrl = new Uri(smart.JwksUrl)));

        Assert.Equal((algorithm, "JWT", SmartServer.KeyId, smart.JwksUrl),
            (Text(token.Header, "alg"), Text(token.Header, "typ"), Text(token.Header, "kid"), Text(token.Header, "jku")));
        Assert.Equal((SmartServer.ClientId, SmartServer.ClientId, smart.TokenUrl),
            (Text(token.Claims, "iss"), Text(token.Claims, "sub"), Text(token.Claims, "aud")));
        Assert.Equal(token.Now + 240, token.Claims.GetProperty("exp").GetInt64());
        Assert.Matches("^[0-9a-f]{64}$", Text(token.Claims, "jti"));
    }

    [Fact]
    public void AddTrdFhirTransport_Es384WithoutAJwksUrl_RefusedWithAUsageMessage()
    {
        var smart = Track(new SmartServer(_clock, "ES384"));

        var error = Assert.Throws<OptionsValidationException>(() => TransportSut.Create(Options(smart), _clock));

        Assert.Equal(
            "FhirServer:Auth: ES384 needs a JWKS URL (FhirServer:Auth:JwksUrl, CLI --jwks-url): EC keys are registered only " +
            "through a JWK Set URL, sent as 'jku' with the key's 'kid' in the JWT header. Give the JWKS URL registered for the " +
            "client and the key id, or use RS384 with the statically registered RSA key.",
            Assert.Single(error.Failures));
        Assert.Empty(smart.TokenRequests);
    }

    [Fact]
    public void AddTrdFhirTransport_JwksUrlWithoutKeyId_RefusedNamingKid()
    {
        var smart = Track(new SmartServer(_clock, "RS384"));

        var error = Assert.Throws<OptionsValidationException>(() => TransportSut.Create(Options(smart, a =>
        {
            a.JwksUrl = new Uri(smart.JwksUrl);
            a.KeyId = null;
        }), _clock));

        Assert.Contains("needs the key id (FhirServer:Auth:KeyId, CLI --key-id)", Assert.Single(error.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_EpicClientIdSet_HeaderOnDiscoveryTokenAndFhirRequests()
    {
        var smart = Track(new SmartServer(_clock, "RS384"));

        await OneCallAsync(smart, Options(smart, a => a.EpicClientId = SmartServer.ClientId));

        Assert.Equal(
            [("/fhir/.well-known/smart-configuration", SmartServer.ClientId), ("/oauth2/token", SmartServer.ClientId), ("/fhir/Patient/1", SmartServer.ClientId)],
            smart.EpicClientIds);
    }

    [Fact]
    public async Task SendAsync_EpicClientIdNotSet_NoHeaderAnywhere()
    {
        var smart = Track(new SmartServer(_clock, "RS384"));

        await OneCallAsync(smart, Options(smart));

        Assert.All(smart.EpicClientIds, r => Assert.Null(r.EpicClientId));
        Assert.Equal(3, smart.EpicClientIds.Count);
    }

    [Fact]
    public async Task TokenRequest_NoScopeGiven_AsksForTheDefaultScopeAServerProfileSet()
    {
        var smart = Track(new SmartServer(_clock, "RS384"));
        var profileScope = SmartScopes.For(["Patient", "Condition", "Observation"], ["Condition"]);

        var token = await OneCallAsync(smart, Options(smart, a => a.DefaultScope = profileScope));

        Assert.Equal("system/Patient.read system/Condition.read system/Observation.read system/Condition.write", token.Form["scope"]);
    }

    [Fact]
    public async Task TokenRequest_ScopeGiven_WinsOverTheDefault()
    {
        var smart = Track(new SmartServer(_clock, "RS384"));

        var token = await OneCallAsync(smart, Options(smart, a =>
        {
            a.DefaultScope = "system/Observation.read";
            a.Scope = "system/Patient.read";
        }));

        Assert.Equal("system/Patient.read", token.Form["scope"]);
    }

    [Fact]
    public void SmartScopes_Defaults_AndBadTypeNames()
    {
        Assert.Equal("system/*.read system/*.write", new AuthOptions().EffectiveScope);
        Assert.Equal("system/*.read", SmartScopes.For(["*", "*"], []));
        Assert.Throws<ArgumentException>(() => SmartScopes.For(["Patient.read"], []));
        Assert.Throws<ArgumentException>(() => SmartScopes.For([], []));
    }

    [Theory]
    [InlineData(new[] { "--alg", "ES384" }, "--alg ES384 needs --jwks-url (and --key-id)")]
    [InlineData(new[] { "--alg", "RS384", "--jwks-url", "https://app.example.org/jwks.json" }, "--jwks-url needs --key-id")]
    public void Cli_SmartBackendWithoutWhatTheKeyNeeds_UsageErrorExit2(string[] extra, string message)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        string[] args = ["pull", "--server", "https://fhir.example.org/r4", "--patient", "urn:test|1", "--auth", "smart-backend",
            "--client-id", SmartServer.ClientId, "--private-key", "key.pem", .. extra];

        var exit = Trd.Fhir.Adapter.Cli.CliApp.Run(args, new Trd.Fhir.Adapter.Cli.CliConsole(stdout, stderr));

        Assert.Equal(2, exit);
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("-5s")]
    [InlineData("25h")]
    public void Cli_MaxWaitNotAWait_UsageErrorExit2(string maxWait)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var exit = Trd.Fhir.Adapter.Cli.CliApp.Run(["push", "--server", "https://fhir.example.org/r4", "--max-wait", maxWait, "p.json"],
            new Trd.Fhir.Adapter.Cli.CliConsole(stdout, stderr));

        Assert.Equal(2, exit);
        Assert.Contains($"--max-wait '{maxWait}' is not a wait of 0 to 24 hours", stderr.ToString(), StringComparison.Ordinal);
    }
}
