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

    /// <summary>The name of the HttpClient (IHttpClientFactory) that talks to the FHIR server.</summary>
    public const string HttpClientName = "trd-fhir-server";
}
