using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Hl7.Fhir.Model;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Trd.Fhir.Adapter.Api;
using Trd.Fhir.Api.Tests.Infrastructure;

namespace Trd.Fhir.Api.Tests;

/// <summary>Authentication (API key, JWT bearer), the anonymous endpoints, rate limiting, and the error pipeline.</summary>
public sealed class SecurityTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private const string Issuer = "https://idp.example.org";
    private const string Audience = "trd-fhir-api";

    private static SymmetricSecurityKey NewKey(byte seed) => new(Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + seed)).ToArray()) { KeyId = "test-" + seed };

    private static string Token(SecurityKey key, string audience = Audience, TimeSpan? lifetime = null, string clientId = "lab-system")
    {
        var now = TimeProvider.System.GetUtcNow().UtcDateTime;
        var life = lifetime ?? TimeSpan.FromMinutes(5);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            NotBefore = life < TimeSpan.Zero ? now + life - TimeSpan.FromMinutes(10) : now,
            IssuedAt = life < TimeSpan.Zero ? now + life - TimeSpan.FromMinutes(10) : now,
            Expires = now + life,
            Claims = new Dictionary<string, object> { ["sub"] = "svc-1", ["client_id"] = clientId },
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });
    }

    private static ApiFactory JwtApi(SecurityKey key) => ApiFactory.Configure(s =>
    {
        s.Jwt.Issuer = Issuer;
        s.Jwt.Audience = Audience;
        s.Jwt.SigningKeys.Add(key);
    });

    private static async Task<HttpResponseMessage> ProbeWithBearerAsync(ApiFactory factory, string token)
    {
        var client = factory.Client(key: null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.PostAsync("/$validate", ApiFactory.Body(TestData.Example("phase1-augmentation")));
    }

    [Fact]
    public async Task Jwt_TokenSignedWithTheConfiguredKey_IsAccepted()
    {
        var key = NewKey(1);
        await using var factory = JwtApi(key);

        using var response = await ProbeWithBearerAsync(factory, Token(key));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"Client\":\"jwt:lab-system\"", await factory.LogsContainingAsync("jwt:lab-system"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jwt_TokenSignedWithAnotherKey_Returns401()
    {
        await using var factory = JwtApi(NewKey(1));

        using var response = await ProbeWithBearerAsync(factory, Token(NewKey(2)));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.Contains("refused", Assert.Single((await TestData.OutcomeAsync(response)).Issue).Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jwt_WrongAudience_Returns401()
    {
        var key = NewKey(1);
        await using var factory = JwtApi(key);

        using var response = await ProbeWithBearerAsync(factory, Token(key, audience: "another-api"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Jwt_ExpiredToken_Returns401()
    {
        var key = NewKey(1);
        await using var factory = JwtApi(key);

        using var response = await ProbeWithBearerAsync(factory, Token(key, lifetime: TimeSpan.FromMinutes(-5)));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Jwt_ApiKeyStillAcceptedBesideJwt()
    {
        await using var factory = JwtApi(NewKey(1));

        using var response = await factory.Client().PostAsync("/$validate", ApiFactory.Body(TestData.Example("phase1-augmentation")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task RateLimit_AboveThePermitsOfTheWindow_Returns429WithRetryAfter()
    {
        await using var factory = ApiFactory.Configure(s =>
        {
            s.RateLimitPermits = 3;
            s.RateLimitWindow = TimeSpan.FromMinutes(10);
        });
        var client = factory.Client();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var r = await client.GetAsync("/health");
            statuses.Add(r.StatusCode);
        }

        using var response = await client.PostAsync("/$validate", ApiFactory.Body(TestData.Example("phase1-augmentation")));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal((HttpStatusCode)429, response.StatusCode);
        var retryAfter = int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 600);
        var issue = Assert.Single((await TestData.OutcomeAsync(response)).Issue);
        Assert.Equal(OperationOutcome.IssueType.Throttled, issue.Code);
        Assert.Contains("at most 3 per 600 s", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RateLimit_IsPartitionedPerClient()
    {
        await using var factory = ApiFactory.Configure(s =>
        {
            s.RateLimitPermits = 2;
            s.RateLimitWindow = TimeSpan.FromMinutes(10);
            s.ApiKeys.Add(ApiKeyClient.FromKey("other-client", "synthetic-other-key"));
        });
        var first = factory.Client();
        for (var i = 0; i < 2; i++)
            (await first.GetAsync("/health")).Dispose();

        using var firstAgain = await first.GetAsync("/health");
        using var second = await factory.Client("synthetic-other-key").GetAsync("/health");

        Assert.Equal(HttpStatusCode.TooManyRequests, firstAgain.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
    }

    [Fact]
    public async Task Health_WithoutKey_Returns200()
    {
        using var response = await api.Client(key: null).GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ready_WithoutKey_Returns401()
    {
        using var response = await api.Client(key: null).GetAsync("/ready");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task OpenApi_DocumentListsEveryEndpoint()
    {
        using var response = await api.Client(key: null).GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        foreach (var path in new[] { "/protocols/$map", "/$validate", "/protocols", "/protocols/{id}/status", "/patients/{patient}/protocol", "/patients/{patient}/report", "/servers/probe", "/health", "/ready" })
            Assert.Contains($"\"{path}\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiReference_PageAndItsScriptAreServedLocally()
    {
        var client = api.Client(key: null);

        using var page = await client.GetAsync("/scalar/v1");
        var html = await page.Content.ReadAsStringAsync();
        var script = System.Text.RegularExpressions.Regex.Match(html, "<script[^>]+src=\"([^\"]+)\"").Groups[1].Value;
        using var js = await client.GetAsync(new Uri(new Uri("http://localhost/scalar/v1"), script));

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.DoesNotContain("cdn.jsdelivr", html, StringComparison.Ordinal);
        Assert.StartsWith("/scalar/", js.RequestMessage!.RequestUri!.AbsolutePath, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, js.StatusCode);
        Assert.True((await js.Content.ReadAsByteArrayAsync()).Length > 100_000);
    }

    [Fact]
    public async Task UnknownPath_Returns404Outcome()
    {
        using var response = await api.Client().GetAsync("/no/such/thing");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(OperationOutcome.IssueType.NotFound, Assert.Single((await TestData.OutcomeAsync(response)).Issue).Code);
    }

    [Fact]
    public async Task WrongMethod_Returns405Outcome()
    {
        using var response = await api.Client().GetAsync("/protocols/$map");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(OperationOutcome.IssueType.NotSupported, Assert.Single((await TestData.OutcomeAsync(response)).Issue).Code);
    }

    [Fact]
    public async Task CorrelationId_GivenIsReturned_MissingIsGenerated()
    {
        var client = api.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
        request.Headers.Add("X-Correlation-Id", "abc-123.x_y");

        using var given = await client.SendAsync(request);
        using var generated = await client.GetAsync("/health");

        Assert.Equal("abc-123.x_y", given.Headers.GetValues("X-Correlation-Id").Single());
        Assert.False(string.IsNullOrEmpty(generated.Headers.GetValues("X-Correlation-Id").Single()));
        Assert.NotEqual("abc-123.x_y", generated.Headers.GetValues("X-Correlation-Id").Single());
        Assert.Contains("\"CorrelationId\":\"abc-123.x_y\"", await api.LogsContainingAsync("abc-123.x_y"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonLogs_RequestEventIsCompactJsonWithRouteAndCorrelationId()
    {
        await using var factory = ApiFactory.Configure(s => s.JsonLogs = true);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/patients/https%3A%2F%2Fh.example.org%2Fmrn%7CSYN-JSONLOG-1/protocol");
        request.Headers.Add("X-Correlation-Id", "json-log-1");

        using var response = await factory.Client().SendAsync(request);
        var logs = await factory.LogsContainingAsync("json-log-1");

        var events = logs.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        var http = Assert.Single(events, e => e.TryGetProperty("@mt", out var mt) && mt.GetString()!.StartsWith("HTTP ", StringComparison.Ordinal));
        Assert.Equal("/patients/{patient}/protocol", http.GetProperty("Route").GetString());
        Assert.Equal("json-log-1", http.GetProperty("CorrelationId").GetString());
        Assert.Equal(502, http.GetProperty("StatusCode").GetInt32());
        Assert.DoesNotContain("SYN-JSONLOG-1", logs, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    [Fact]
    public void ApiKeyClient_HashIsSha256Hex()
    {
        Assert.Equal("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", ApiKeyClient.FromKey("x", "hello").Sha256);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData("hello"u8)), ApiKeyClient.Hash("hello"));
    }

    [Fact]
    public void Settings_WithoutAnyCredential_AreRefused()
    {
        var settings = new ApiSettings { Server = { BaseUrl = ApiFactory.UnreachableServer } };

        var errors = settings.Validate();

        Assert.Equal("Api:ApiKeys: no API key and no JWT authority configured, nobody could call the API (fix: set TRD_FHIR_API_KEY, or Api:ApiKeys, or Api:Jwt:Authority)", Assert.Single(errors));
    }
}
