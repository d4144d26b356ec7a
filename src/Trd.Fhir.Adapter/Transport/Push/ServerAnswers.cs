using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Trd.Fhir.Adapter.Transport.Resilience;

namespace Trd.Fhir.Adapter.Transport.Push;

/// <summary>
/// Reading what a FHIR server answered to a write: entry statuses, <c>Location</c> and <c>ETag</c>, OperationOutcome texts,
/// and which failures (HTTP statuses, transport and Polly exceptions) may pass on a later try.
/// </summary>
public static class ServerAnswers
{
    /// <summary>Records a transaction's or batch's response entry by entry; a response that does not match what was sent fails them all (retryable).</summary>
    public static void Record(IReadOnlyList<PushEntry> sent, Bundle? response, string what)
    {
        if (response is null || response.Entry.Count != sent.Count)
        {
            PushEntry.Fail(sent, $"the server's {what} response has {response?.Entry.Count ?? 0} entries for {sent.Count} sent; outcome unknown — push again (it is safe: conditional requests never duplicate)", retryable: true);
            return;
        }
        for (var i = 0; i < sent.Count; i++)
            RecordOne(sent[i], response.Entry[i].Response, response.Entry[i].Resource);
    }

    public static void RecordOne(PushEntry entry, Bundle.ResponseComponent? response, Resource? returned)
    {
        var status = ParseStatus(response?.Status);
        if (status is null or < 200 or >= 300)
        {
            entry.Fail($"the server answered {response?.Status ?? "nothing"} for this entry{(OutcomeText(response?.Outcome as OperationOutcome) is { } text ? ": " + text : "")}", status is null || IsTransientStatus(status.Value));
            return;
        }
        var id = IdFromLocation(response?.Location, entry.Type) ?? returned?.Id;
        if (id is null)
        {
            entry.Fail($"the server answered {response?.Status} but gave no location or id; cannot confirm what was stored", retryable: true);
            return;
        }
        entry.ServerId = id;
        entry.ServerVersion = VersionFromLocation(response?.Location) ?? returned?.Meta?.VersionId ?? VersionFromETag(response?.Etag);
        entry.Done(status == 201 ? EntryState.Created : entry.IsUpdate ? EntryState.Updated : EntryState.Unchanged);
    }

    public static int? ParseStatus(string? status) =>
        status is { Length: >= 3 } && int.TryParse(status.AsSpan(0, 3), out var code) ? code : null;

    /// <summary>"Observation/123/_history/2" → "2"; null without a history part.</summary>
    public static string? VersionFromLocation(string? location)
    {
        var parts = location?.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var at = parts is null ? -1 : Array.LastIndexOf(parts, "_history");
        return at >= 0 && at + 1 < parts!.Length ? parts[at + 1] : null;
    }

    /// <summary><c>W/"3"</c> → "3".</summary>
    public static string? VersionFromETag(string? etag) =>
        string.IsNullOrWhiteSpace(etag) ? null : etag.Trim().TrimStart('W', 'w').TrimStart('/').Trim('"');

    /// <summary>"Observation/123/_history/2" or "http://x/fhir/Observation/123/_history/2" → "123".</summary>
    public static string? IdFromLocation(string? location, string resourceType)
    {
        if (location is null)
            return null;
        var parts = location.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var at = Array.LastIndexOf(parts, resourceType);
        return at >= 0 && at + 1 < parts.Length ? parts[at + 1] : null;
    }

    /// <summary>A status that refuses the Bundle as such (transaction/batch unsupported, too large…): fall back to the next strategy.</summary>
    public static bool IsRefusal(HttpStatusCode status) => (int)status is 400 or 404 or 405 or 409 or 413 or 422 or 500 or 501;

    /// <summary>May pass: 408, 429, 5xx. Any other 4xx is the server refusing this content for good.</summary>
    public static bool IsTransientStatus(int status) => status is 408 or 429 or >= 500;

    /// <summary>Timeouts, resets, an open circuit and 408/429/5xx answers may pass; other refusals (4xx, a duplicate patient) will not.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        FhirOperationException f => IsTransientStatus((int)f.Status),
        FhirTransportException => false,
        _ => true,
    };

    /// <summary>The failures a push reports per resource rather than crashing on.</summary>
    public static bool IsSendFailure(Exception e, CancellationToken cancellationToken) =>
        e is FhirOperationException or FhirTransportException or HttpRequestException or TimeoutException or Polly.CircuitBreaker.BrokenCircuitException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    public static string? OutcomeText(OperationOutcome? outcome)
    {
        var texts = outcome?.Issue.Select(i => i.Details?.Text ?? i.Diagnostics).Where(t => !string.IsNullOrWhiteSpace(t)).Take(3).ToArray();
        return texts is { Length: > 0 } ? string.Join("; ", texts) : null;
    }

    public static string Describe(Exception e) => e switch
    {
        FhirOperationException f => $"the server answered {(int)f.Status}{(OutcomeText(f.Outcome) is { } text ? ": " + text : "")}",
        Polly.CircuitBreaker.BrokenCircuitException => "the server failed repeatedly; the circuit breaker is open — try again later",
        TimeoutException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException => "the server did not answer in time (after retries)",
        // .NET's own text ("An error occurred while sending the request.") does not say what happened; the socket error does
        // (e.g. "Connection reset by peer"). Our transport's own exceptions already say it all.
        HttpRequestException { InnerException: { } inner } h when h is not FhirServerUnavailableException && inner.Message != h.Message =>
            $"{h.Message} ({h.HttpRequestError}: {inner.Message})",
        _ => e.Message,
    };

    /// <summary>How long an open circuit breaker keeps requests back, when <paramref name="e"/> is that refusal.</summary>
    public static TimeSpan? CircuitOpenFor(Exception e) =>
        e is FhirServerUnavailableException { Reason: FhirUnavailableReason.CircuitOpen } open
            ? (open.InnerException as Polly.CircuitBreaker.BrokenCircuitException)?.RetryAfter ?? TimeSpan.Zero
            : null;
}
