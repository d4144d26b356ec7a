using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Trd.Fhir.Adapter.Transport.Auth;

/// <summary>
/// Builds the signed JWT a SMART Backend Services client authenticates with (private_key_jwt): header <c>alg</c>
/// RS384 or ES384 (ES384 only with a JWKS URL), <c>typ</c> JWT, <c>kid</c> when configured, <c>jku</c> with a JWKS URL; claims <c>iss</c> = <c>sub</c> = client id,
/// <c>aud</c> = the token endpoint URL, a random <c>jti</c>, <c>iat</c> = <c>nbf</c> = now, <c>exp</c> = now + 4 min
/// (servers accept at most 5 min). The key is loaded once from a PEM file and never leaves this object.
/// </summary>
internal sealed class SmartClientAssertion : IDisposable
{
    /// <summary>Four minutes: under the 5-minute maximum of SMART and Epic, with a minute of slack for clock skew.</summary>
    internal static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(4);

    /// <summary>The NIST P-384 curve (secp384r1).</summary>
    private const string P384Oid = "1.3.132.0.34";

    private readonly AsymmetricAlgorithm _key;
    private readonly SigningCredentials _credentials;
    private readonly string _clientId;
    private readonly Uri? _jwksUrl;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    private SmartClientAssertion(AsymmetricAlgorithm key, SecurityKey securityKey, string algorithm, string clientId, Uri? jwksUrl)
    {
        _key = key;
        _jwksUrl = jwksUrl;
        _credentials = new SigningCredentials(securityKey, algorithm);
        _clientId = clientId;
        Algorithm = algorithm;
    }

    public string Algorithm { get; }

    /// <summary>Loads the PEM private key named by <see cref="AuthOptions.PrivateKeyPath"/> for <see cref="AuthOptions.Algorithm"/>.</summary>
    public static SmartClientAssertion Load(AuthOptions auth)
    {
        ArgumentNullException.ThrowIfNull(auth);
        var clientId = auth.ClientId ?? throw Config("FhirServer:Auth:ClientId is required for SMART Backend Services.");
        var path = auth.PrivateKeyPath ?? throw Config("FhirServer:Auth:PrivateKeyPath is required for SMART Backend Services.");
        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw Config($"The SMART private key file '{path}' cannot be read ({ex.GetType().Name}).", ex);
        }

        if (pem.Contains("ENCRYPTED", StringComparison.Ordinal))
        {
            throw Config($"The SMART private key file '{path}' is encrypted; give an unencrypted PEM key (PKCS#8 'PRIVATE KEY', " +
                "'RSA PRIVATE KEY' or 'EC PRIVATE KEY') and protect the file itself.");
        }

        if (!pem.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw Config($"The SMART private key file '{path}' holds no PEM private key (a public key or certificate is not enough).");
        }

        if (auth.JwksUrl is null && auth.Algorithm.Equals(SecurityAlgorithms.EcdsaSha384, StringComparison.OrdinalIgnoreCase))
        {
            throw Config(Es384NeedsJwks);
        }

        if (auth.JwksUrl is not null && string.IsNullOrWhiteSpace(auth.KeyId))
        {
            throw Config(JwksNeedsKid);
        }

        return auth.Algorithm.ToUpperInvariant() switch
        {
            SecurityAlgorithms.RsaSha384 => LoadRsa(pem, path, auth, clientId),
            SecurityAlgorithms.EcdsaSha384 => LoadEc(pem, path, auth, clientId),
            _ => throw Config($"FhirServer:Auth:Algorithm '{auth.Algorithm}' is not supported: use RS384 or ES384."),
        };
    }

    private static SmartClientAssertion LoadRsa(string pem, string path, AuthOptions auth, string clientId)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            if (rsa.KeySize < 2048)
            {
                throw Config($"The RSA key in '{path}' has {rsa.KeySize} bits; RS384 needs at least 2048.");
            }

            return new SmartClientAssertion(rsa, new RsaSecurityKey(rsa) { KeyId = auth.KeyId }, SecurityAlgorithms.RsaSha384, clientId, auth.JwksUrl);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            throw Config($"The SMART private key file '{path}' holds no RSA private key usable for RS384 " +
                "(expected PEM 'PRIVATE KEY' or 'RSA PRIVATE KEY').", ex);
        }
        catch
        {
            rsa.Dispose();
            throw;
        }
    }

    private static SmartClientAssertion LoadEc(string pem, string path, AuthOptions auth, string clientId)
    {
        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            var oid = ec.ExportParameters(false).Curve.Oid;
            if (ec.KeySize != 384 || (oid.Value is not null && oid.Value != P384Oid))
            {
                throw Config($"The EC key in '{path}' is not on curve P-384, which ES384 requires.");
            }

            return new SmartClientAssertion(ec, new ECDsaSecurityKey(ec) { KeyId = auth.KeyId }, SecurityAlgorithms.EcdsaSha384, clientId, auth.JwksUrl);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            ec.Dispose();
            throw Config($"The SMART private key file '{path}' holds no EC private key usable for ES384 " +
                "(expected PEM 'PRIVATE KEY' or 'EC PRIVATE KEY' on P-384).", ex);
        }
        catch
        {
            ec.Dispose();
            throw;
        }
    }

    /// <summary>A new assertion for one token request: the audience is the token endpoint URL exactly as used.</summary>
    public string Create(string audience, DateTimeOffset now)
    {
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds()).UtcDateTime;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = _clientId,
            Audience = audience,
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = issuedAt + Lifetime,
            TokenType = "JWT",
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = _clientId,
                [JwtRegisteredClaimNames.Jti] = NewJti(),
            },
            SigningCredentials = _credentials,
        };
        if (_jwksUrl is not null)
        {
            // Where the server finds our public key; kid (from the key) names it in that set.
            descriptor.AdditionalHeaderClaims = new Dictionary<string, object> { ["jku"] = _jwksUrl.AbsoluteUri };
        }

        return _handler.CreateToken(descriptor);
    }

    /// <summary>The usage error for ES384 without a JWKS URL (Epic and SMART: EC keys are registered through a JWK Set URL only).</summary>
    internal const string Es384NeedsJwks = "ES384 needs a JWKS URL (FhirServer:Auth:JwksUrl, CLI --jwks-url): EC keys are registered " +
        "only through a JWK Set URL, sent as 'jku' with the key's 'kid' in the JWT header. Give the JWKS URL registered for the " +
        "client and the key id, or use RS384 with the statically registered RSA key.";

    /// <summary>The usage error for a JWKS URL without a key id.</summary>
    internal const string JwksNeedsKid = "A JWKS URL (FhirServer:Auth:JwksUrl, CLI --jwks-url) needs the key id (FhirServer:Auth:KeyId, " +
        "CLI --key-id) of the signing key in that set: it is sent as 'kid' with 'jku' in the JWT header.";

    /// <summary>256 bits from the cryptographic RNG as 64 hex characters (a string, well under Epic's 151).</summary>
    internal static string NewJti() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    private static FhirAuthException Config(string message, Exception? inner = null) =>
        new(FhirAuthError.Configuration, message, inner);

    public void Dispose() => _key.Dispose();
}
