using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using WireMock;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Types;
using WireMock.Util;

namespace Trd.Fhir.Transport.Tests.Infrastructure;

/// <summary>
/// A SMART Backend Services server on WireMock, strict the way Epic and Inferno are: a FHIR endpoint
/// (<c>/fhir</c>, with <c>.well-known/smart-configuration</c>) and a token endpoint (<c>/oauth2/token</c>) that verifies
/// each client assertion — signature with the registered public key, <c>alg</c>, <c>typ</c>, <c>kid</c>, <c>iss</c> =
/// <c>sub</c> = client id, <c>aud</c> = token URL, <c>exp</c> in the future and at most 5 min ahead (by the fake clock),
/// <c>iat</c>/<c>nbf</c> not in the future, <c>jti</c> a string of at most 151 characters never seen before — and answers
/// 401 <c>invalid_client</c> otherwise. Tokens are <c>token-1</c>, <c>token-2</c>…; the FHIR endpoint accepts an issued,
/// unrevoked token and answers 401 otherwise.
/// </summary>
public sealed class SmartServer : IDisposable
{
    public const string ClientId = "trd-backend-client";
    public const string KeyId = "trd-key-1";

    private readonly TimeProvider _clock;
    private readonly AsymmetricAlgorithm _registeredKey;
    private readonly ConcurrentDictionary<string, bool> _seenJti = new();
    private readonly ConcurrentDictionary<string, bool> _issued = new();
    private readonly ConcurrentDictionary<string, bool> _revoked = new();
    private readonly ConcurrentQueue<string> _refusals = new();
    private readonly ConcurrentQueue<TokenRequest> _tokenRequests = new();
    private int _tokens;

    /// <param name="algorithm">RS384 or ES384: the key generated here, registered as the client's public key.</param>
    public SmartServer(TimeProvider clock, string algorithm)
    {
        _clock = clock;
        Algorithm = algorithm;
        _registeredKey = algorithm == "RS384" ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Server = WireMockServer.Start();
        Server.Given(Request.Create().WithPath("/fhir/.well-known/smart-configuration").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json")
                .WithBody(JsonSerializer.Serialize(new
                {
                    issuer = Server.Url + "/oauth2",
                    token_endpoint = TokenUrl,
                    token_endpoint_auth_methods_supported = new[] { "private_key_jwt" },
                    grant_types_supported = new[] { "client_credentials" },
                    token_endpoint_auth_signing_alg_values_supported = new[] { "RS384", "ES384" },
                })));
        Server.Given(Request.Create().WithPath("/oauth2/token").UsingPost())
            .RespondWith(Response.Create().WithCallback((Func<IRequestMessage, IResponseMessage>)Token));
        Server.Given(Request.Create().WithPath("/fhir/*").UsingAnyMethod())
            .AtPriority(10)
            .RespondWith(Response.Create().WithCallback((Func<IRequestMessage, IResponseMessage>)Fhir));
    }

    public WireMockServer Server { get; }

    public string Algorithm { get; }

    public string TokenUrl => Server.Url + "/oauth2/token";

    /// <summary>The JWK Set URL registered for the client: an assertion's <c>jku</c>, when sent, must be exactly this.
    /// ES384 assertions must send it (EC keys are registered only through a JWKS URL).</summary>
    public string JwksUrl => Server.Url + "/jwks/trd-backend.json";

    /// <summary>The <c>Epic-Client-ID</c> header of every request, by path (null where absent), in order.</summary>
    public IReadOnlyList<(string Path, string? EpicClientId)> EpicClientIds => Server.RequestMessages()
        .Select(r => (r.Path, r.Header("Epic-Client-ID"))).ToList();

    public string BaseUrl => Server.Url + "/fhir";

    /// <summary>expires_in of the tokens issued (seconds).</summary>
    public int ExpiresIn { get; set; } = 300;

    /// <summary>When set, every token request is refused with this status and <c>invalid_client</c>.</summary>
    public int? RefuseAllWith { get; set; }

    /// <summary>The next this many token requests are answered 503 (a token endpoint that is briefly down).</summary>
    public int UnavailableTokenRequests { get; set; }

    /// <summary>When true, the FHIR endpoint answers 401 to every token.</summary>
    public bool RejectAllTokens { get; set; }

    /// <summary>Why the server refused assertions (empty when every assertion was valid).</summary>
    public IReadOnlyCollection<string> Refusals => _refusals;

    public IReadOnlyList<TokenRequest> TokenRequests => _tokenRequests.ToList();

    /// <summary>The Authorization header of each request to the FHIR endpoint (discovery excluded), in order.</summary>
    public IReadOnlyList<string?> FhirAuthorizations => Server.RequestMessages()
        .Where(r => r.Path.StartsWith("/fhir/", StringComparison.Ordinal) && !r.Path.Contains(".well-known", StringComparison.Ordinal))
        .Select(r => r.Header("Authorization")).ToList();

    public int DiscoveryRequests => Server.RequestMessages("/fhir/.well-known/smart-configuration").Count;

