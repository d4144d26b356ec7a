using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trd.Fhir.Adapter.Transport.Auth;

/// <summary>
/// Gets and caches the SMART Backend Services access token of the configured FHIR server (one per process).
/// Discovers the token endpoint from <c>{base}/.well-known/smart-configuration</c> unless AuthOptions.TokenEndpoint is
/// set, signs a fresh client assertion for every token request, caches the token until shortly before it expires
/// (by the injected TimeProvider), and lets concurrent callers share one fetch. Logs the endpoint host, expires_in and
/// the scope granted — never the assertion or the token.
/// </summary>
internal sealed class SmartTokenProvider : IDisposable
{
    /// <summary>The plain HttpClient (no auth, no retries) used for discovery and token requests.</summary>
    internal const string HttpClientName = "trd-fhir-auth";

    internal const string ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    /// <summary>Refresh this long before expires_in runs out (half the lifetime for tokens of 2 min or less).</summary>
    internal static readonly TimeSpan RefreshMargin = TimeSpan.FromSeconds(60);

    /// <summary>Assumed lifetime when the response omits expires_in (SMART recommends at most 300 s).</summary>
    private static readonly TimeSpan DefaultLifetime = TimeSpan.FromSeconds(300);

    private readonly IHttpClientFactory _httpClients;
    private readonly FhirServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SmartTokenProvider> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private CachedToken? _cached;
    private TokenEndpoint? _endpoint;
    private SmartClientAssertion? _assertion;

    public SmartTokenProvider(
        IHttpClientFactory httpClients, IOptions<FhirServerOptions> options, TimeProvider time, ILogger<SmartTokenProvider> logger)
    {
        _httpClients = httpClients;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        if (Valid(Volatile.Read(ref _cached)) is { } token)
        {
            return token;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (Valid(_cached) is { } fetchedMeanwhile)
            {
                return fetchedMeanwhile;
            }

            var fresh = await FetchAsync(cancellationToken);
            Volatile.Write(ref _cached, fresh);
            return fresh.AccessToken;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drops the cached token if it is still <paramref name="rejected"/> (a concurrent caller may have replaced it).</summary>
    public void Invalidate(string rejected)
    {
        var current = Volatile.Read(ref _cached);
        if (current is not null && current.AccessToken == rejected)
        {
            Interlocked.CompareExchange(ref _cached, null, current);
            _logger.LogInformation("FHIR server answered 401: dropping the cached SMART access token");
        }
    }

    /// <summary>
    /// The scope a token request asks for now: <c>--scope</c>, else <see cref="AuthOptions.DefaultScope"/> — which a server
    /// profile sets, possibly only once it was detected from <c>/metadata</c> (<see cref="UseProfileScope"/>).
    /// </summary>
    internal string Scope => _options.Auth.EffectiveScope;

    /// <summary>
    /// A server profile's scopes become the default scope when the user gave none (<c>--scope</c>); a cached token asked
    /// with another scope is dropped, so the next request gets one with the profile's scopes. No-op when
    /// <paramref name="scopes"/> is empty or a scope was given.
    /// </summary>
    internal void UseProfileScope(IReadOnlyList<string> scopes)
    {
        var auth = _options.Auth;
        if (scopes.Count == 0 || !string.IsNullOrWhiteSpace(auth.Scope))
            return;
        auth.DefaultScope = string.Join(' ', scopes);
        var current = Volatile.Read(ref _cached);
        if (current is not null && current.Scope != auth.EffectiveScope)
            Interlocked.CompareExchange(ref _cached, null, current);
    }

    private string? Valid(CachedToken? token) => token is not null && _time.GetUtcNow() < token.RefreshAt && token.Scope == Scope ? token.AccessToken : null;

    private async Task<CachedToken> FetchAsync(CancellationToken cancellationToken)
    {
        var auth = _options.Auth;
        _assertion ??= SmartClientAssertion.Load(auth);
        var endpoint = _endpoint ??= auth.TokenEndpoint is { } configured
            ? new TokenEndpoint(configured, configured.OriginalString)
            : await DiscoverAsync(cancellationToken);

        var assertion = _assertion.Create(endpoint.Audience, _time.GetUtcNow());
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", "client_credentials"),
            new("client_assertion_type", ClientAssertionType),
            new("client_assertion", assertion),
        };
        var scope = auth.EffectiveScope;
        form.Add(new("scope", scope));

        using var http = _httpClients.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        EpicClientIdHandler.Add(request, auth.EpicClientId);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw TokenFailure(response.StatusCode, body, endpoint, assertion);
        }

        var (accessToken, lifetime, granted) = ParseToken(body, endpoint);
        var margin = lifetime > 2 * RefreshMargin ? RefreshMargin : lifetime / 2;
        _logger.LogInformation("SMART access token obtained from {TokenHost}: expires in {ExpiresIn} s, scope granted {Scope}",
            endpoint.Url.Host, (long)lifetime.TotalSeconds, granted ?? "(not stated)");
        return new CachedToken(accessToken, _time.GetUtcNow() + lifetime - margin, scope);
    }

