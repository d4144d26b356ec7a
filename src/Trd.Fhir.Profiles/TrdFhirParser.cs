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

    /// <summary>Parses FHIR JSON.</summary>
    public static ParseResult ParseJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            Json.TryDeserializeResource(json, out var resource, out var issues);
            return Finish(resource, issues);
        }
        catch (JsonException ex)
        {
            return Failed("json-syntax", $"Invalid JSON: {ex.Message}", ex.LineNumber + 1, ex.BytePositionInLine + 1);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException)
        {
            return Failed("json-syntax", $"Invalid JSON: {ex.Message}", null, null);
        }
    }

    /// <summary>Parses FHIR XML.</summary>
    public static ParseResult ParseXml(string xml)
    {
        ArgumentNullException.ThrowIfNull(xml);
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit });
            Xml.TryDeserializeResource(reader, out var resource, out var issues);
            return Finish(resource, issues);
        }
        catch (XmlException ex)
        {
            return Failed("xml-syntax", $"Invalid XML: {ex.Message}", ex.LineNumber, ex.LinePosition);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException)
        {
            return Failed("xml-syntax", $"Invalid XML: {ex.Message}", null, null);
        }
    }

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
        return new ParseResult(resource, oo);
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
