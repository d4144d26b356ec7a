namespace Trd.Fhir.Adapter.Transport;

/// <summary>
/// Tells the resilience pipeline, for the requests started inside a scope, that repeating them is safe even though they
/// are POSTs (e.g. a transaction whose every entry is a conditional create). GET, HEAD, PUT, DELETE and POSTs carrying
/// If-None-Exist are safe without it. Flows with the async call (AsyncLocal), so business code never loops on retries.
/// </summary>
public static class TransportContext
{
    private static readonly AsyncLocal<bool> IdempotentFlag = new();

    public static bool IsIdempotentScope => IdempotentFlag.Value;

    public static IDisposable Idempotent()
    {
        var previous = IdempotentFlag.Value;
        IdempotentFlag.Value = true;
        return new Restore(previous);
    }

    private sealed class Restore(bool previous) : IDisposable
    {
        public void Dispose() => IdempotentFlag.Value = previous;
    }

    /// <summary>
    /// Set on a request whose response body is streamed by the caller (a Bulk Data NDJSON file, read with
    /// <c>HttpCompletionOption.ResponseHeadersRead</c>): the attempt handler does not buffer it, so retries and the attempt
    /// timeout cover the status and headers only, and the caller resumes a body cut off mid-way.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> StreamResponse = new("Trd.Fhir.Transport.StreamResponse");

    /// <summary>The name of the HttpClient (IHttpClientFactory) that talks to the FHIR server.</summary>
    public const string HttpClientName = "trd-fhir-server";
}