    private async Task<TokenEndpoint> DiscoverAsync(CancellationToken cancellationToken)
    {
        var baseUrl = _options.BaseUrl ?? throw new FhirAuthException(FhirAuthError.Configuration, "FhirServer:BaseUrl is required.");
        var url = new Uri(TransportServiceCollectionExtensions.WithTrailingSlash(baseUrl), ".well-known/smart-configuration");
        using var http = _httpClients.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        EpicClientIdHandler.Add(request, _options.Auth.EpicClientId);
        using var response = await http.SendAsync(request, cancellationToken);
        if (IsTransient(response.StatusCode))
        {
            throw new HttpRequestException(
                $"SMART discovery GET {url} answered HTTP {(int)response.StatusCode}.", null, response.StatusCode);
        }

        const string hint = "Set FhirServer:Auth:TokenEndpoint to the server's token URL, or check FhirServer:BaseUrl.";
        if (!response.IsSuccessStatusCode)
        {
            throw new FhirAuthException(FhirAuthError.Discovery,
                $"SMART discovery GET {url} answered HTTP {(int)response.StatusCode}. {hint}", null, response.StatusCode);
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("token_endpoint", out var value)
                && value.ValueKind == JsonValueKind.String
                && Uri.TryCreate(value.GetString(), UriKind.Absolute, out var tokenUrl)
                && (tokenUrl.Scheme == Uri.UriSchemeHttps || tokenUrl.Scheme == Uri.UriSchemeHttp))
            {
                _logger.LogInformation("SMART token endpoint discovered at {TokenHost}", tokenUrl.Host);
                return new TokenEndpoint(tokenUrl, value.GetString()!);
            }
        }
        catch (JsonException)
        {
            // reported below
        }

