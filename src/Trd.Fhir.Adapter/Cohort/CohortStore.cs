using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Trd.Fhir.Adapter.Cohort;

/// <summary>One NDJSON line as stored: where it came from and its JSON.</summary>
public sealed record StoredLine(string Type, string File, long Line, string Json);

/// <summary>
/// Groups the resources of a Bulk Data export by patient without holding the population in memory: every NDJSON line goes
/// into an embedded SQLite file (one row: patient id, type, file, line, JSON) in batches, then one ordered query streams
/// the rows back patient by patient. Memory is one patient's resources plus SQLite's page cache, whatever N is.
/// </summary>
public sealed class CohortStore : IDisposable
{
    private const int BatchSize = 5000;
    private readonly SqliteConnection _connection;
    private readonly string _path;

    public CohortStore(string path)
    {
        _path = path;
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000; PRAGMA temp_store=FILE;" +
                "CREATE TABLE IF NOT EXISTS line(patient TEXT NOT NULL, type TEXT NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL, json TEXT NOT NULL);");
    }

    /// <summary>Lines that belong to no patient (e.g. Medication, Practitioner) or could not be read, by reason.</summary>
    public Dictionary<string, long> Skipped { get; } = new(StringComparer.Ordinal);

    public long Stored { get; private set; }

    /// <summary>
    /// Streams one NDJSON file into the store; <paramref name="onLine"/> sees every non-empty line it keeps (e.g. to validate
    /// it). With a <paramref name="partition"/>, only the lines of that partition's patients are kept, and lines that belong to
    /// no patient are counted only by the partition that counts them (so the partitions of one export add up to it once).
    /// </summary>
    public void Load(string file, string displayName, Action<string, long, string>? onLine = null, CohortPartition? partition = null)
    {
        using var transaction = _connection.BeginTransaction();
        using var insert = _connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO line(patient, type, file, line, json) VALUES ($p, $t, $f, $l, $j)";
        var p = insert.Parameters.Add("$p", SqliteType.Text);
        var t = insert.Parameters.Add("$t", SqliteType.Text);
        var f = insert.Parameters.Add("$f", SqliteType.Text);
        var l = insert.Parameters.Add("$l", SqliteType.Integer);
        var j = insert.Parameters.Add("$j", SqliteType.Text);
        f.Value = displayName;
        long number = 0;
        var pending = 0;
        var current = transaction;
        foreach (var text in File.ReadLines(file))
        {
            number++;
            if (string.IsNullOrWhiteSpace(text))
                continue;
            var (type, patient, skip) = Owner(text);
            if (skip is not null ? partition is { CountsUnowned: false } : partition is not null && !partition.Holds(patient))
                continue;
            onLine?.Invoke(displayName, number, text);
            if (skip is not null)
            {
                Skipped[skip] = Skipped.GetValueOrDefault(skip) + 1;
                continue;
            }
            p.Value = patient;
            t.Value = type;
            l.Value = number;
            j.Value = text;
            insert.ExecuteNonQuery();
            Stored++;
            if (++pending == BatchSize)
            {
                current.Commit();
                current.Dispose();
                current = _connection.BeginTransaction();
                insert.Transaction = current;
                pending = 0;
            }
        }
        current.Commit();
        if (!ReferenceEquals(current, transaction))
            current.Dispose();
    }

    /// <summary>Streams the stored lines patient by patient (ordered by patient id, then type, file and line).</summary>
    public IEnumerable<(string Patient, List<StoredLine> Lines)> Patients()
    {
        Execute("CREATE INDEX IF NOT EXISTS line_patient ON line(patient, type, file, line)");
        using var query = _connection.CreateCommand();
        query.CommandText = "SELECT patient, type, file, line, json FROM line ORDER BY patient, type, file, line";
        using var reader = query.ExecuteReader();
        string? patient = null;
        var lines = new List<StoredLine>();
        while (reader.Read())
        {
            var id = reader.GetString(0);
            if (patient is not null && id != patient)
            {
                yield return (patient, lines);
                lines = [];
            }
            patient = id;
            lines.Add(new StoredLine(reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetString(4)));
        }
        if (patient is not null)
            yield return (patient, lines);
    }

    /// <summary>The resource type and the patient id a line belongs to (the Patient itself, or its subject/patient reference).</summary>
    internal static (string Type, string Patient, string? Skip) Owner(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("resourceType", out var rt) || rt.ValueKind != JsonValueKind.String)
                return ("", "", "not a FHIR resource (no resourceType)");
            var type = rt.GetString()!;
            if (type == "Patient")
                return root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? (type, id.GetString()!, null) : (type, "", "a Patient without an id");
            foreach (var name in (ReadOnlySpan<string>)["subject", "patient"])
            {
                if (root.TryGetProperty(name, out var reference) && reference.ValueKind == JsonValueKind.Object
                    && reference.TryGetProperty("reference", out var r) && r.ValueKind == JsonValueKind.String
                    && PatientId(r.GetString()!) is { } owner)
                    return (type, owner, null);
            }
            return (type, "", $"{type} not tied to a patient");
        }
        catch (JsonException)
        {
            return ("", "", "not valid JSON");
        }
    }

    private static string? PatientId(string reference)
    {
        var at = reference.LastIndexOf("Patient/", StringComparison.Ordinal);
        if (at < 0 || (at > 0 && reference[at - 1] != '/'))
            return null;
        var id = reference[(at + "Patient/".Length)..];
        return id.Length > 0 && !id.Contains('/') ? id : null;
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _connection.Dispose();
        File.Delete(_path);
    }
}
