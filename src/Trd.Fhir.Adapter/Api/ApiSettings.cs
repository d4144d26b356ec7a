using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// Everything <c>trd-fhir serve</c> needs, bound from the configuration section <c>Api</c> (appsettings.json, environment
/// variables <c>Api__…</c>) and overridden by the command line. Tests build it in code. Defaults are documented per property
/// and range-checked by <see cref="Validate"/>.
/// </summary>
public sealed class ApiSettings
{
    public const string SectionName = "Api";

    /// <summary>Where Kestrel listens: one or more http(s) URLs separated by ';'. Default http://127.0.0.1:8080.</summary>
    [Required]
    public string Urls { get; set; } = "http://127.0.0.1:8080";

    /// <summary>The FHIR server pushes, pulls, probes and /ready talk to (same options as the CLI's --server/--auth).</summary>
    public FhirServerOptions Server { get; set; } = new();

    /// <summary>API clients by name, each with the SHA-256 (hex) of its key; the key itself is never stored.</summary>
    public List<ApiKeyClient> ApiKeys { get; set; } = [];

    /// <summary>JWT bearer tokens (optional): accepted when <see cref="JwtSettings.Authority"/> or signing keys are set.</summary>
    public JwtSettings Jwt { get; set; } = new();

    /// <summary>Largest request body accepted, in bytes (413 above). 1 KiB – 16 MiB, default 4 MiB.</summary>
    [Range(1024, Protocol.ProtocolReader.MaxBytes)]
    public long MaxBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Time budget of one request: when spent, the work is cancelled and 503 + an OperationOutcome (timeout) is
    /// answered (<see cref="RequestBudget"/>). 1 s – 1 h, default 2 minutes: the largest allowed document (10,000 PHQ-9
    /// totals, ≈ 20,000 resources) validates in ≈ 4 s at the 5,000 resources/s goal and measured ≈ 25–50 s on a loaded
    /// 2-core machine (docs/benchmarks.md), so the default leaves room for load.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RequestBudget { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Requests per client per window (429 above). 1 – 1,000,000, default 120.</summary>
    [Range(1, 1_000_000)]
    public int RateLimitPermits { get; set; } = 120;

    /// <summary>The rate-limit window. 1 s – 1 h, default 1 minute.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The sync ledger: a SQLite file path (default <c>trd-fhir-ledger.db</c> in the working directory) or a PostgreSQL spec.</summary>
    [Required]
    public string Ledger { get; set; } = "trd-fhir-ledger.db";

    /// <summary>The ledger worker: attempts before a dead letter, retry delay, poll interval, concurrent pushes (defaults of <see cref="LedgerSyncOptions"/>).</summary>
    public LedgerSyncOptions Sync { get; set; } = new();

    /// <summary>Run the ledger's background worker (queued and retried pushes). Default true.</summary>
    public bool RunWorker { get; set; } = true;

    /// <summary>Base URL of the business identifier systems (as the CLI's --identifier-base).</summary>
    [Required]
    public string IdentifierBase { get; set; } = Identity.DefaultBase;

    /// <summary>The installation secret that keys the pseudonymous protocol ids of pulled patients (HMAC-SHA-256, at least
    /// 16 bytes; docs/mapping.md). Unset: the environment variable <c>TRD_FHIR_PSEUDONYM_KEY</c>, else unkeyed ids (with a
    /// warning). Set it from a secret store (<c>Api__PseudonymKey</c>), not in a committed appsettings.json.</summary>
    public string? PseudonymKey { get; set; }

    /// <summary>Browser origins allowed to call the API cross-origin (CORS), e.g. <c>https://portal.example.org</c>. Empty
    /// (default): no CORS headers at all, browsers refuse cross-origin calls. Exact origins only, no <c>*</c>.</summary>
    public List<string> CorsOrigins { get; set; } = [];

    /// <summary>Logs as compact JSON (CLEF) instead of text lines.</summary>
    public bool JsonLogs { get; set; }

    /// <summary>Where logs go (default: stderr). Tests capture them here.</summary>
    public TextWriter? LogWriter { get; set; }

