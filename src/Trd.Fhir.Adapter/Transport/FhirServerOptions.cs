using System.ComponentModel.DataAnnotations;

namespace Trd.Fhir.Adapter.Transport;

/// <summary>One FHIR server the adapter talks to. Bound from configuration section <c>FhirServer</c> or CLI options.</summary>
public sealed class FhirServerOptions
{
    /// <summary>The FHIR base URL, e.g. https://fhir.example.org/r4 (no trailing /metadata).</summary>
    [Required]
    public Uri? BaseUrl { get; set; }

    public AuthOptions Auth { get; set; } = new();

    public ResilienceSettings Resilience { get; set; } = new();
}

public enum AuthKind { None, Basic, Bearer, SmartBackend }

/// <summary>How to authenticate to the FHIR server. Secrets are never logged.</summary>
public sealed class AuthOptions
{
    public AuthKind Kind { get; set; } = AuthKind.None;

    /// <summary>Basic: user name and password.</summary>
    public string? Username { get; set; }
    public string? Password { get; set; }

    /// <summary>Bearer: a static access token.</summary>
    public string? Token { get; set; }

    /// <summary>SMART Backend Services: the registered client id (iss = sub of the JWT assertion).</summary>
    public string? ClientId { get; set; }

    /// <summary>SMART Backend Services: path of the PEM private key (RSA for RS384, EC P-384 for ES384).</summary>
    public string? PrivateKeyPath { get; set; }

    /// <summary>SMART Backend Services: the key id (<c>kid</c>) of the key in the registered JWKS; required with <see cref="JwksUrl"/>.</summary>
    public string? KeyId { get; set; }

    /// <summary>
    /// SMART Backend Services: the JWK Set URL registered for the client. When set, the assertion's header carries
    /// <c>jku</c> (this URL) and <c>kid</c>. RS384 works with a statically registered public key or a JWKS URL; ES384 only
    /// with a JWKS URL (Epic registers EC keys only through a JWKS URL).
    /// </summary>
    public Uri? JwksUrl { get; set; }

    /// <summary>RS384 (default) or ES384 (needs <see cref="JwksUrl"/>).</summary>
    public string Algorithm { get; set; } = "RS384";

    /// <summary>Scopes requested, space separated, e.g. <c>system/*.read system/*.write</c>; null takes <see cref="DefaultScope"/>.</summary>
    public string? Scope { get; set; }

    /// <summary>
    /// The scopes requested when <see cref="Scope"/> is not set: what a server profile says the adapter needs on that
    /// server (see <see cref="Auth.SmartScopes.For"/>); by default <see cref="Auth.SmartScopes.Default"/>.
    /// </summary>
    public string DefaultScope { get; set; } = Auth.SmartScopes.Default;

    /// <summary>The scopes a token request asks for.</summary>
    public string EffectiveScope => string.IsNullOrWhiteSpace(Scope) ? DefaultScope : Scope;

    /// <summary>
    /// When set, sent as the <c>Epic-Client-ID</c> header on every request to the FHIR server, its discovery and its token
    /// endpoint (Epic returns the client's own token and authorize endpoints only when it is sent). Usually the client id.
    /// </summary>
    public string? EpicClientId { get; set; }

    /// <summary>Token endpoint override; by default read from <c>{base}/.well-known/smart-configuration</c>.</summary>
    public Uri? TokenEndpoint { get; set; }
}

/// <summary>Resilience of every request to the FHIR server, configured once at the HttpClient seam.</summary>
public sealed class ResilienceSettings
{
    /// <summary>Retries of a safe-to-repeat request after a transient failure (429, 5xx, timeout, reset). 0–10, default 4.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 4;

    /// <summary>First backoff delay (exponential with jitter after it); a Retry-After header wins. Default 500 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest Retry-After the adapter will honour before giving up on the request. Default 2 min.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:30:00")]
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Timeout of one attempt. Default 30 s (a large transaction can take a while).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Timeout of a request including all its retries. Default 3 min.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>Circuit breaker: failure ratio (0.1–1.0) over the sampling window that opens the circuit. Default 0.5.</summary>
    [Range(0.1, 1.0)]
    public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>Circuit breaker: minimum requests in the window before it may open. Default 10.</summary>
    [Range(2, 10_000)]
    public int BreakerMinimumThroughput { get; set; } = 10;

    /// <summary>Circuit breaker: how long it stays open. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The wait budget: how long in total a run (CLI <c>--max-wait</c>) may wait for the server — its Retry-After after
    /// a 429, and an open circuit breaker until it lets requests through again — before it gives up on what is left.
    /// Outside a run, the budget of one request's 429 waits. 0 never waits. 0–24 h, default 10 min.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Most requests on the wire to one server at once. The adapter halves its limit on each 429 and raises it again one
    /// step per run of successes, never above this. 1–256, default 16.
    /// </summary>
    [Range(1, 256)]
    public int MaxConcurrency { get; set; } = 16;
}
