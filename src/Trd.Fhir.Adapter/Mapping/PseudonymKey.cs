using System.Security.Cryptography;
using System.Text;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// The installation secret that keys the protocol id of a patient read from foreign FHIR data (pull, <c>map --reverse</c>):
/// <c>pulled-</c> + the first 32 hex digits of HMAC-SHA-256(key, <c>system|value</c>). Stable for a given key, and without
/// the key the identifier cannot be recovered from the id by trying candidate MRNs. Set it in the environment variable
/// <see cref="EnvironmentVariable"/> (or the configuration key <see cref="ConfigurationKey"/> of <c>serve</c>); at least 16
/// bytes, e.g. <c>openssl rand -base64 32</c>. Without a key the id is an unkeyed SHA-256 of the identifier, which anyone
/// can recompute from a candidate MRN — the reader says so, once.
/// </summary>
public sealed class PseudonymKey
{
    public const string EnvironmentVariable = "TRD_FHIR_PSEUDONYM_KEY";
    public const string ConfigurationKey = "Api:PseudonymKey";
    public const int MinimumLength = 16;

    private readonly byte[] _key;

    public PseudonymKey(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        _key = Encoding.UTF8.GetBytes(secret);
        if (_key.Length < MinimumLength)
            throw new ArgumentException($"a pseudonym key needs at least {MinimumLength} bytes", nameof(secret));
    }

    /// <summary>The key from <see cref="EnvironmentVariable"/>, or null when it is unset or empty.</summary>
    public static PseudonymKey? FromEnvironment() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } secret ? new PseudonymKey(secret) : null;

    /// <summary>The keyed protocol id of a patient identifier.</summary>
    public string ProtocolId(string system, string value) =>
        "pulled-" + Convert.ToHexStringLower(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{system}|{value}")))[..32];

    /// <summary>The unkeyed protocol id (no installation secret): reversible by trying candidate identifiers.</summary>
    public static string UnkeyedProtocolId(string system, string value) =>
        "pulled-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{system}|{value}")))[..16];

    public const string UnkeyedWarning =
        "protocol ids of patients read from FHIR are an unkeyed SHA-256 of the patient identifier, which can be reversed by trying candidate identifiers; set " + EnvironmentVariable + " (an installation secret of at least 16 bytes) to key them with HMAC-SHA-256 (docs/mapping.md)";
}
