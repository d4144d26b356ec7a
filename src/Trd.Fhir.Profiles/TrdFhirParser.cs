using System.Text.Json;
using System.Xml;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Utility;

namespace Trd.Fhir.Profiles;

/// <summary>The parsed resource (null when nothing usable could be read) and the problems the POCO could not hold.</summary>
public sealed record ParseResult(Resource? Resource, OperationOutcome Outcome)
{
    /// <summary>True when a resource was read and nothing was lost on the way.</summary>
    public bool Success => Resource is not null && Outcome.Success;
}

/// <summary>
/// Lenient FHIR parsing for validation: Recoverable mode + AllowUnrecognizedEnums keep bad codes, unknown elements and
/// wrong literals in the POCO so that the validator — not the parser — reports them, with its usual messages and paths.
/// What the POCO cannot hold (malformed JSON/XML, a missing or unknown resourceType, a duplicate property) comes back as
/// error issues. Never throws for bad input.
/// </summary>
public static class TrdFhirParser
{
    private const string IssueSystem = "https://trd-fhir.example.org/fhir/CodeSystem/parse-issue";
    private static readonly DeserializerSettings Settings = new DeserializerSettings { AllowUnrecognizedEnums = true }.UsingMode(DeserializationMode.Recoverable);
    private static readonly FhirJsonDeserializer Json = new(Settings);
    private static readonly FhirXmlDeserializer Xml = new(Settings);

    /// <summary>Elements nested deeper than this are refused in XML, as System.Text.Json refuses JSON nested deeper than 64:
    /// the deserializer recurses per level (10,000 levels overflow the stack) and the validator slows down with depth.</summary>
    public const int MaxXmlDepth = 64;

    private const string FhirNamespace = "http://hl7.org/fhir";

