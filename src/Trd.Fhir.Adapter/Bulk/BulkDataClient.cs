using System.Net;
using System.Net.Http.Headers;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Transport;
using TransportContext = Trd.Fhir.Adapter.Transport.TransportContext;

namespace Trd.Fhir.Adapter.Bulk;

/// <summary>What a status poll said: still running (with X-Progress and the wait asked for), done (the manifest), or busy (429/5xx: wait and ask again).</summary>
public abstract record StatusAnswer
{
    public sealed record InProgress(string? Progress, TimeSpan? RetryAfter) : StatusAnswer;

    public sealed record Complete(BulkManifest Manifest) : StatusAnswer;

    public sealed record Busy(int Status, TimeSpan? RetryAfter) : StatusAnswer;
}

public enum DownloadOutcome { Complete, Retry, Interrupted, Refused, Gone, Failed }

/// <summary>One download attempt: how it ended, the bytes now in the <c>.part</c> file, what the server asked us to wait.</summary>
public sealed record DownloadAttempt(DownloadOutcome Outcome, long Length, long Received, TimeSpan? RetryAfter, string? Detail);

/// <summary>
/// The HTTP side of a Bulk Data export (HL7 Bulk Data Access IG, Export and Asynchronous Request Pattern): kick-off, status
/// polls, file downloads and DELETE. Kick-off, status and DELETE go through the FHIR server's resilient, authenticated
/// HttpClient (retries honour Retry-After on the injected clock). Files are streamed to disk: with the same client (and so
/// the access token) when the manifest says <c>requiresAccessToken</c>, else with a plain client that sends no token (files
/// may live elsewhere, e.g. a storage bucket). A download is one attempt; the workflow resumes it from the bytes on disk.
/// </summary>
public sealed class BulkDataClient(IHttpClientFactory httpClientFactory, Uri baseUrl, TimeProvider time)
{
    /// <summary>The HttpClient for files that need no token (no auth handler).</summary>
    public const string PlainClientName = "trd-fhir-bulk-files";

    private const string FhirJson = "application/fhir+json";
    private const string Ndjson = "application/fhir+ndjson";

    public Uri BaseUrl { get; } = baseUrl;

    private HttpClient Server() => httpClientFactory.CreateClient(TransportContext.HttpClientName);

    private Uri Resolve(string relative) => new(TransportServiceCollectionExtensions.WithTrailingSlash(BaseUrl), relative);

