using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Canonical = Trd.Fhir.Profiles.Canonical;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// Deterministic business identity. Every resource gets an identifier <c>{base}/{kind}|{protocolId}/{local}</c> (one system per
/// resource kind under one configurable base); its transaction fullUrl is <c>urn:uuid:</c> a name-based (v5) UUID of
/// <c>system|value</c>. The same input always gives the same identifiers and fullUrls, so pushes are idempotent.
/// </summary>
public sealed class Identity(string identifierBase)
{
    public const string DefaultBase = Canonical.Base + "/identifier";

    public static Identity Default { get; } = new(DefaultBase);

    public string Base { get; } = identifierBase.TrimEnd('/');

    public string SystemFor(string resourceType) => $"{Base}/{resourceType.ToLowerInvariant()}";

    public Identifier For(string resourceType, string protocolId, string local) =>
        new(SystemFor(resourceType), $"{protocolId}/{local}");

    /// <summary>The local part of one of our identifiers (<c>phase-2</c>), or null when the resource is not ours.</summary>
    public string? LocalPart(Resource resource, string protocolId)
    {
        var system = SystemFor(resource.TypeName);
        var prefix = protocolId + "/";
        var identifiers = IdentifiersOf(resource);
        var value = identifiers.FirstOrDefault(i => i.System == system && i.Value?.StartsWith(prefix, StringComparison.Ordinal) == true)?.Value;
        return value?[prefix.Length..];
    }

    /// <summary>The business identifiers of the resource kinds Trd.Fhir writes (empty for other kinds; a copy for the
    /// QuestionnaireResponse, whose identifier is 0..1).</summary>
    public static List<Identifier> IdentifiersOf(Resource resource) => resource switch
    {
        CarePlan r => r.Identifier,
        Condition r => r.Identifier,
        Goal r => r.Identifier,
        CareTeam r => r.Identifier,
        MedicationRequest r => r.Identifier,
        MedicationStatement r => r.Identifier,
        ServiceRequest r => r.Identifier,
        Procedure r => r.Identifier,
        Observation r => r.Identifier,
        Flag r => r.Identifier,
        QuestionnaireResponse r => r.Identifier is { } one ? [one] : [],
        _ => [],
    };

    /// <summary>
    /// The transaction entry of one of our resources: its business identifier and claimed profile set, its fullUrl the
    /// name-based UUID of that identifier, and a conditional create (<c>If-None-Exist</c>) on it.
    /// </summary>
    public Bundle.EntryComponent ConditionalCreate(DomainResource resource, string protocolId, string local, string? profile)
    {
        var identifier = For(resource.TypeName, protocolId, local);
        if (resource is QuestionnaireResponse response)
            response.Identifier = identifier;
        else
            IdentifiersOf(resource).Add(identifier);
        if (IdentifiersOf(resource).Count == 0)
            throw new InvalidOperationException($"{resource.TypeName} has no identifier mapping");
        resource.Meta = profile is null ? null : new Meta { Profile = [profile] };
        return new Bundle.EntryComponent
        {
            FullUrl = FullUrl(identifier),
            Resource = resource,
            Request = new Bundle.RequestComponent
            {
                Method = Bundle.HTTPVerb.POST,
                Url = resource.TypeName,
                IfNoneExist = IdentifierQuery(identifier.System!, identifier.Value!),
            },
        };
    }

    /// <summary>The protocol id carried by one of our identifiers on <paramref name="resource"/>, if any.</summary>
    public string? ProtocolIdOf(Resource resource, IEnumerable<Identifier> identifiers)
    {
        var system = SystemFor(resource.TypeName);
        var value = identifiers.FirstOrDefault(i => i.System == system)?.Value;
        var cut = value?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        return cut > 0 ? value![..cut] : null;
    }

    public static string FullUrl(Identifier identifier) => "urn:uuid:" + NameBasedUuid($"{identifier.System}|{identifier.Value}");

    /// <summary>The search string <c>identifier=system|value</c> for If-None-Exist and conditional references.</summary>
    public static string IdentifierQuery(string system, string value) => $"identifier={Escape(system)}|{Escape(value)}";

    /// <summary>Escapes only what would break a query string; keeps URIs readable.</summary>
    public static string Escape(string part) => part
        .Replace("%", "%25", StringComparison.Ordinal)
        .Replace("&", "%26", StringComparison.Ordinal)
        .Replace("#", "%23", StringComparison.Ordinal)
        .Replace("+", "%2B", StringComparison.Ordinal)
        .Replace(" ", "%20", StringComparison.Ordinal)
        .Replace("|", "%7C", StringComparison.Ordinal)
        .Replace(",", "%2C", StringComparison.Ordinal);

    // RFC 4122 §4.3 name-based UUID, version 5 (SHA-1), in the URL namespace.
    private static readonly byte[] UrlNamespace = new Guid("6ba7b811-9dad-11d1-80b4-00c04fd430c8").ToByteArray(bigEndian: true);

    public static string NameBasedUuid(string name)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[UrlNamespace.Length + nameBytes.Length];
        UrlNamespace.CopyTo(input, 0);
        nameBytes.CopyTo(input, UrlNamespace.Length);
#pragma warning disable CA5350 // SHA-1 is what RFC 4122 v5 prescribes; this is an identifier, not security.
        var hash = SHA1.HashData(input);
#pragma warning restore CA5350
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true).ToString();
    }
}