    /// <summary>Parses FHIR JSON or XML from bytes: a UTF-8 BOM is skipped, bytes that are not UTF-8 are refused (FHIR is
    /// UTF-8; decoding them to U+FFFD would change the data silently).</summary>
    public static ParseResult Parse(ReadOnlySpan<byte> utf8, bool xml)
    {
        if (utf8.StartsWith("\uFEFF"u8))
            utf8 = utf8[3..];
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            var offset = 0;
            while (System.Text.Rune.DecodeFromUtf8(utf8[offset..], out _, out var consumed) == System.Buffers.OperationStatus.Done)
                offset += consumed;
            var line = 1 + utf8[..offset].Count((byte)'\n');
            var column = offset - (utf8[..offset].LastIndexOf((byte)'\n') + 1) + 1;
            return Failed(xml ? "xml-syntax" : "json-syntax", $"Invalid {(xml ? "XML" : "JSON")}: byte 0x{utf8[offset]:X2} at offset {offset} is not UTF-8 (FHIR content is UTF-8).", line, column);
        }
        if (!xml && CheckJsonArrays(utf8) is { } refused)
            return refused;
        var text = System.Text.Encoding.UTF8.GetString(utf8);
        return xml ? ParseXml(text) : ParseJson(text);
    }

    /// <summary>Items accepted in one JSON array or as children of one XML element. Validation costs time and memory per
    /// element (200,000 empty identifiers: a minute, 1.3 GB, 30 MB of issues); bigger sets of resources go in NDJSON.</summary>
    public const int MaxItems = 10_000;

    private const string TooManyItems = "too-many-items";

    /// <summary>The first JSON array with more than <see cref="MaxItems"/> items, as a refusal; null when there is none
    /// (or the JSON breaks first: the parser reports that).</summary>
    private static ParseResult? CheckJsonArrays(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        var counts = new Stack<int>();
        try
        {
            while (reader.Read())
            {
                if (counts.Count > 0 && reader.TokenType is not (JsonTokenType.EndArray or JsonTokenType.EndObject or JsonTokenType.PropertyName) && reader.CurrentDepth == counts.Count && counts.Peek() >= 0)
                {
                    var count = counts.Pop() + 1;
                    counts.Push(count);
                    if (count > MaxItems)
                        return TooMany(utf8, reader.TokenStartIndex);
                }
                if (reader.TokenType is JsonTokenType.StartArray)
                    counts.Push(0);
                else if (reader.TokenType is JsonTokenType.StartObject)
                    counts.Push(-1);
                else if (reader.TokenType is JsonTokenType.EndArray or JsonTokenType.EndObject)
                    counts.Pop();
            }
        }
        catch (JsonException)
        {
            // reported by the parser
        }
        return null;
    }

    private static ParseResult TooMany(ReadOnlySpan<byte> utf8, long offset)
    {
        var before = utf8[..(int)offset];
        var line = before.Count((byte)'\n') + 1;
        var column = before.Length - (before.LastIndexOf((byte)'\n') + 1) + 1;
        return Failed(TooManyItems, $"An array has more than {MaxItems} items (item {MaxItems + 1} is here); at most {MaxItems} are accepted in one resource.", line, column);
    }

    /// <summary>Parses FHIR JSON.</summary>
    public static ParseResult ParseJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var first = json.AsSpan().TrimStart();
        if (first.Length > 0 && first[0] != '{' && JsonKind(first) is { } kind)
            return Failed("resource-type", $"The content is a JSON {kind}, not a FHIR resource (a JSON object with 'resourceType').", null, null);
        try
        {
            var shape = Validation.JsonShape.Check(json);
            Json.TryDeserializeResource(shape.Repaired ?? json, out var resource, out var issues);
            var result = Finish(resource, issues);
            if (shape.Issues.Count > 0) result.Outcome.Issue.InsertRange(0, shape.Issues);
            return result;
        }
        catch (JsonException ex)
        {
            return Failed("json-syntax", $"Invalid JSON: {ex.Message}", ex.LineNumber + 1, ex.BytePositionInLine + 1);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException)
        {
            return Failed("json-syntax", $"Invalid JSON: {ex.Message}", null, null);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return ParserFailed(ex);
        }
    }

    /// <summary>Parses FHIR XML.</summary>
    public static ParseResult ParseXml(string xml)
    {
        ArgumentNullException.ThrowIfNull(xml);
        try
        {
            if (CheckXmlShape(xml) is { } refused)
                return refused;
            using var reader = XmlReader.Create(new StringReader(xml), XmlSettings);
            Xml.TryDeserializeResource(reader, out var resource, out var issues);
            return Finish(resource, issues);
        }
        catch (XmlException ex)
        {
            var doctype = xml.IndexOf("<!DOCTYPE", StringComparison.Ordinal);
            if (doctype >= 0)
            {
                var line = xml.AsSpan(0, doctype).Count('\n') + 1;
                var column = doctype - (xml.LastIndexOf('\n', Math.Max(doctype - 1, 0)) + 1) + 1;
                return Failed("xml-syntax", "Invalid XML: a DTD (<!DOCTYPE …>) is not accepted: FHIR XML has none, and entity expansion and external entities are refused.", line, column);
            }
            return Failed("xml-syntax", $"Invalid XML: {ex.Message}", ex.LineNumber == 0 ? null : ex.LineNumber, ex.LinePosition);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException)
        {
            return Failed("xml-syntax", $"Invalid XML: {ex.Message}", null, null);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return ParserFailed(ex);
        }
    }

    /// <summary>Issue code of <see cref="ParserFailed"/>: the input is well-formed but the FHIR parser could not hold it.</summary>
    public const string ParserFailure = "parser-failure";

    /// <summary>The SDK's parser threw on well-formed input (e.g. an XML primitive written as an element with content):
    /// a fatal issue for this input, never a crash of the run.</summary>
    private static ParseResult ParserFailed(Exception ex)
    {
        var oo = new OperationOutcome();
        var issue = Issue(ParserFailure, $"The FHIR parser could not read this resource ({ex.GetType().Name}: {ex.GetBaseException().Message}). Check that every element has the type and shape the specification gives it (e.g. an XML primitive is written <active value=\"true\"/>, not <active>true</active>).", null, null, null);
        issue.Severity = OperationOutcome.IssueSeverity.Fatal;
        issue.Code = OperationOutcome.IssueType.Exception;
        oo.Issue.Add(issue);
        return new ParseResult(null, oo);
    }

    /// <summary>No DTD, no external resolution, no entity expansion.</summary>
    private static readonly XmlReaderSettings XmlSettings = new() { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, MaxCharactersFromEntities = 1024 };

    /// <summary>Before deserializing: the root element in the FHIR namespace, and no element deeper than <see cref="MaxXmlDepth"/>.</summary>
    private static ParseResult? CheckXmlShape(string xml)
    {
        using var reader = XmlReader.Create(new StringReader(xml), XmlSettings);
        var info = (IXmlLineInfo)reader;
        var children = new int[MaxXmlDepth + 1]; // child elements of the open element at each depth
        while (reader.Read())
        {
            if (reader.NodeType != XmlNodeType.Element)
                continue;
            if (reader.Depth > 0 && reader.Depth <= MaxXmlDepth && ++children[reader.Depth - 1] > MaxItems)
                return Failed(TooManyItems, $"An element has more than {MaxItems} child elements (child {MaxItems + 1} is here); at most {MaxItems} are accepted in one resource.", info.LineNumber, info.LinePosition);
            if (reader.Depth < MaxXmlDepth)
                children[reader.Depth] = 0;
            if (reader.Depth == 0 && reader.NamespaceURI != FhirNamespace)
                return Failed("resource-type", $"The root element <{reader.Name}> is not in the FHIR namespace: FHIR XML declares xmlns=\"{FhirNamespace}\".", info.LineNumber, info.LinePosition);
            if (reader.Depth >= MaxXmlDepth)
                return Failed("xml-syntax", $"Invalid XML: elements are nested deeper than {MaxXmlDepth} levels (<{reader.Name}>).", info.LineNumber, info.LinePosition);
        }
        return null;
    }

    private static string? JsonKind(ReadOnlySpan<char> text) => text[0] switch
    {
        '[' => "array",
        '"' => "string",
        '-' or (>= '0' and <= '9') => "number",
        _ when text.StartsWith("true") || text.StartsWith("false") => "boolean",
        _ when text.StartsWith("null") => "null",
        _ => null,
    };

    private static ParseResult Finish(Resource? resource, IEnumerable<CodedException> issues)
    {
        var oo = new OperationOutcome();
        foreach (var i in issues)
        {
            var e = (i as ExtendedCodedException);
            oo.Issue.Add(Issue(i.ErrorCode, e?.BaseErrorMessage ?? i.Message, e?.InstancePath, e?.LineNumber, e?.Position));
        }
        if (resource is null || !ModelInfo.IsKnownResource(resource.TypeName))
        {
            var message = resource is null || resource.TypeName.StartsWith("UnnamedResource", StringComparison.Ordinal)
                ? "The content has no 'resourceType'."
                : $"Unknown resourceType '{resource.TypeName}'.";
            oo.Issue.Add(Issue("resource-type", message, null, null, null));
            return new ParseResult(null, oo);
        }
        if (resource is Bundle bundle)
            EntryResources(bundle, "Bundle", oo);
        return new ParseResult(resource, oo);
    }

    /// <summary>Bundle entries whose resource is no FHIR resource (a string, no or an unknown resourceType), nested Bundles too.</summary>
    private static void EntryResources(Bundle bundle, string path, OperationOutcome oo)
    {
        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            var at = $"{path}.entry[{i}].resource";
            switch (bundle.Entry[i].Resource)
            {
                case Bundle nested:
                    EntryResources(nested, at, oo);
                    break;
                case { } r when !ModelInfo.IsKnownResource(r.TypeName):
                    var message = r.TypeName.StartsWith("UnnamedResource", StringComparison.Ordinal)
                        ? $"{at} is not a FHIR resource: it has no 'resourceType' (or is not a JSON object)."
                        : $"{at} has an unknown resourceType '{r.TypeName}'.";
                    oo.Issue.Add(Issue("resource-type", message, at, null, null));
                    break;
            }
        }
    }

    private static ParseResult Failed(string code, string message, long? line, long? position)
    {
        var oo = new OperationOutcome();
        oo.Issue.Add(Issue(code, message, null, line, position));
        return new ParseResult(null, oo);
    }

    private static OperationOutcome.IssueComponent Issue(string code, string message, string? path, long? line, long? position)
    {
        var issue = new OperationOutcome.IssueComponent
        {
            Severity = OperationOutcome.IssueSeverity.Error,
            Code = OperationOutcome.IssueType.Structure,
            Details = new CodeableConcept(IssueSystem, code, message),
            Diagnostics = line is null ? null : $"line {line}, position {position}",
        };
        if (!string.IsNullOrEmpty(path)) issue.Expression = [path];
        return issue;
    }
}
