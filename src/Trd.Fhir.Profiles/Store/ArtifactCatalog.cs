using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;

namespace Trd.Fhir.Profiles.Store;

/// <summary>One of our (or an extra source's) artefacts, indexed but not yet parsed.</summary>
internal sealed record CatalogEntry(string Url, string? Version, string ResourceType, RawArtifact Raw, bool Embedded);

/// <summary>
/// Our conformance artefacts: the <c>profiles/*.json</c> embedded in this assembly plus any extra sources, indexed by
/// canonical URL from a header-only read. Extra sources are listed first, so they win over the embedded ones.
/// </summary>
internal sealed class ArtifactCatalog
{
    internal const string EmbeddedPrefix = "profiles/";
    private readonly Dictionary<string, CatalogEntry> _byUrl = new(StringComparer.Ordinal);

    public ArtifactCatalog(IEnumerable<ArtifactSource> extraSources, bool includeEmbedded)
    {
        foreach (var s in extraSources)
            foreach (var raw in s.Enumerate()) Add(raw, embedded: false);
        if (includeEmbedded)
            foreach (var raw in ReadEmbedded()) Add(raw, embedded: true);
    }

    public IEnumerable<CatalogEntry> Entries => _byUrl.Values;

    /// <summary>sha256 over the names and bytes of the embedded <c>profiles/*.json</c>: keys the pre-generated snapshots.</summary>
    public static string EmbeddedSetHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData("embedded-profiles/1\n"u8);
        foreach (var raw in ReadEmbedded())
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(raw.Origin + "\n"));
            sha.AppendData(SHA256.HashData(raw.Json));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    public CatalogEntry? Find(string url, string? version)
    {
        if (!_byUrl.TryGetValue(url, out var e)) return null;
        if (version is not null && e.Version is not null && e.Version != version) return null;
        return e;
    }

    internal static IEnumerable<RawArtifact> ReadEmbedded()
    {
        var asm = typeof(ArtifactCatalog).Assembly;
        foreach (var name in asm.GetManifestResourceNames().Where(n => n.StartsWith(EmbeddedPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var s = asm.GetManifestResourceStream(name)!;
            var bytes = new byte[s.Length];
            s.ReadExactly(bytes);
            yield return new RawArtifact(name, bytes);
        }
    }

    internal static byte[]? ReadEmbeddedBlob(Assembly asm, string name)
    {
        using var s = asm.GetManifestResourceStream(name);
        if (s is null) return null;
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        return bytes;
    }

    private void Add(RawArtifact raw, bool embedded)
    {
        var (type, url, version) = ReadHeader(raw);
        if (url is null || type is null) return;
        _byUrl.TryAdd(url, new CatalogEntry(url, version, type, raw, embedded));
    }

    /// <summary>Top-level resourceType, url and version, skipping everything else.</summary>
    internal static (string? Type, string? Url, string? Version) ReadHeader(RawArtifact raw)
    {
        string? type = null, url = null, version = null;
        try
        {
            var reader = new Utf8JsonReader(raw.Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && name is "resourceType" or "url" or "version")
                {
                    var v = reader.GetString();
                    if (name == "resourceType") type = v;
                    else if (name == "url") url = v;
                    else version = v;
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Artefact '{raw.Origin}' is not valid JSON: {ex.Message}", ex);
        }
        return (type, url, version);
    }
}
