using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trd.Fhir.Adapter.Bulk;

public enum FileState { Pending, Done, Damaged }

/// <summary>One manifest file and where it goes on disk: <see cref="Name"/> relative to the export directory.</summary>
public sealed class ExportFile
{
    public required string Kind { get; init; } // output | error | deleted
    public required string Type { get; init; }
    public required string Url { get; init; }
    public required string Name { get; init; }
    public long? Count { get; init; }
    public FileState State { get; set; }
    public long Bytes { get; set; }
    public long Resources { get; set; }
    public string? Problem { get; set; }
}

/// <summary>
/// What an export run has done so far, kept in <c>DIR/.trd-export.json</c> and rewritten atomically after every step:
/// the kick-off (status URL), the manifest and each file's state. A second run after a crash reads it and continues:
/// it polls the same status URL, skips files already done and resumes a <c>.part</c> file from its length.
/// </summary>
public sealed class ExportState
{
    public const string FileName = ".trd-export.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public required string Server { get; init; }
    public required string Request { get; init; }
    public string? StatusUrl { get; set; }
    public DateTimeOffset? KickedOffAt { get; set; }
    public string? TransactionTime { get; set; }
    public bool RequiresAccessToken { get; set; }
    public List<ExportFile> Files { get; set; } = [];
    public bool Deleted { get; set; }

    public static string PathIn(string directory) => System.IO.Path.Combine(directory, FileName);

    public static ExportState? Load(string directory)
    {
        var path = PathIn(directory);
        if (!File.Exists(path))
            return null;
        try
        {
            return JsonSerializer.Deserialize<ExportState>(File.ReadAllText(path), Json)
                ?? throw new BulkExportException($"{path} is empty (fix: delete it to start the export again)");
        }
        catch (JsonException e)
        {
            throw new BulkExportException($"{path} is not a readable export state ({e.Message}); fix: delete it to start the export again");
        }
    }

    /// <summary>Writes the state to a temporary file and renames it over the old one, so a crash never leaves half a state.</summary>
    public void Save(string directory)
    {
        var path = PathIn(directory);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Local names: <c>Type-k.ndjson</c> for output, under <c>errors/</c> and <c>deleted/</c> for the others.</summary>
    public void AddManifest(BulkManifest manifest)
    {
        TransactionTime = manifest.TransactionTime;
        RequiresAccessToken = manifest.RequiresAccessToken;
        Files = [.. Named("output", "", manifest.Output), .. Named("error", "errors/", manifest.Error), .. Named("deleted", "deleted/", manifest.Deleted)];
    }

    private static IEnumerable<ExportFile> Named(string kind, string folder, IReadOnlyList<ManifestFile> files)
    {
        var perType = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var safeType = new string(file.Type.Where(char.IsAsciiLetterOrDigit).ToArray());
            var n = perType[safeType] = perType.GetValueOrDefault(safeType) + 1;
            yield return new ExportFile { Kind = kind, Type = file.Type, Url = file.Url, Count = file.Count, Name = $"{folder}{(safeType.Length == 0 ? "file" : safeType)}-{n}.ndjson" };
        }
    }
}
