using System.Net;
using Polly.Timeout;

namespace Trd.Fhir.Adapter.Transport.Resilience;

/// <summary>
/// What the retry strategy may repeat and how long it waits. Public so that Sync can ask the same questions
/// (e.g. "would this request be retried?") without re-deriving the rules.
/// </summary>
public static class RetryRules
{
    /// <summary>The FHIR conditional-create header: a POST carrying it cannot create a duplicate when repeated.</summary>
    public const string IfNoneExist = "If-None-Exist";

    /// <summary>
    /// A request may be sent again only if repeating it cannot change the outcome: GET, HEAD, PUT (update by id or
    /// conditional update), DELETE, a POST carrying <c>If-None-Exist</c>, or any request started inside
    /// <see cref="TransportContext.Idempotent"/>. Everything else (a plain POST create, PATCH, an operation) is sent once.
    /// </summary>
    public static bool IsSafeToRepeat(HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (TransportContext.IsIdempotentScope)
        {
            return true;
        }

        var method = request.Method;
        if (method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Put || method == HttpMethod.Delete)
        {
            return true;
        }

        return method == HttpMethod.Post && request.Headers.Contains(IfNoneExist);
    }

    /// <summary>408, 429, 500, 502, 503 and 504: the server may answer differently if asked again.</summary>
    public static bool IsTransient(HttpStatusCode status) => (int)status is 408 or 429 or 500 or 502 or 503 or 504;

    /// <summary>
    /// A failed attempt (<see cref="TimeoutRejectedException"/>) or a connection-level failure: refused, reset, ended
    /// early, a broken body, a name that did not resolve. Not transient: TLS/certificate, authentication (FhirAuthException),
    /// proxy and configuration errors.
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        TimeoutRejectedException => true,
        Auth.FhirAuthException or FhirServerUnavailableException => false,
        HttpRequestException http => http.HttpRequestError is not (HttpRequestError.SecureConnectionError
            or HttpRequestError.UserAuthenticationError or HttpRequestError.ConfigurationLimitExceeded
            or HttpRequestError.VersionNegotiationError or HttpRequestError.ExtendedConnectNotSupported
            or HttpRequestError.ProxyTunnelError),
        _ => false,
    };

    /// <summary>
    /// The wait a 429 or 503 asks for with <c>Retry-After</c>, as delta-seconds or as an HTTP-date (measured against
    /// <paramref name="time"/>; a date in the past means "now"). Null when the status is another or the header is absent.
    /// </summary>
    public static TimeSpan? GetRetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(time);
        if ((int)response.StatusCode is not (429 or 503) || response.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        TimeSpan? wait = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - time.GetUtcNow() : null);
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
    }
}