    /// <summary>Starts the export; returns the status URL (Content-Location of the 202).</summary>
    public async Task<Uri> KickOffAsync(BulkExportRequest request, CancellationToken cancellationToken)
    {
        using var message = request.UsesPost
            ? new HttpRequestMessage(HttpMethod.Post, Resolve(request.Path))
            {
                Content = new StringContent(Mapping.FhirJson.Serialize(request.KickOffParameters(), pretty: false), System.Text.Encoding.UTF8, FhirJson),
            }
            : new HttpRequestMessage(HttpMethod.Get, Resolve(request.KickOffUrl()));
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(FhirJson));
        message.Headers.Add("Prefer", "respond-async");
        using var response = await Server().SendAsync(message, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode != HttpStatusCode.Accepted)
            throw new BulkExportException($"the server refused the export kick-off {request.Path} ({(int)response.StatusCode} {response.ReasonPhrase}): {OutcomeText(body)}");
        var location = response.Content.Headers.ContentLocation ?? (response.Headers.TryGetValues("Content-Location", out var values) && Uri.TryCreate(values.First(), UriKind.RelativeOrAbsolute, out var v) ? v : null);
        if (location is null)
            throw new BulkExportException($"the server accepted the export kick-off {request.Path} (202) but sent no Content-Location status URL");
        return location.IsAbsoluteUri ? location : Resolve(location.OriginalString);
    }

    public async Task<StatusAnswer> PollAsync(Uri statusUrl, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Get, statusUrl);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        message.Options.Set(Transport.Auth.CredentialScopeHandler.AllowOtherOrigin, true); // the server's own status URL
        using var response = await Server().SendAsync(message, cancellationToken);
        var status = (int)response.StatusCode;
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        switch (status)
        {
            case 200:
                return new StatusAnswer.Complete(BulkManifest.Parse(body, statusUrl));
            case 202:
                return new StatusAnswer.InProgress(response.Headers.TryGetValues("X-Progress", out var progress) ? string.Join(", ", progress) : null, RetryAfter(response));
            case 404 or 410:
                throw new BulkExportException($"the server no longer knows the export at {statusUrl} ({status}: expired, deleted or never started). Fix: delete {ExportState.FileName} in the output directory to start a new export");
            case 429 or >= 500:
                return new StatusAnswer.Busy(status, RetryAfter(response));
            default:
                throw new BulkExportException($"the export failed on the server ({status} {response.ReasonPhrase}): {OutcomeText(body)}");
        }
    }

    /// <summary>DELETE on the status URL (the export's files may be removed afterwards); true when the server accepted it.</summary>
    public async Task<(bool Ok, int Status)> DeleteAsync(Uri statusUrl, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(HttpMethod.Delete, statusUrl);
        message.Options.Set(Transport.Auth.CredentialScopeHandler.AllowOtherOrigin, true);
        using var response = await Server().SendAsync(message, cancellationToken);
        return (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotFound, (int)response.StatusCode);
    }

    /// <summary>
    /// One attempt at a file: asks for the bytes after what <paramref name="partPath"/> already holds (<c>Range</c>), appends
    /// on 206, starts again on 200, and streams the body to disk (never held in memory). A body cut off mid-way leaves its
    /// bytes on disk and ends <see cref="DownloadOutcome.Interrupted"/>.
    /// </summary>
    public async Task<DownloadAttempt> DownloadAsync(string url, string partPath, bool withToken, CancellationToken cancellationToken)
    {
        var offset = File.Exists(partPath) ? new FileInfo(partPath).Length : 0;
        using var message = new HttpRequestMessage(HttpMethod.Get, url);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(Ndjson));
        if (offset > 0)
            message.Headers.Range = new RangeHeaderValue(offset, null);
        message.Options.Set(TransportContext.StreamResponse, true);
        message.Options.Set(Transport.Auth.CredentialScopeHandler.AllowOtherOrigin, withToken); // requiresAccessToken: the server vouches for the file URL
        var client = withToken ? Server() : httpClientFactory.CreateClient(PlainClientName);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            return new DownloadAttempt(DownloadOutcome.Retry, offset, 0, null, e.Message);
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            if (status == 206 && response.Content.Headers.ContentRange?.From != offset)
                status = 416; // a range we did not ask for: start again
            switch (status)
            {
                case 200 or 206:
                    break;
                case 416:
                    File.Delete(partPath);
                    return new DownloadAttempt(DownloadOutcome.Retry, 0, 0, TimeSpan.Zero, "the server did not resume at our offset; starting the file again");
                case 401 or 403:
                    return new DownloadAttempt(DownloadOutcome.Refused, offset, 0, null, $"{status}: {OutcomeText(await response.Content.ReadAsStringAsync(cancellationToken))}");
                case 404 or 410:
                    return new DownloadAttempt(DownloadOutcome.Gone, offset, 0, null, $"{status}: the file is no longer there (the export expired or was deleted)");
                case 408 or 429 or >= 500:
                    return new DownloadAttempt(DownloadOutcome.Retry, offset, 0, RetryAfter(response), $"{status} {response.ReasonPhrase}");
                default:
                    return new DownloadAttempt(DownloadOutcome.Failed, offset, 0, null, $"{status}: {OutcomeText(await response.Content.ReadAsStringAsync(cancellationToken))}");
            }
            var append = status == 206;
            var expected = response.Content.Headers.ContentLength;
            long received = 0;
            // Unbuffered (bufferSize 0): each chunk read goes to the OS at once, so a process killed mid-file leaves on disk
            // every byte it received, and the next run resumes from there instead of refetching what sat in a buffer.
            await using var output = new FileStream(partPath, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    received += read;
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                await output.FlushAsync(CancellationToken.None);
                return new DownloadAttempt(DownloadOutcome.Interrupted, output.Length, received, null, e.Message);
            }
            await output.FlushAsync(cancellationToken);
            if (expected is { } length && received < length)
                return new DownloadAttempt(DownloadOutcome.Interrupted, output.Length, received, null, $"the body ended after {received} of {length} bytes");
            return new DownloadAttempt(DownloadOutcome.Complete, output.Length, received, null, null);
        }
    }

    /// <summary>Retry-After as delta-seconds or an HTTP date (against the injected clock); null when absent.</summary>
    public TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } retryAfter)
            return null;
        var wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - time.GetUtcNow() : null);
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
    }

    /// <summary>The issue texts of an OperationOutcome body (parsed by the Firely SDK), or the start of the body.</summary>
    public static string OutcomeText(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
            return "(no body)";
        if (Mapping.FhirJson.Parse(System.Text.Encoding.UTF8.GetBytes(body), out _) is OperationOutcome outcome)
        {
            var texts = outcome.Issue.Select(i => i.Details?.Text ?? i.Diagnostics ?? i.Code?.ToString()).Where(t => t is not null).ToArray();
            if (texts.Length > 0)
                return string.Join("; ", texts);
        }
        return body.Length > 200 ? body[..200] + "…" : body;
    }
}
