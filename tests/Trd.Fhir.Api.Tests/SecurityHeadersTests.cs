using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Trd.Fhir.Adapter.Api;
using Trd.Fhir.Api.Tests.Infrastructure;

namespace Trd.Fhir.Api.Tests;

/// <summary>Safe HTTP defaults (docs/api.md "Security headers"): no-store and nosniff on every response that can carry
/// patient data, a strict CSP and no framing, HSTS only over HTTPS, CORS only for configured origins.</summary>
public sealed class SecurityHeadersTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values)
        : response.Content.Headers.TryGetValues(name, out var content) ? string.Join(",", content) : "";

    private static void AssertDataResponseHeaders(HttpResponseMessage response)
    {
        Assert.Equal("no-store", Header(response, "Cache-Control"));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal(SecurityHeaders.DataPolicy, Header(response, "Content-Security-Policy"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
        Assert.Equal("", Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("", Header(response, "Strict-Transport-Security"));
    }

    [Fact]
    public async Task Map_Success_CarriesNoStoreNosniffAndDataPolicy()
    {
        using var response = await api.Client().PostAsync("/protocols/$map", ApiFactory.Body(TestData.Example("phase1-augmentation")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertDataResponseHeaders(response);
    }

    [Theory]
    [InlineData(null, "/protocols/$map", HttpStatusCode.Unauthorized)]
    [InlineData(ApiFactory.Key, "/no/such/path", HttpStatusCode.NotFound)]
    [InlineData(ApiFactory.Key, "/protocols/$map", HttpStatusCode.UnprocessableEntity)]
    public async Task Errors_OperationOutcomes_CarryTheSameHeaders(string? key, string path, HttpStatusCode status)
    {
        using var response = await api.Client(key).PostAsync(path, ApiFactory.Body("{\"id\":\"x\"}"));

        Assert.Equal(status, response.StatusCode);
        AssertDataResponseHeaders(response);
    }

    [Fact]
    public async Task Health_Anonymous_CarriesTheSameHeaders()
    {
        using var response = await api.Client(key: null).GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertDataResponseHeaders(response);
    }

    [Fact]
    public async Task Https_Request_GetsHstsForAYear()
    {
        var client = api.Client();
        client.BaseAddress = new Uri("https://trd-fhir.example.org/");

        using var response = await client.GetAsync("/health");

        Assert.Equal("max-age=31536000", Header(response, "Strict-Transport-Security"));
    }

    [Fact]
    public async Task ApiReferencePage_Html_PolicyAllowsOnlyItsOwnScriptsByHash()
    {
        using var response = await api.Client(key: null).GetAsync("/scalar/v1");
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var inline = Regex.Matches(page, "<script(?<a>[^>]*)>(?<body>.*?)</script>", RegexOptions.Singleline)
            .Where(m => !m.Groups["a"].Value.Contains("src=", StringComparison.Ordinal)).Select(m => m.Groups["body"].Value).ToList();
        Assert.NotEmpty(inline);
        var policy = Header(response, "Content-Security-Policy");
        foreach (var script in inline)
            Assert.Contains("'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(script))) + "'", policy, StringComparison.Ordinal);
        Assert.StartsWith("default-src 'self'; script-src 'self' 'sha256-", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("'unsafe-inline'", policy.Split(';').Single(d => d.Trim().StartsWith("script-src", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
    }

    [Fact]
    public void ForHtml_InlineStyleAndScript_EachAllowedByItsHashOnly()
    {
        var policy = SecurityHeaders.ForHtml("<html><head><style>p{color:red}</style><script src=\"/x.js\"></script><script>go()</script></head></html>");

        static string Hash(string s) => "'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(s))) + "'";
        Assert.Equal($"default-src 'none'; style-src {Hash("p{color:red}")}; script-src {Hash("go()")}; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'", policy);
    }

    [Fact]
    public async Task Cors_NotConfigured_PreflightGetsNoAllowOrigin()
    {
        using var request = Preflight("https://portal.example.org");
        using var response = await api.Client(key: null).SendAsync(request);

        Assert.Equal("", Header(response, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_ConfiguredOrigin_AllowedAndOthersNot()
    {
        await using var factory = ApiFactory.Configure(s => s.CorsOrigins.Add("https://portal.example.org"));

        using var allowed = await factory.Client(key: null).SendAsync(Preflight("https://portal.example.org"));
        using var other = await factory.Client(key: null).SendAsync(Preflight("https://evil.example.net"));

        Assert.Equal("https://portal.example.org", Header(allowed, "Access-Control-Allow-Origin"));
        Assert.Contains("x-api-key", Header(allowed, "Access-Control-Allow-Headers"), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("", Header(other, "Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("https://portal.example.org/")]
    [InlineData("https://portal.example.org/app")]
    [InlineData("portal.example.org")]
    public void Cors_OriginThatIsNotAnOrigin_StopsTheStartWithTheFix(string origin)
    {
        var settings = new ApiFactory().Settings;
        settings.CorsOrigins.Add(origin);

        var error = Assert.Single(settings.Validate());

        Assert.Equal($"Api:CorsOrigins: '{origin}' is not an origin (fix: scheme://host[:port] without a path or trailing slash, e.g. https://portal.example.org; '*' is not allowed)", error);
    }

    private static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/protocols/$map");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "x-api-key,content-type");
        return request;
    }
}
