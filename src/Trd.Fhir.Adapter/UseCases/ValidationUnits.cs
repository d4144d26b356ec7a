using System.Text;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>How an input file is read: one resource as JSON or XML, or NDJSON (one resource per line).</summary>
public enum InputKind { Json, Xml, Ndjson }

/// <summary>An input file of a validation run; <see cref="Missing"/> when the path given does not exist (reported in order).</summary>
public sealed record ValidationInput(string Path, InputKind Kind, bool FromDirectory, bool Missing = false);

/// <summary>One thing to validate: a whole file (<see cref="Line"/> null) or one NDJSON line; or why it cannot be read
/// (for an NDJSON line that is not UTF-8: at <see cref="Column"/>).</summary>
public sealed record ValidationUnit(ValidationInput Input, int? Line, byte[]? Utf8, string? ReadError, int? Column = null);

/// <summary>The inputs of <c>validate</c>: files as given, directories recursively; and their units, streamed.</summary>
public static class ValidationUnits
{
    /// <summary>NDJSON is decoded line by line; bytes that are not UTF-8 become U+FFFF (a noncharacter no FHIR content
    /// holds), so the line and column can be reported instead of silently decoding them to U+FFFD.</summary>
    private const char NotUtf8 = '\uFFFF';

    private static readonly Encoding NdjsonEncoding = Encoding.GetEncoding("utf-8", EncoderFallback.ReplacementFallback, new DecoderReplacementFallback(NotUtf8.ToString()));

    /// <summary>The file extensions a directory is searched for.</summary>
    public static readonly IReadOnlyList<string> Extensions = [".json", ".xml", ".ndjson"];

    /// <summary>Files as given, directories recursively (sorted; <see cref="InputFiles.Expand"/>, the expansion <c>map</c>
    /// shares); a path that does not exist stays, to be reported in order; <paramref name="empty"/> lists the directories that
    /// hold no .json, .xml or .ndjson file.</summary>
    public static List<ValidationInput> Expand(IEnumerable<string> paths, out IReadOnlyList<string> empty)
    {
        var expansion = InputFiles.Expand(paths, Extensions);
        empty = expansion.Empty;
        return [.. expansion.Files.Select(f => f.Missing
            ? new ValidationInput(f.Path, InputKind.Json, FromDirectory: false, Missing: true)
            : new ValidationInput(f.Path, KindOf(f.Path), f.FromDirectory))];
    }

    private static InputKind KindOf(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".ndjson" or ".jsonl") return InputKind.Ndjson;
        if (ext == ".xml") return InputKind.Xml;
        if (ext == ".json") return InputKind.Json;
        try
        {
            using var s = File.OpenRead(path);
            int b;
            while ((b = s.ReadByte()) is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF) { }
            return b == '<' ? InputKind.Xml : InputKind.Json;
        }
        catch (IOException)
        {
            return InputKind.Json; // reported when the unit is read
        }
    }

    /// <summary>The units of every input, lazily and in order: NDJSON is read one line at a time.</summary>
    public static IEnumerable<ValidationUnit> Read(IEnumerable<ValidationInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        foreach (var input in inputs)
        {
            if (input.Missing)
            {
                yield return new ValidationUnit(input, null, null, null);
                continue;
            }
            if (input.Kind != InputKind.Ndjson)
            {
                yield return ReadWhole(input);
                continue;
            }
            StreamReader? reader;
            string? error = null;
            try
            {
                reader = new StreamReader(input.Path, NdjsonEncoding, detectEncodingFromByteOrderMarks: false, new FileStreamOptions { BufferSize = 1 << 16 });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                reader = null;
                error = e.Message;
            }
            if (reader is null)
            {
                yield return new ValidationUnit(input, null, null, error);
                continue;
            }
            using (reader)
            {
                var number = 0;
                while (reader.ReadLine() is { } line)
                {
                    number++;
                    if (string.IsNullOrWhiteSpace(line)) continue;
                    var bad = line.IndexOf(NotUtf8, StringComparison.Ordinal);
                    yield return bad < 0
                        ? new ValidationUnit(input, number, Encoding.UTF8.GetBytes(line.TrimStart('\uFEFF')), null)
                        : new ValidationUnit(input, number, null, $"Invalid JSON: bytes that are not UTF-8 at column {bad + 1} (FHIR content is UTF-8).", bad + 1);
                }
            }
        }
    }

    private static ValidationUnit ReadWhole(ValidationInput input)
    {
        try
        {
            return new ValidationUnit(input, null, File.ReadAllBytes(input.Path), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new ValidationUnit(input, null, null, e.Message);
        }
    }
}
