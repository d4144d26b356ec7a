using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Utility;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>FHIR JSON in and out through the Firely SDK: a pretty, stable writer and a lenient (Recoverable) reader.</summary>
public static class FhirJson
{
    private static readonly BaseFhirJsonSerializer Serializer = new(ModelInfo.ModelInspector);

    private static readonly FhirJsonDeserializer Lenient = new(new DeserializerSettings { AllowUnrecognizedEnums = true }
        .UsingMode(DeserializationMode.Recoverable));

    public static string Serialize(Resource resource, bool pretty = true)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = pretty, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            Serializer.Serialize(resource, writer);
        return Encoding.UTF8.GetString(stream.ToArray()) + (pretty ? "\n" : "");
    }

    /// <summary>The top-level <c>resourceType</c> of a JSON document, or null when it has none (or is not a JSON object, or
    /// breaks — bad syntax, too deep, not UTF-8 — before it: the caller's parser reports that).</summary>
    public static string? ResourceType(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("resourceType"u8))
                    return reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                reader.Skip(); // from the property name over its value
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // not readable up to a resourceType
        }
        return null;
    }

    /// <summary>
    /// Parses a resource leniently: unknown elements and codes are kept for the validator to report. Returns null (with the
    /// reason) only when there is no resource to speak of (not JSON, no resourceType, unknown resource type).
    /// </summary>
    public static Resource? Parse(ReadOnlySpan<byte> utf8, out IReadOnlyList<string> issues)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (ResourceType(utf8) is null)
            {
                issues = ["the JSON object has no \"resourceType\""];
                return null;
            }
            if (Lenient.TryDeserializeResource(ref reader, out var resource, out var errors))
            {
                issues = [];
                return resource;
            }
            issues = errors.Select(e => e.Message).ToArray();
            return resource;
        }
        catch (JsonException e)
        {
            issues = [e.Message];
            return null;
        }
        catch (CodedException e)
        {
            issues = [e.Message];
            return null;
        }
    }
}