    /// <summary>Clock for the ledger and the clinical read-out (tests: a FakeTimeProvider).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Problems with these settings, as messages naming the setting and the fix; empty when usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
            errors.AddRange(results.Select(r => $"Api:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}"));
        if (Server.BaseUrl is not { IsAbsoluteUri: true } url || url.Scheme is not ("http" or "https"))
            errors.Add("Api:Server:BaseUrl: the FHIR server must be an absolute http(s) URL (fix: --server URL)");
        foreach (var listen in Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(listen.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
                errors.Add($"Api:Urls: '{listen}' is not an http(s) URL to listen on (fix: --urls http://127.0.0.1:8080)");
        }
        if (ServeConfiguration.IncompleteAuth(Server.Auth) is { } auth)
            errors.Add(auth);
        errors.AddRange(ServeConfiguration.Nested("Api:Server:Resilience", Server.Resilience));
        if (Server.Resilience.TotalTimeout < Server.Resilience.AttemptTimeout)
            errors.Add($"Api:Server:Resilience:TotalTimeout ({Server.Resilience.TotalTimeout}) must not be shorter than AttemptTimeout ({Server.Resilience.AttemptTimeout}) (fix: raise TotalTimeout or lower AttemptTimeout)");
        if (Jwt.Authority is { Length: > 0 } authority && (!Uri.TryCreate(authority, UriKind.Absolute, out var issuer) || issuer.Scheme != "https"))
            errors.Add($"Api:Jwt:Authority: '{authority}' must be an absolute https URL (fix: the identity provider's base URL, e.g. https://idp.example.org)");
        try
        {
            Sync.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            errors.Add($"Api:Sync: {e.Message}");
        }
        if (PseudonymKey is { Length: > 0 } secret && System.Text.Encoding.UTF8.GetByteCount(secret) < Mapping.PseudonymKey.MinimumLength)
            errors.Add($"Api:PseudonymKey: the pseudonym key needs at least {Mapping.PseudonymKey.MinimumLength} bytes (fix: a random secret, e.g. openssl rand -base64 32)");
        if (ApiKeys.Count == 0 && !Jwt.Enabled)
            errors.Add("Api:ApiKeys: no API key and no JWT authority configured, nobody could call the API (fix: set TRD_FHIR_API_KEY, or Api:ApiKeys, or Api:Jwt:Authority)");
        foreach (var origin in CorsOrigins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var o) || o.Scheme is not ("http" or "https") || o.PathAndQuery != "/" || origin.EndsWith('/'))
                errors.Add($"Api:CorsOrigins: '{origin}' is not an origin (fix: scheme://host[:port] without a path or trailing slash, e.g. https://portal.example.org; '*' is not allowed)");
        }
        foreach (var client in ApiKeys)
        {
            if (string.IsNullOrWhiteSpace(client.Name))
                errors.Add("Api:ApiKeys: every client needs a Name (it partitions the rate limit and appears in logs)");
            if (!ApiKeyClient.IsSha256Hex(client.Sha256))
                errors.Add($"Api:ApiKeys:{client.Name}: Sha256 must be 64 hex digits, the SHA-256 of the key (fix: printf %s \"$KEY\" | sha256sum)");
        }
        return errors;
    }
}

/// <summary>One API client: a name (for rate limiting and logs) and the SHA-256 of its key, as 64 hex digits.</summary>
public sealed class ApiKeyClient
{
    public string Name { get; set; } = "";

    public string Sha256 { get; set; } = "";

    public static ApiKeyClient FromKey(string name, string key) => new() { Name = name, Sha256 = Hash(key) };

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    internal static bool IsSha256Hex(string? text) => text is { Length: 64 } && text.All(Uri.IsHexDigit);
}

/// <summary>JWT bearer settings. With <see cref="Authority"/>, keys come from its OpenID metadata; <see cref="SigningKeys"/>
/// (code only) configures them without any network, e.g. in tests or air-gapped sites.</summary>
public sealed class JwtSettings
{
    public string? Authority { get; set; }

    public string? Audience { get; set; }

    /// <summary>Expected issuer when no authority is used.</summary>
    public string? Issuer { get; set; }

    public IList<SecurityKey> SigningKeys { get; } = [];

    public bool Enabled => !string.IsNullOrEmpty(Authority) || SigningKeys.Count > 0;
}
