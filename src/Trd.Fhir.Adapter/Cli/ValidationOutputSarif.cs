using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>--format sarif</c>: SARIF 2.1.0 (GitHub code scanning, Azure DevOps, IDE viewers). One run; one result per error
/// or warning with <c>ruleId</c> = the FHIR issue code (<c>invariant</c>, <c>code-invalid</c>, …; <c>unreadable</c> for an
/// input that could not be read), a physical location (file, and line/column where known) and the FHIRPath expression
/// as a logical location. Results stream out as they come; the tool block with the rules actually used follows them.
/// Codings of large external code systems not checked offline are one <c>toolExecutionNotifications</c> note of the
/// invocation (<c>codes-not-checked-offline</c>, with the counts per system in its <c>properties</c>).
/// </summary>
internal sealed class ValidationOutputSarif : ValidationOutput
{
    private readonly TextWriter _stdout;
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private readonly Utf8JsonWriter _json;
    private readonly SortedSet<string> _rules = new(StringComparer.Ordinal);

    public ValidationOutputSarif(TextWriter stdout)
    {
        _stdout = stdout;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        _json.WriteStartObject();
        _json.WriteString("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
        _json.WriteString("version", "2.1.0");
        _json.WriteStartArray("runs");
        _json.WriteStartObject();
        _json.WriteStartArray("results");
        Flush();
    }

    public override void Write(ValidationResult result)
    {
        if (result.Unreadable)
        {
            var at = result.Positions.Count > 0 ? result.Positions[0] : null;
            Result("unreadable", "error", Finding.MessageOf(result.Outcome.Issue[0]), result.File, at?.Line, at?.Column, null);
        }
        else
        {
            foreach (var f in result.Findings())
                Result(f.Code, f.IsError ? "error" : "warning", f.Message, result.File, f.Line, f.Column, f.Expression);
        }
        Flush();
    }

    private void Result(string ruleId, string level, string message, string file, int? line, int? column, string? expression)
    {
        _rules.Add(ruleId);
        _json.WriteStartObject();
        _json.WriteString("ruleId", ruleId);
        _json.WriteString("level", level);
        _json.WriteStartObject("message");
        _json.WriteString("text", message);
        _json.WriteEndObject();
        _json.WriteStartArray("locations");
        _json.WriteStartObject();
        _json.WriteStartObject("physicalLocation");
        _json.WriteStartObject("artifactLocation");
        _json.WriteString("uri", ArtifactUri(file));
        _json.WriteEndObject();
        if (line is { } l)
        {
            _json.WriteStartObject("region");
            _json.WriteNumber("startLine", l);
            if (column is { } c) _json.WriteNumber("startColumn", c);
            _json.WriteEndObject();
        }
        _json.WriteEndObject();
        if (expression is not null)
        {
            _json.WriteStartArray("logicalLocations");
            _json.WriteStartObject();
            _json.WriteString("fullyQualifiedName", expression);
            _json.WriteString("kind", "element");
            _json.WriteEndObject();
            _json.WriteEndArray();
        }
        _json.WriteEndObject();
        _json.WriteEndArray();
        _json.WriteEndObject();
    }

    public override void Complete(ValidationTotals totals)
    {
        _json.WriteEndArray(); // results
        _json.WriteStartObject("tool");
        _json.WriteStartObject("driver");
        _json.WriteString("name", "trd-fhir");
        _json.WriteString("fullName", "trd-fhir validate (Trd.Fhir profiles, Firely validator)");
        _json.WriteString("informationUri", "https://trd-fhir.example.org/fhir");
        _json.WriteStartArray("rules");
        foreach (var rule in _rules)
        {
            _json.WriteStartObject();
            _json.WriteString("id", rule);
            _json.WriteStartObject("shortDescription");
            _json.WriteString("text", rule == "unreadable" ? "The input could not be read as FHIR JSON, XML or NDJSON" : $"FHIR validation issue of type '{rule}'");
            _json.WriteEndObject();
            _json.WriteString("helpUri", rule == "unreadable" ? "https://hl7.org/fhir/R4/formats.html" : "https://hl7.org/fhir/R4/valueset-issue-type.html");
            _json.WriteEndObject();
        }
        _json.WriteEndArray();
        _json.WriteEndObject(); // driver
        _json.WriteEndObject(); // tool
        _json.WriteStartArray("invocations");
        _json.WriteStartObject();
        _json.WriteBoolean("executionSuccessful", totals.Unreadable == 0);
        if (totals.NotCheckedOfflineSummary() is { } note)
        {
            // The run's note on codes not checked offline (no --tx): the text line, and the counts per code system.
            _json.WriteStartArray("toolExecutionNotifications");
            _json.WriteStartObject();
            _json.WriteStartObject("descriptor");
            _json.WriteString("id", "codes-not-checked-offline");
            _json.WriteEndObject();
            _json.WriteString("level", "note");
            _json.WriteStartObject("message");
            _json.WriteString("text", note);
            _json.WriteEndObject();
            _json.WriteStartObject("properties");
            _json.WriteStartObject("codingsNotCheckedOffline");
            foreach (var (system, count) in totals.NotCheckedOffline) _json.WriteNumber(system, count);
            _json.WriteEndObject();
            _json.WriteEndObject();
            _json.WriteEndObject();
            _json.WriteEndArray();
        }
        _json.WriteEndObject();
        _json.WriteEndArray();
        _json.WriteEndObject(); // run
        _json.WriteEndArray(); // runs
        _json.WriteEndObject();
        Flush();
        _stdout.WriteLine();
    }

    private void Flush()
    {
        _json.Flush();
        _stdout.Write(Encoding.UTF8.GetString(_buffer.WrittenSpan));
        _buffer.ResetWrittenCount();
    }

    /// <summary>A relative path stays relative (forward slashes, escaped per segment); an absolute one becomes a file URI.</summary>
    private static string ArtifactUri(string file)
    {
        if (Path.IsPathFullyQualified(file)) return new global::System.Uri(file).AbsoluteUri;
        return string.Join('/', file.Replace('\\', '/').Split('/').Select(global::System.Uri.EscapeDataString));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _json.Dispose();
        base.Dispose(disposing);
    }
}
