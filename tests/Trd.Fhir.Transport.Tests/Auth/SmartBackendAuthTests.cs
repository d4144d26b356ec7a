using System.Net;
using System.Security.Cryptography;
using System.Text;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Auth;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests.Auth;

/// <summary>SMART Backend Services (SmartBackendAuthHandler + SmartTokenProvider) against a token endpoint that verifies every assertion.</summary>
public sealed class SmartBackendAuthTests : IDisposable
{
    private const string Scope = "system/Patient.read system/Observation.write";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);
    private static readonly Uri Patient = new("Patient/1", UriKind.Relative);

    private readonly TestClock _clock = new();
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            disposable.Dispose();
        }
    }

    private T Track<T>(T disposable) where T : IDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    private SmartServer Server(string algorithm = "RS384") => Track(new SmartServer(_clock, algorithm));

    private TransportSut Sut(SmartServer smart, bool pkcs8 = true, Action<AuthOptions>? auth = null)
    {
        var key = Track(new TempFile(smart.PrivateKeyPem(pkcs8)));
        var options = new FhirServerOptions { BaseUrl = new Uri(smart.BaseUrl) };
        options.Resilience.BaseDelay = TimeSpan.FromMilliseconds(100);
        options.Auth = new AuthOptions
        {
            Kind = AuthKind.SmartBackend,
            ClientId = SmartServer.ClientId,
            KeyId = SmartServer.KeyId,
            PrivateKeyPath = key.Path,
            Algorithm = smart.Algorithm,
            Scope = Scope,
            // ES384 is accepted only with a JWKS URL (Epic, SMART); RS384 here uses the statically registered key.
            JwksUrl = smart.Algorithm == "ES384" ? new Uri(smart.JwksUrl) : null,
        };
        auth?.Invoke(options.Auth);
        return Track(TransportSut.Create(options, _clock));
    }

    [Theory]
    [InlineData("RS384", true)]
    [InlineData("RS384", false)]
    [InlineData("ES384", true)]
    [InlineData("ES384", false)]
    public async Task SendAsync_SeveralCalls_OneTokenRequestWithAVerifiedAssertion(string algorithm, bool pkcs8)
    {
        var smart = Server(algorithm);
        var sut = Sut(smart, pkcs8);

        for (var i = 0; i < 3; i++)
        {
            using var response = await sut.Client.GetAsync(Patient).WaitAsync(Guard);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Empty(smart.Refusals);
        Assert.Equal(1, smart.DiscoveryRequests);
        Assert.Equal(["Bearer token-1", "Bearer token-1", "Bearer token-1"], smart.FhirAuthorizations);
        var token = Assert.Single(smart.TokenRequests);
        Assert.Equal("client_credentials", token.Form["grant_type"]);
        Assert.Equal("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", token.Form["client_assertion_type"]);
        Assert.Equal(Scope, token.Form["scope"]);
        Assert.Equal((algorithm, "JWT", SmartServer.KeyId),
            (token.Header.GetProperty("alg").GetString(), token.Header.GetProperty("typ").GetString(), token.Header.GetProperty("kid").GetString()));
        Assert.Equal((SmartServer.ClientId, SmartServer.ClientId, smart.TokenUrl),
            (token.Claims.GetProperty("iss").GetString(), token.Claims.GetProperty("sub").GetString(), token.Claims.GetProperty("aud").GetString()));
        Assert.Equal(token.Now + 240, token.Claims.GetProperty("exp").GetInt64());
        Assert.Equal(token.Now, token.Claims.GetProperty("iat").GetInt64());
        Assert.Equal(token.Now, token.Claims.GetProperty("nbf").GetInt64());
        Assert.Matches("^[0-9a-f]{64}$", token.Claims.GetProperty("jti").GetString());

        var host = new Uri(smart.TokenUrl).Host;
        Assert.Contains(sut.Logs.Lines, l => l.Contains($"SMART access token obtained from {host}: expires in 300 s, scope granted {Scope}", StringComparison.Ordinal));
        Assert.DoesNotContain("token-1", sut.Logs.All, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Form["client_assertion"].Split('.')[2], sut.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_TokenReachesItsRefreshTime_FetchesANewTokenWithANewJti()
    {
        var smart = Server();
        var sut = Sut(smart);

        (await sut.Client.GetAsync(Patient).WaitAsync(Guard)).Dispose();
        _clock.Advance(TimeSpan.FromSeconds(239)); // expires_in 300, refreshed 60 s early
        (await sut.Client.GetAsync(Patient).WaitAsync(Guard)).Dispose();
        _clock.Advance(TimeSpan.FromSeconds(1));
        (await sut.Client.GetAsync(Patient).WaitAsync(Guard)).Dispose();

        Assert.Empty(smart.Refusals); // includes "jti reused"
        Assert.Equal(["Bearer token-1", "Bearer token-1", "Bearer token-2"], smart.FhirAuthorizations);
        var requests = smart.TokenRequests;
        Assert.Equal(2, requests.Count);
        Assert.Equal(requests[0].Now + 240, requests[1].Now);
        Assert.NotEqual(requests[0].Claims.GetProperty("jti").GetString(), requests[1].Claims.GetProperty("jti").GetString());
        Assert.Equal(1, smart.DiscoveryRequests);
    }

    [Fact]
    public async Task SendAsync_FhirAnswers401_RefreshesTokenOnceAndResendsTheSameRequest()
    {
        const string observation = """{"resourceType":"Observation","status":"final"}""";
        var smart = Server();
        var sut = Sut(smart);
        (await sut.Client.GetAsync(Patient).WaitAsync(Guard)).Dispose();
        smart.Revoke("token-1");

        // A plain POST: not safe to retry after a failure, but a 401 means it was not processed, so one resend is safe.
        using var response = await sut.Client.PostAsync(new Uri("Observation", UriKind.Relative),
            new StringContent(observation, Encoding.UTF8, "application/fhir+json")).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["Bearer token-1", "Bearer token-1", "Bearer token-2"], smart.FhirAuthorizations);
        Assert.Equal([observation, observation], smart.Server.RequestMessages("/fhir/Observation").Select(r => r.Body));
        Assert.Equal(2, smart.TokenRequests.Count);
        Assert.Empty(smart.Refusals);
    }

    [Fact]
    public async Task SendAsync_FhirAnswers401AfterRefresh_Returns401WithoutAnotherRefresh()
    {
        var smart = Server();
        smart.RejectAllTokens = true;
        var sut = Sut(smart);

        using var response = await sut.Client.GetAsync(Patient).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(["Bearer token-1", "Bearer token-2"], smart.FhirAuthorizations);
        Assert.Equal(2, smart.TokenRequests.Count);
    }

    [Fact]
    public async Task SendAsync_ConcurrentCalls_ShareOneTokenFetch()
    {
        var smart = Server("ES384");
        var sut = Sut(smart);
        var client = sut.Client;

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.GetAsync(Patient))).WaitAsync(Guard);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Single(smart.TokenRequests);
        Assert.Equal(Enumerable.Repeat("Bearer token-1", 8), smart.FhirAuthorizations);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task SendAsync_TokenEndpointBrieflyUnavailable_RequestRetriedWithAFreshAssertion()
    {
        var smart = Server();
        smart.UnavailableTokenRequests = 1;
        var sut = Sut(smart);

        var call = sut.Client.GetAsync(Patient);
        await _clock.AdvanceThroughNextDelayAsync();
        using var response = await call.WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["Bearer token-1"], smart.FhirAuthorizations);
        var requests = smart.TokenRequests;
        Assert.Equal(2, requests.Count);
        Assert.NotEqual(requests[0].Claims.GetProperty("jti").GetString(), requests[1].Claims.GetProperty("jti").GetString());
        Assert.Empty(smart.Refusals);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    public async Task SendAsync_TokenEndpointAnswersInvalidClient_FhirAuthExceptionNamesCausesWithoutSecrets(int status)
    {
        var smart = Server();
        smart.RefuseAllWith = status;
        var sut = Sut(smart);

        var ex = await Assert.ThrowsAsync<FhirAuthException>(() => sut.Client.GetAsync(Patient).WaitAsync(Guard));

        Assert.Equal((FhirAuthError.InvalidClient, "invalid_client", (HttpStatusCode)status), (ex.Error, ex.OAuthError, ex.StatusCode));
        Assert.StartsWith($"The SMART token endpoint {smart.TokenUrl} did not accept the client assertion: invalid_client (HTTP {status}). Likely causes: ", ex.Message, StringComparison.Ordinal);
        foreach (var cause in new[] { $"client id '{SmartServer.ClientId}'", "private key does not match", $"kid '{SmartServer.KeyId}'",
                     $"aud is the token URL '{smart.TokenUrl}'", "clock", "proxy" })
        {
            Assert.Contains(cause, ex.Message, StringComparison.Ordinal);
        }

        var assertion = Assert.Single(smart.TokenRequests).Form["client_assertion"]; // not retried: a retry will not fix it
        var everything = ex + "\n" + sut.Logs.All;
        foreach (var secret in assertion.Split('.').Append(smart.PrivateKeyPem(pkcs8: true).Split('\n')[1]))
        {
            Assert.DoesNotContain(secret, everything, StringComparison.Ordinal);
        }

        Assert.Empty(smart.FhirAuthorizations);
    }

    [Fact]
    public async Task SendAsync_AssertionSignedWithAnotherKey_RefusedAndFhirAuthException()
    {
        var smart = Server();
        using var otherKey = RSA.Create(2048);
        var key = Track(new TempFile(otherKey.ExportPkcs8PrivateKeyPem()));
        var sut = Sut(smart, auth: a => a.PrivateKeyPath = key.Path);

        var ex = await Assert.ThrowsAsync<FhirAuthException>(() => sut.Client.GetAsync(Patient).WaitAsync(Guard));

        Assert.Equal(FhirAuthError.InvalidClient, ex.Error);
        Assert.Equal(["signature does not verify with the registered key"], smart.Refusals);
        Assert.Empty(smart.FhirAuthorizations);
    }

    [Fact]
    public async Task SendAsync_TokenEndpointConfigured_NoDiscovery()
    {
        var smart = Server();
        var sut = Sut(smart, auth: a => a.TokenEndpoint = new Uri(smart.TokenUrl));

        using var response = await sut.Client.GetAsync(Patient).WaitAsync(Guard);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, smart.DiscoveryRequests);
        Assert.Single(smart.TokenRequests);
        Assert.Empty(smart.Refusals);
    }

    [Fact]
    public async Task SendAsync_NoSmartConfiguration_FhirAuthExceptionDiscovery()
    {
        using var bare = WireMockServer.Start();
        bare.Given(Request.Create().UsingAnyMethod()).RespondWith(Response.Create().WithStatusCode(404));
        using var rsa = RSA.Create(2048);
        var key = Track(new TempFile(rsa.ExportPkcs8PrivateKeyPem()));
        var options = new FhirServerOptions
        {
            BaseUrl = new Uri(bare.Url + "/fhir"),
            Auth = new AuthOptions { Kind = AuthKind.SmartBackend, ClientId = SmartServer.ClientId, PrivateKeyPath = key.Path },
        };
        var sut = Track(TransportSut.Create(options, _clock));

        var ex = await Assert.ThrowsAsync<FhirAuthException>(() => sut.Client.GetAsync(Patient).WaitAsync(Guard));

        Assert.Equal((FhirAuthError.Discovery, HttpStatusCode.NotFound), (ex.Error, ex.StatusCode));
        Assert.Equal(
            $"SMART discovery GET {bare.Url}/fhir/.well-known/smart-configuration answered HTTP 404. " +
            "Set FhirServer:Auth:TokenEndpoint to the server's token URL, or check FhirServer:BaseUrl.", ex.Message);
        Assert.Equal(["GET /fhir/.well-known/smart-configuration"], bare.Requests());
    }

    [Fact]
    public async Task SendAsync_KeyFileMissing_FhirAuthExceptionConfiguration()
    {
        var smart = Server();
        var sut = Sut(smart, auth: a => a.PrivateKeyPath = "/nonexistent/trd-key.pem");

        var ex = await Assert.ThrowsAsync<FhirAuthException>(() => sut.Client.GetAsync(Patient).WaitAsync(Guard));

        Assert.Equal(FhirAuthError.Configuration, ex.Error);
        Assert.Equal("The SMART private key file '/nonexistent/trd-key.pem' cannot be read (DirectoryNotFoundException).", ex.Message);
        Assert.Empty(smart.TokenRequests);
    }

    [Fact]
    public async Task SendAsync_Es384WithAnRsaKey_FhirAuthExceptionConfiguration()
    {
        var smart = Server("RS384");
        var sut = Sut(smart, auth: a =>
        {
            a.Algorithm = "ES384";
            a.JwksUrl = new Uri(smart.JwksUrl); // ES384 is configured only with a JWKS URL
        });

        var ex = await Assert.ThrowsAsync<FhirAuthException>(() => sut.Client.GetAsync(Patient).WaitAsync(Guard));

        Assert.Equal(FhirAuthError.Configuration, ex.Error);
        Assert.Contains("holds no EC private key usable for ES384", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(smart.PrivateKeyPem(pkcs8: true).Split('\n')[1], ex.ToString(), StringComparison.Ordinal);
    }
}
