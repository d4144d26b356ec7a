using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Trd.Fhir.Adapter.Transport.Resilience;

/// <summary>
/// The outermost handler, just outside the resilience pipeline: makes a request body re-sendable before the first
/// attempt (a retry, or the SMART one-refresh-on-401, sends it again), and turns Polly's timeout and open-circuit
/// exceptions into <see cref="FhirServerUnavailableException"/> with a message an operator can act on.
/// </summary>
internal sealed class TransportBoundaryHandler(ResilienceSettings settings, ILogger<TransportBoundaryHandler> logger)
    : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await EnsureResendableAsync(request, cancellationToken);
        try
        {
            return await base.SendAsync(request, cancellationToken);
        }
        catch (TimeoutRejectedException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw Timeout(request, ex);
        }
        catch (BrokenCircuitException ex)
        {
            var server = ServerOf(request);
            logger.LogWarning("FHIR {Method} to {Server} not sent: the circuit breaker is open", request.Method.Method, server);
            var retryAfter = ex.RetryAfter is { } wait ? $" for about {Seconds(wait)} more" : string.Empty;
            throw new FhirServerUnavailableException(FhirUnavailableReason.CircuitOpen, AttemptHandler.AttemptsOf(request),
                $"The FHIR server {server} failed too often recently (failure ratio ≥ {settings.BreakerFailureRatio:0.##} " +
                $"over at least {settings.BreakerMinimumThroughput} requests): the circuit breaker is open{retryAfter} and the " +
                $"{request.Method.Method} was not sent. Check the server's health; requests resume after {Seconds(settings.BreakDuration)}.",
                ex);
        }
    }

    private FhirServerUnavailableException Timeout(HttpRequestMessage request, TimeoutRejectedException ex)
    {
        var server = ServerOf(request);
        var attempts = AttemptHandler.AttemptsOf(request);
        var isTotal = ex.Timeout == settings.TotalTimeout && ex.Timeout != settings.AttemptTimeout;
        logger.LogWarning("FHIR {Method} to {Server} timed out after {Attempts} attempt(s) ({Timeout})",
            request.Method.Method, server, attempts, isTotal ? "total timeout" : "attempt timeout");
        if (isTotal)
        {
            return new FhirServerUnavailableException(FhirUnavailableReason.TotalTimeout, attempts,
                $"The FHIR server {server} did not complete a {request.Method.Method} within the total timeout of " +
                $"{Seconds(settings.TotalTimeout)} ({attempts} attempt(s), retries and waits included).", ex);
        }

        var retried = RetryRules.IsSafeToRepeat(request)
            ? $"{attempts} attempt(s) of at most {settings.MaxRetries + 1} each timed out"
            : "the request is not safe to repeat, so it was sent once";
        return new FhirServerUnavailableException(FhirUnavailableReason.AttemptTimeout, attempts,
            $"The FHIR server {server} did not answer a {request.Method.Method} within the attempt timeout of " +
            $"{Seconds(settings.AttemptTimeout)}: {retried}. The server may be overloaded, or the request too large for " +
            "one attempt (raise FhirServer:Resilience:AttemptTimeout).", ex);
    }

    private static async Task EnsureResendableAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // ByteArrayContent (String/FormUrlEncoded too) and ReadOnlyMemoryContent serialize again on every send;
        // anything else (a stream) is buffered once so that a second send writes the same bytes.
        if (request.Content is not null and not ByteArrayContent and not ReadOnlyMemoryContent)
        {
            await request.Content.LoadIntoBufferAsync(cancellationToken);
        }
    }

    internal static string ServerOf(HttpRequestMessage request) =>
        request.RequestUri is { IsAbsoluteUri: true } uri ? uri.GetLeftPart(UriPartial.Authority) : "(no server)";

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.###} s";
}
