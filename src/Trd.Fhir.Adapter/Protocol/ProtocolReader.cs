using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Unicode;

namespace Trd.Fhir.Adapter.Protocol;

public sealed record ProtocolReadResult(TrdProtocol? Protocol, IReadOnlyList<Problem> Problems)
{
    public bool Success => Protocol is not null;
}

/// <summary>
/// Reads a TRD protocol document (JSON) into the model and checks it, reporting every problem with its JSON path,
/// line and a fix hint. Never throws for bad input: the result carries the problems, and the protocol only when there is
/// no error. This class is the document level (size, UTF-8, JSON syntax and depth, duplicate names, a FHIR resource sent
/// instead, problems located by line); the elements are read by <see cref="ProtocolElements"/>, the semantic rules checked by
/// <see cref="ProtocolChecks"/>.
/// </summary>
public static partial class ProtocolReader
{
    public const int MaxDepth = 32;

    /// <summary>Documents above this size are refused before parsing (a protocol is a few tens of kilobytes).</summary>
    public const int MaxBytes = 16 * 1024 * 1024;

    public static ProtocolReadResult Read(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxBytes)
            return Failed(new Problem(ProblemSeverity.Error, ProblemCode.OutOfRange, "$", $"the document is {utf8.Length} bytes; at most {MaxBytes} are accepted", "split it: one protocol document per patient"));
        if (utf8.StartsWith("\uFEFF"u8))
            utf8 = utf8[3..];
        if (!Utf8.IsValid(utf8))
            return NotUtf8(utf8);

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8.ToArray(), new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            var line = e.LineNumber is { } l ? (int)l + 1 : (int?)null;
            var column = e.BytePositionInLine is { } c ? (int)c + 1 : (int?)null;
            var path = JsonLineIndex.PathAt(utf8, MaxDepth);
            var hint = e.Message.Contains("maximum configured depth", StringComparison.Ordinal)
                ? $"a protocol document nests at most {MaxDepth} levels of objects and arrays"
                : "fix the JSON syntax at this position";
            var message = FirstSentence(e.Message);
            if (utf8.TrimStart(" \t\r\n"u8) is [(byte)'<', ..])
            {
                message = "this is XML; a protocol document is JSON";
                hint = "give the protocol document as JSON (docs/protocol-format.md); FHIR XML is checked by 'validate'";
            }
            return Failed(new Problem(ProblemSeverity.Error, ProblemCode.InvalidJson, path, message, hint, line, column));
        }

        using (document)
        {
            var cursor = new JsonCursor();
            foreach (var (path, name, line, column) in JsonLineIndex.DuplicateNames(utf8, MaxDepth))
                cursor.Add(new Problem(ProblemSeverity.Error, ProblemCode.Duplicate, path, $"'{name}' appears more than once in this object; JSON readers keep only one of the values", "remove the repeated property", line, column));
            var root = document.RootElement;
            var protocol = root.ValueKind != JsonValueKind.Object ? null
                : IsFhirResource(root, cursor) ? null
                : ProtocolElements.Read(root, cursor);
            if (root.ValueKind != JsonValueKind.Object)
                cursor.Error("$", ProblemCode.WrongType, $"a protocol document is a JSON object, not {Kind(root.ValueKind)}", "wrap the document in { … }");
            if (protocol is not null && !cursor.HasErrors)
                ProtocolChecks.Check(protocol, cursor);

            var index = cursor.Problems.Count > 0 ? JsonLineIndex.Build(utf8) : [];
            var problems = cursor.Problems
                .Select(p => p.Line is null && JsonLineIndex.Locate(index, p.Path) is { } at ? p with { Line = at.Line, Column = at.Column } : p)
                .ToList();
            if (cursor.Dropped > 0)
                problems.Add(new Problem(ProblemSeverity.Error, ProblemCode.OutOfRange, "$", $"{cursor.Dropped} more problems are not listed (only the first {JsonCursor.MaxProblems} are)", "correct those and read the document again"));
            return new ProtocolReadResult(cursor.HasErrors ? null : protocol, problems);
        }
    }

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    /// <summary>The first byte that is not UTF-8, with its line, column and the JSON path around it.</summary>
    private static ProtocolReadResult NotUtf8(ReadOnlySpan<byte> utf8)
    {
        var offset = 0;
        while (offset < utf8.Length && Rune.DecodeFromUtf8(utf8[offset..], out _, out var consumed) == OperationStatus.Done)
            offset += consumed;
        var line = 1 + utf8[..offset].Count((byte)'\n');
        var column = offset - (utf8[..offset].LastIndexOf((byte)'\n') + 1) + 1;
        var path = JsonLineIndex.PathAt(utf8, MaxDepth, offset);
        return Failed(new Problem(ProblemSeverity.Error, ProblemCode.InvalidJson, path, $"byte 0x{utf8[offset]:X2} at offset {offset} is not valid UTF-8", "save the document as UTF-8", line, column));
    }

    /// <summary>A FHIR resource sent where a protocol document belongs: one precise problem instead of a list of unknown properties.</summary>
    private static bool IsFhirResource(JsonElement root, JsonCursor c)
    {
        if (!root.TryGetProperty("resourceType", out var type))
            return false;
        var name = type.ValueKind == JsonValueKind.String ? $"a FHIR {Truncate(type.GetString()!)} resource" : "FHIR (it has 'resourceType')";
        c.Error("$.resourceType", ProblemCode.WrongType, $"this is {name}, not a TRD protocol document", "give a protocol document (docs/protocol-format.md); FHIR is read back by 'map --reverse' and checked by 'validate'");
        return true;
    }

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";

    public static ProtocolReadResult Read(string json) => Read(System.Text.Encoding.UTF8.GetBytes(json));

    private static ProtocolReadResult Failed(Problem problem) => new(null, [problem]);

    private static string FirstSentence(string message)
    {
        // System.Text.Json appends "Path: $ | LineNumber: 160 | BytePositionInLine: 0." (zero-based): the problem carries
        // the one-based line and column instead.
        foreach (var marker in new[] { " Path:", " LineNumber:" })
        {
            var cut = message.IndexOf(marker, StringComparison.Ordinal);
            if (cut > 0)
                message = message[..cut];
        }
        return message.TrimEnd();
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9.-]{0,63}\z")]
    internal static partial Regex IdPattern();
}
