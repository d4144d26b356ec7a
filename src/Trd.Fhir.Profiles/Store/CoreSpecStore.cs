using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text;
using System.Xml;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Trd.Fhir.Profiles.Store;

/// <summary>
/// The FHIR R4 core specification, served from the generated <see cref="ArtifactPack"/>: the precomputed slice (trimmed
/// JSON, embedded in this assembly) first, then by a precomputed byte range straight out of <c>specification.zip</c>'s XML
/// bundles (so there is neither a 1 s <c>ZipSource</c> index scan nor an extraction to disk). Thread-safe.
/// </summary>
internal sealed class CoreSpecStore
{
    internal const string FhirNamespace = "http://hl7.org/fhir";

    // Generated packs and the spec are trusted input: Ostrich mode without the POCO validator parses 4-7x faster than the
    // default (measured on the 49 artefacts of a PHQ-9 validation: ~25-45 ms vs ~170-190 ms warm). Artefacts from
    // profiles/ and extra sources are parsed in Recoverable mode, so problems in them still surface.
    private static readonly DeserializerSettings TrustedSettings = new DeserializerSettings().UsingMode(DeserializationMode.Ostrich) with { Validator = null };
    private static readonly FhirJsonDeserializer TrustedJsonParser = new(TrustedSettings);
    private static readonly FhirJsonDeserializer JsonParser = new(new DeserializerSettings().UsingMode(DeserializationMode.Recoverable));
    private static readonly FhirXmlDeserializer XmlParser = new(TrustedSettings);

    private readonly ArtifactPack _pack;
    private readonly Dictionary<string, PackEntry> _byUrl;
    private readonly string? _zipPath;
    private readonly bool _useSlice;
    private readonly ConcurrentDictionary<string, Lazy<byte[]>> _zipMembers = new(StringComparer.Ordinal);
    private int _sliceLoads;
    private int _zipLoads;
    private long _loadTicks;

    public CoreSpecStore(ArtifactPack pack, string? zipPath, bool useSlice = true)
    {
        _pack = pack;
        _zipPath = zipPath;
        _useSlice = useSlice;
        _byUrl = new Dictionary<string, PackEntry>(pack.Entries.Count, StringComparer.Ordinal);
        foreach (var e in pack.Entries) _byUrl.TryAdd(e.Url, e);
    }

    public ArtifactPack Pack => _pack;

    /// <summary>Loads served from the slice / from the zip since start (diagnostics for the cold-start harness).</summary>
    public (int Slice, int Zip) LoadCounts => (Volatile.Read(ref _sliceLoads), Volatile.Read(ref _zipLoads));

    /// <summary>Total time spent in <see cref="Load"/> (diagnostics).</summary>
    public TimeSpan LoadTime => System.Diagnostics.Stopwatch.GetElapsedTime(0, Volatile.Read(ref _loadTicks));

    public bool Contains(string url) => _byUrl.ContainsKey(url);

    public PackEntry? Find(string url, string? version)
    {
        if (!_byUrl.TryGetValue(url, out var e)) return null;
        if (version is not null && e.Version is not null && e.Version != version) return null;
        return e;
    }

    /// <summary>Parses the resource of an index entry. Callers cache the result.</summary>
    public Resource Load(PackEntry entry)
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return LoadCore(entry);
        }
        finally
        {
            Interlocked.Add(ref _loadTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
        }
    }

    private Resource LoadCore(PackEntry entry)
    {
        if (entry.Kind == PackEntryKind.Json && _useSlice)
        {
            Interlocked.Increment(ref _sliceLoads);
            return ParseJson(_pack.ReadJson(entry), entry.Url, trusted: true);
        }

        var zipEntry = entry;
        if (entry.Kind == PackEntryKind.Json)
        {
            // Slice switched off (measurement/equivalence runs): the zip location is kept in the tag.
            var parts = entry.Tag.Split('@');
            zipEntry = entry with { Kind = PackEntryKind.ZipXml, Location = parts[0], Offset = long.Parse(parts[1]), Length = int.Parse(parts[2]) };
        }
        Interlocked.Increment(ref _zipLoads);
        return ParseXmlSegment(ReadZipSegment(zipEntry), entry.Url);
    }

    private byte[] ReadZipSegment(PackEntry entry)
    {
        if (_zipPath is null || !File.Exists(_zipPath))
            throw new FileNotFoundException($"The FHIR core specification archive is needed for '{entry.Url}' but was not found. Set TrdValidatorOptions.SpecificationZipPath.", _zipPath);
        var member = _zipMembers.GetOrAdd(entry.Location, name => new Lazy<byte[]>(() => InflateMember(_zipPath, name))).Value;
        return member.AsSpan((int)entry.Offset, entry.Length).ToArray();
    }

    internal static byte[] InflateMember(string zipPath, string member)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        var e = zip.GetEntry(member) ?? throw new InvalidDataException($"specification.zip has no member '{member}'.");
        using var s = e.Open();
        var buffer = new byte[e.Length];
        s.ReadExactly(buffer);
        return buffer;
    }

    internal static Resource ParseJson(byte[] json, string url, bool trusted = false)
    {
        var reader = new System.Text.Json.Utf8JsonReader(json);
        // Recoverable: a partial result is kept (the snapshot generator / validator report what is wrong with it).
        (trusted ? TrustedJsonParser : JsonParser).TryDeserializeResource(ref reader, out var r, out _);
        if (r is null)
            throw new InvalidDataException($"Packed artefact '{url}' could not be parsed.");
        return r;
    }

    /// <summary>Parses the <c>&lt;Resource&gt;…&lt;/Resource&gt;</c> segment cut from a spec Bundle (which carries no xmlns of its own).</summary>
    internal static Resource ParseXmlSegment(byte[] segment, string url)
    {
        var text = Encoding.UTF8.GetString(segment);
        var close = text.IndexOf('>', StringComparison.Ordinal);
        if (!text.AsSpan(0, close).Contains("xmlns=", StringComparison.Ordinal))
            text = string.Concat(text.AsSpan(0, close), " xmlns=\"" + FhirNamespace + "\"", text.AsSpan(close));
        using var reader = XmlReader.Create(new StringReader(text), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, IgnoreComments = true });
        XmlParser.TryDeserializeResource(reader, out var r, out _);
        if (r is null)
            throw new InvalidDataException($"Core artefact '{url}' could not be parsed from specification.zip.");
        return r;
    }
}
