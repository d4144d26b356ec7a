using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Trd.Fhir.Adapter.Api;

public enum BodyFormat { Json, Xml }

/// <summary>A request body read within the size limit, and its format from Content-Type; or the error to answer.</summary>
public sealed record ApiBody(byte[]? Bytes, BodyFormat Format, IResult? Error)
{
    private static readonly string[] JsonTypes = ["application/json", "application/fhir+json"];
    private static readonly string[] XmlTypes = ["application/xml", "application/fhir+xml", "text/xml"];

    /// <summary>Reads the body: 415 for another media type (<paramref name="allowXml"/> adds the XML ones), 413 above
    /// <paramref name="limit"/> bytes (by Content-Length first, then counted while reading), 400 when empty.</summary>
    public static async Task<ApiBody> ReadAsync(HttpContext context, long limit, bool allowXml)
    {
        var request = context.Request;
        var format = BodyFormat.Json;
        var mediaType = MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed.MediaType.Value?.ToLowerInvariant() : null;
        if (mediaType is not null && XmlTypes.Contains(mediaType) && allowXml)
            format = BodyFormat.Xml;
        else if (mediaType is null || !JsonTypes.Contains(mediaType))
        {
            var accepted = string.Join(", ", allowXml ? JsonTypes.Concat(XmlTypes) : JsonTypes);
            return Fail(StatusCodes.Status415UnsupportedMediaType, OperationOutcome.IssueType.NotSupported,
                $"Content-Type '{request.ContentType}' is not accepted here (fix: send one of {accepted})");
        }
        if (request.ContentLength > limit)
            return TooLarge(limit);

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
                return TooLarge(limit);
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
            return Fail(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Required, "the request body is empty (fix: send the document as the body)");
        return new ApiBody(buffer.ToArray(), format, null);
    }

    private static ApiBody TooLarge(long limit) => Fail(StatusCodes.Status413PayloadTooLarge, OperationOutcome.IssueType.TooLong,
        $"the request body is larger than {limit} bytes (fix: send one protocol document per request, or raise --max-body-size)");

    private static ApiBody Fail(int status, OperationOutcome.IssueType type, string message) =>
        new(null, BodyFormat.Json, ApiOutcome.Error(status, type, message));
}