        throw new FhirAuthException(FhirAuthError.Discovery,
            $"SMART discovery GET {url} returned no absolute http(s) 'token_endpoint'. {hint}");
    }

    private static (string AccessToken, TimeSpan Lifetime, string? Scope) ParseToken(string body, TokenEndpoint endpoint)
    {
        string Invalid(string what) =>
            $"The SMART token endpoint {endpoint.Url.GetLeftPart(UriPartial.Path)} answered success but {what}.";

        try
        {
            using var json = JsonDocument.Parse(body);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("access_token", out var token) || token.ValueKind != JsonValueKind.String
                || string.IsNullOrEmpty(token.GetString()))
            {
                throw new FhirAuthException(FhirAuthError.InvalidTokenResponse, Invalid("without an access_token"));
            }

            var type = root.TryGetProperty("token_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (!string.Equals(type, "bearer", StringComparison.OrdinalIgnoreCase))
            {
                throw new FhirAuthException(FhirAuthError.InvalidTokenResponse,
                    Invalid($"with token_type '{type ?? "(none)"}' instead of bearer"));
            }

            var lifetime = DefaultLifetime;
            if (root.TryGetProperty("expires_in", out var e))
            {
                double seconds = 0;
                var ok = e.ValueKind == JsonValueKind.Number ? e.TryGetDouble(out seconds)
                    : e.ValueKind == JsonValueKind.String
                      && double.TryParse(e.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out seconds);
                if (!ok || seconds <= 0)
                {
                    throw new FhirAuthException(FhirAuthError.InvalidTokenResponse, Invalid("with an invalid expires_in"));
                }

                lifetime = TimeSpan.FromSeconds(seconds);
            }

            var scope = root.TryGetProperty("scope", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            return (token.GetString()!, lifetime, scope);
        }
        catch (JsonException)
        {
            throw new FhirAuthException(FhirAuthError.InvalidTokenResponse, Invalid("not with JSON"));
        }
    }

    private Exception TokenFailure(HttpStatusCode status, string body, TokenEndpoint endpoint, string assertion)
    {
        var url = endpoint.Url.GetLeftPart(UriPartial.Path);
        var code = (int)status;
        if (IsTransient(status))
        {
            _logger.LogWarning("SMART token request to {TokenHost} answered HTTP {Status}", endpoint.Url.Host, code);
            return new HttpRequestException($"The SMART token endpoint {url} answered HTTP {code}.", null, status);
        }

        var (error, description) = ParseError(body);
        description = Scrub(description, assertion);
        _logger.LogWarning("SMART token request to {TokenHost} refused: {OAuthError} (HTTP {Status})",
            endpoint.Url.Host, error ?? "(no error code)", code);
        var said = $"{error ?? "no OAuth error code"} (HTTP {code}{(description is null ? string.Empty : $": {description}")})";
        var auth = _options.Auth;

        if (error == "invalid_client" || (error is null && status == HttpStatusCode.Unauthorized))
        {
            var kid = auth.KeyId is null ? "no kid is sent" : $"kid '{auth.KeyId}'";
            return new FhirAuthException(FhirAuthError.InvalidClient,
                $"The SMART token endpoint {url} did not accept the client assertion: {said}. Likely causes: " +
                $"(1) client id '{auth.ClientId}' is not registered at this server, not active yet (new apps and keys can take " +
                "an hour or more to sync) or is the id of another environment (production vs non-production); " +
                $"(2) the private key does not match the public key registered for the client (JWKS URL / {kid}, " +
                $"algorithm {_assertion?.Algorithm}); " +
                $"(3) aud is the token URL '{endpoint.Audience}', and the server expects another one (e.g. behind a proxy: " +
                "set FhirServer:Auth:TokenEndpoint); " +
                "(4) this machine's clock is off: the assertion is valid from now for 4 minutes and servers refuse it " +
                "when exp lies more than 5 minutes ahead or in the past; " +
                "(5) in production, the client id is not yet mapped to a user account at the site.", null, status)
            { OAuthError = error };
        }

        var hint = error switch
        {
            "invalid_scope" => $" The scope '{auth.EffectiveScope}' is not granted to client '{auth.ClientId}': ask for less, or have it granted.",
            "unauthorized_client" => $" Client '{auth.ClientId}' may not use the client_credentials grant: register it as a backend service.",
            "unsupported_grant_type" => " The server does not support client_credentials (SMART Backend Services) at this endpoint.",
            _ when code is 404 or 405 => " Check the token endpoint URL (FhirServer:Auth:TokenEndpoint or the discovered one).",
            _ => string.Empty,
        };
        return new FhirAuthException(FhirAuthError.TokenRequestRejected,
            $"The SMART token endpoint {url} refused the token request: {said}.{hint}", null, status) { OAuthError = error };
    }

    private static (string? Error, string? Description) ParseError(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, null);
            }

            static string? Text(JsonElement root, string name) =>
                root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return (Text(json.RootElement, "error"), Text(json.RootElement, "error_description"));
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    /// <summary>The server's own description, shortened, and never echoing the assertion back.</summary>
    private static string? Scrub(string? description, string assertion)
    {
        if (string.IsNullOrWhiteSpace(description))
        {
            return null;
        }

        if (description.Contains(assertion, StringComparison.Ordinal) || description.Contains(assertion.Split('.')[^1], StringComparison.Ordinal))
        {
            return "(description withheld: it echoed the client assertion)";
        }

        return description.Length <= 300 ? description : description[..300] + "…";
    }

    private static bool IsTransient(HttpStatusCode status) => (int)status is 408 or 429 or >= 500;

    public void Dispose()
    {
        _assertion?.Dispose();
        _gate.Dispose();
    }

    private sealed record CachedToken(string AccessToken, DateTimeOffset RefreshAt, string Scope);

    /// <summary>The token URL to post to, and the same URL exactly as the server wrote it (the assertion's aud).</summary>
    private sealed record TokenEndpoint(Uri Url, string Audience);
}
