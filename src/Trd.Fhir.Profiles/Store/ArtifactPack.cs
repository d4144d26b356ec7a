using System.IO.Compression;
using System.Text;

namespace Trd.Fhir.Profiles.Store;

/// <summary>Where the bytes of one packed artefact live.</summary>
internal enum PackEntryKind : byte
{
    /// <summary>Brotli-compressed FHIR JSON inside the pack itself.</summary>
    Json = 0,

    /// <summary>An XML <c>&lt;resource&gt;</c> segment of a Bundle file inside <c>specification.zip</c> (byte range of the inflated member).</summary>
    ZipXml = 1,
}

/// <summary>One index row of an <see cref="ArtifactPack"/>.</summary>
internal sealed record PackEntry(
    string Url,
    string? Version,
    string ResourceType,
    PackEntryKind Kind,
    string Location,
    long Offset,
    int Length,
    string Tag);

/// <summary>
/// A compact, random-access container of FHIR conformance resources: a sorted index (canonical URL, version, type, where)
/// followed by individually Brotli-compressed JSON payloads. Used for the generated core slice (+ the precomputed index into
/// specification.zip) and for the pre-generated snapshots of our own profiles. Only the index is read at start-up; a payload
/// is decompressed and parsed when the validator first asks for it.
/// </summary>
internal sealed class ArtifactPack
{
    private const string Magic = "TRDPACK1";
    private readonly byte[] _data;
    private readonly int _payloadStart;

    private ArtifactPack(byte[] data, int payloadStart, string inputsHash, IReadOnlyList<PackEntry> entries)
    {
        _data = data;
        _payloadStart = payloadStart;
        InputsHash = inputsHash;
        Entries = entries;
    }

    /// <summary>Hash of everything the pack was generated from (see the generator); used by the staleness test.</summary>
    public string InputsHash { get; }

    public IReadOnlyList<PackEntry> Entries { get; }

    public static ArtifactPack Read(byte[] data)
    {
        using var ms = new MemoryStream(data, writable: false);
        using var r = new BinaryReader(ms, Encoding.UTF8);
        if (r.ReadString() != Magic) throw new InvalidDataException("Not a Trd.Fhir artefact pack.");
        var inputsHash = r.ReadString();
        var count = r.ReadInt32();
        var entries = new PackEntry[count];
        for (var i = 0; i < count; i++)
        {
            var url = r.ReadString();
            var version = r.ReadString();
            var type = r.ReadString();
            var kind = (PackEntryKind)r.ReadByte();
            var location = r.ReadString();
            var offset = r.ReadInt64();
            var length = r.ReadInt32();
            var tag = r.ReadString();
            entries[i] = new PackEntry(url, version.Length == 0 ? null : version, type, kind, location, offset, length, tag);
        }
        return new ArtifactPack(data, (int)ms.Position, inputsHash, entries);
    }

    /// <summary>The decompressed JSON of a <see cref="PackEntryKind.Json"/> entry.</summary>
    public byte[] ReadJson(PackEntry entry)
    {
        if (entry.Kind != PackEntryKind.Json) throw new InvalidOperationException($"{entry.Url} is not stored in the pack.");
        using var input = new MemoryStream(_data, _payloadStart + (int)entry.Offset, entry.Length, writable: false);
        using var brotli = new BrotliStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream(entry.Length * 6);
        brotli.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>A JSON array of strings (a recorded prefetch list).</summary>
    public static IReadOnlyList<string> ReadList(byte[] json) =>
        System.Text.Json.JsonSerializer.Deserialize(json, PackJsonContext.Default.StringArray) ?? [];

    public static byte[] WriteList(IEnumerable<string> items) =>
        System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(items.ToArray(), PackJsonContext.Default.StringArray);

    /// <summary>Writes a pack. Entries are written in the order given (callers sort them for determinism).</summary>
    public static byte[] Write(string inputsHash, IEnumerable<(PackEntry Entry, byte[]? Json)> items)
    {
        var list = items.ToList();
        using var payload = new MemoryStream();
        var rows = new List<PackEntry>(list.Count);
        foreach (var (entry, json) in list)
        {
            if (entry.Kind == PackEntryKind.Json)
            {
                ArgumentNullException.ThrowIfNull(json);
                var offset = payload.Position;
                // Quality 9: within a few % of the smallest (11) at a fraction of its time (the staleness tests regenerate).
                var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(json.Length)];
                if (!BrotliEncoder.TryCompress(json, buffer, out var written, quality: 9, window: 22))
                    throw new InvalidOperationException($"Brotli failed for {entry.Url}.");
                payload.Write(buffer, 0, written);
                rows.Add(entry with { Location = "", Offset = offset, Length = written });
            }
            else
            {
                rows.Add(entry);
            }
        }

        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(inputsHash);
            w.Write(rows.Count);
            foreach (var e in rows)
            {
                w.Write(e.Url);
                w.Write(e.Version ?? "");
                w.Write(e.ResourceType);
                w.Write((byte)e.Kind);
                w.Write(e.Location);
                w.Write(e.Offset);
                w.Write(e.Length);
                w.Write(e.Tag);
            }
        }
        payload.Position = 0;
        payload.CopyTo(ms);
        return ms.ToArray();
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class PackJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
