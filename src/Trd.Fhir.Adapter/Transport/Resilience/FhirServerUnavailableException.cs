namespace Trd.Fhir.Adapter.Transport.Resilience;

public enum FhirUnavailableReason
{
    /// <summary>Every attempt allowed took longer than ResilienceSettings.AttemptTimeout.</summary>
    AttemptTimeout,

    /// <summary>The request with all its retries and waits took longer than ResilienceSettings.TotalTimeout.</summary>
    TotalTimeout,

    /// <summary>The circuit breaker for this server is open: the request was not sent.</summary>
    CircuitOpen,
}

/// <summary>
/// The FHIR server did not answer in time, or the adapter stopped trying for a while (open circuit). Derives from
/// <see cref="HttpRequestException"/> so callers that handle "the request failed" report it with this message. The
/// message names the server (scheme, host, port) and the method, never the path or query (they can hold patient identifiers).
/// </summary>
public sealed class FhirServerUnavailableException : HttpRequestException
{
    public FhirServerUnavailableException(FhirUnavailableReason reason, int attempts, string message, Exception? innerException)
        : base(message, innerException)
    {
        Reason = reason;
        Attempts = attempts;
    }

    public FhirUnavailableReason Reason { get; }

    /// <summary>How many times the request reached the wire (0 when the circuit was open).</summary>
    public int Attempts { get; }
}