    /// <summary>The registered private key as PEM, in PKCS#8 or in the traditional RSA/EC form.</summary>
    public string PrivateKeyPem(bool pkcs8) => (_registeredKey, pkcs8) switch
    {
        (_, true) => _registeredKey.ExportPkcs8PrivateKeyPem(),
        (RSA rsa, false) => rsa.ExportRSAPrivateKeyPem(),
        (ECDsa ec, false) => ec.ExportECPrivateKeyPem(),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>The server stops accepting this token (as if revoked or expired early): its next use gets a 401.</summary>
    public void Revoke(string token) => _revoked[token] = true;

    private IResponseMessage Fhir(IRequestMessage request)
    {
        var authorization = request.Header("Authorization");
        var token = authorization?.StartsWith("Bearer ", StringComparison.Ordinal) == true ? authorization["Bearer ".Length..] : null;
        if (token is null || !_issued.ContainsKey(token) || _revoked.ContainsKey(token) || RejectAllTokens)
        {
            return Json(401, """{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"expired"}]}""");
        }

        return Json(200, """{"resourceType":"Patient","id":"1"}""");
    }

    private IResponseMessage Token(IRequestMessage request)
    {
        var form = ParseForm(request.Body ?? string.Empty);
        var now = _clock.GetUtcNow().ToUnixTimeSeconds();
        var problems = new List<string>();
        JsonElement header = default, claims = default;

        if (form.GetValueOrDefault("grant_type") != "client_credentials")
        {
            return Json(400, """{"error":"unsupported_grant_type"}""");
        }

        if (form.GetValueOrDefault("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            problems.Add("client_assertion_type");
        }

        var assertion = form.GetValueOrDefault("client_assertion") ?? string.Empty;
        var parts = assertion.Split('.');
        if (parts.Length != 3)
        {
            problems.Add("client_assertion is not a JWS");
        }
        else
        {
            header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0])).RootElement.Clone();
            claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement.Clone();
            var signed = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
            var signature = Base64Url.DecodeFromChars(parts[2]);
            var verified = _registeredKey switch
            {
                RSA rsa => rsa.VerifyData(signed, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1),
                ECDsa ec => ec.VerifyData(signed, signature, HashAlgorithmName.SHA384),
                _ => false,
            };
            Check(verified, "signature does not verify with the registered key");
            Check(Text(header, "alg") == Algorithm, $"alg {Text(header, "alg")}");
            Check(Text(header, "typ") == "JWT", $"typ {Text(header, "typ")}");
            Check(Text(header, "kid") == KeyId, $"kid {Text(header, "kid")}");
            Check(Text(header, "jku") is null || Text(header, "jku") == JwksUrl, $"jku {Text(header, "jku")} is not the registered JWKS URL");
            Check(Algorithm != "ES384" || Text(header, "jku") is not null, "ES384 without jku: EC keys are registered only through a JWKS URL");
            Check(Text(claims, "iss") == ClientId, "iss");
            Check(Text(claims, "sub") == ClientId, "sub");
            Check(Text(claims, "aud") == TokenUrl, $"aud {Text(claims, "aud")}");
            var exp = Number(claims, "exp");
            Check(exp is { } e && e > now && e <= now + 300, $"exp {exp} (now {now})");
            Check((Number(claims, "iat") ?? now) <= now, "iat in the future");
            Check((Number(claims, "nbf") ?? now) <= now, "nbf in the future");
            var jti = claims.TryGetProperty("jti", out var j) && j.ValueKind == JsonValueKind.String ? j.GetString()! : null;
            Check(jti is { Length: > 0 and <= 151 }, "jti missing, not a string or too long");
            Check(jti is not null && _seenJti.TryAdd(jti, true), $"jti {jti} reused");
        }

        _tokenRequests.Enqueue(new TokenRequest(form, header, claims, now));
        if (UnavailableTokenRequests > 0)
        {
            UnavailableTokenRequests--;
            return Json(503, "{}");
        }

        if (RefuseAllWith is { } status)
        {
            return Json(status, """{"error":"invalid_client","error_description":null}""");
        }

        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                _refusals.Enqueue(problem);
            }

            return Json(401, """{"error":"invalid_client","error_description":null}""");
        }

        var token = $"token-{Interlocked.Increment(ref _tokens)}";
        _issued[token] = true;
        return Json(200, JsonSerializer.Serialize(new
        {
            access_token = token,
            token_type = "bearer",
            expires_in = ExpiresIn,
            scope = form.GetValueOrDefault("scope") ?? "system/Patient.read",
        }));

        void Check(bool ok, string problem)
        {
            if (!ok)
            {
                problems.Add(problem);
            }
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long? Number(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : null;

    private static Dictionary<string, string> ParseForm(string body) => body
        .Split('&', StringSplitOptions.RemoveEmptyEntries)
        .Select(pair => pair.Split('=', 2))
        .ToDictionary(kv => Decode(kv[0]), kv => kv.Length > 1 ? Decode(kv[1]) : string.Empty);

    private static string Decode(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));

    private static ResponseMessage Json(int status, string json) => new()
    {
        StatusCode = status,
        Headers = new Dictionary<string, WireMockList<string>> { ["Content-Type"] = new("application/json") },
        BodyData = new BodyData { BodyAsString = json, DetectedBodyType = BodyType.String, Encoding = Encoding.UTF8 },
    };

    public void Dispose()
    {
        Server.Stop();
        _registeredKey.Dispose();
    }

    /// <summary>One token request as the server saw it: the form, the decoded JWT header and claims, and "now" (Unix s).</summary>
    public sealed record TokenRequest(IReadOnlyDictionary<string, string> Form, JsonElement Header, JsonElement Claims, long Now);
}
