using System.Text.Json;

namespace Trd.Fhir.Adapter.Bulk;

/// <summary>One file of a Bulk Data manifest (<c>output</c>, <c>error</c> or <c>deleted</c>).</summary>
public sealed record ManifestFile(string Type, string Url, long? Count);

/// <summary>
/// The completion manifest of a Bulk Data export (JSON, not a FHIR resource): <c>transactionTime</c> (the next
/// <c>_since</c>), <c>requiresAccessToken</c>, and the <c>output</c>, <c>error</c> and <c>deleted</c> files.
/// </summary>
public sealed record BulkManifest(string TransactionTime, bool RequiresAccessToken, IReadOnlyList<ManifestFile> Output, IReadOnlyList<ManifestFile> Error, IReadOnlyList<ManifestFile> Deleted)
{
    /// <summary>Reads a manifest; a missing or malformed required field is a <see cref="BulkExportException"/> naming it.</summary>
    public static BulkManifest Parse(string json, Uri statusUrl)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new BulkExportException($"the manifest at {statusUrl} is not a JSON object");
            var time = root.TryGetProperty("transactionTime", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : throw new BulkExportException($"the manifest at {statusUrl} has no transactionTime");
            var token = root.TryGetProperty("requiresAccessToken", out var r) && r.ValueKind == JsonValueKind.True;
            return new BulkManifest(time, token, Files(root, "output", statusUrl), Files(root, "error", statusUrl), Files(root, "deleted", statusUrl));
        }
        catch (JsonException e)
        {
            throw new BulkExportException($"the manifest at {statusUrl} is not valid JSON: {e.Message}");
        }
    }

    private static List<ManifestFile> Files(JsonElement root, string name, Uri statusUrl)
    {
        var files = new List<ManifestFile>();
        if (!root.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array)
            return files;
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var type = item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            var url = item.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
            if (type is null || url is null || !Uri.TryCreate(new Uri(statusUrl, "."), url, out var absolute))
                throw new BulkExportException($"the manifest at {statusUrl}: {name}[{i}] needs a type and a url");
            long? count = item.TryGetProperty("count", out var c) && c.TryGetInt64(out var n) ? n : null;
            files.Add(new ManifestFile(type, absolute.AbsoluteUri, count));
            i++;
        }
        return files;
    }
}

/// <summary>An export that cannot go on (refused kick-off, failed job, expired export, bad manifest); the message says why and what to do.</summary>
public sealed class BulkExportException(string message) : Exception(message);
