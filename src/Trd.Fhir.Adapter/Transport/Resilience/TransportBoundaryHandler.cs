using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Trd.Fhir.Adapter.Transport.Resilience;

/// <summary>
/// The outermost handler, just outside the resilience pipeline: makes a request body re-sendable before the first
/// attempt (a retry, or the SMART one-refresh-on-401, sends it again); inside a waiting <see cref="TransportWaits"/>
/// scope, within its budget, waits for an open circuit breaker to let requests through again (half-open) and sends the
/// request then — and treats a safe-to-repeat request whose retries were all spent on transient failures the same way
/// (the server is failing: wait a break, start again); and turns Polly's timeout and open-circuit exceptions into <see cref="FhirServerUnavailableException"/>
/// with a message an operator can act on.
/// </summary>
internal sealed class TransportBoundaryHandler(ResilienceSettings settings, TimeProvider time, ILogger<TransportBoundaryHandler> logger)
    : DelegatingHandler
{
    /// <summary>How long to wait again when the breaker is half-open (its one trial request is out) and says no more.</summary>
    internal static readonly TimeSpan HalfOpenPoll = TimeSpan.FromSeconds(1);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await EnsureResendableAsync(request, cancellationToken);
        while (true)
        {
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(request, cancellationToken);
            }
            catch (TimeoutRejectedException ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (!await WaitAfterRetriesSpentAsync(request, "timed out", cancellationToken))
                    throw Timeout(request, ex);
                continue;
            }
            catch (BrokenCircuitException ex)
            {
                var wait = ex.RetryAfter is { } left && left > TimeSpan.Zero ? left : (settings.BreakDuration < HalfOpenPoll ? settings.BreakDuration : HalfOpenPoll);
                if (!await WaitAsync(request, wait, "the circuit breaker is open (the server failed repeatedly)", cancellationToken))
                    throw CircuitOpen(request, ex);
                continue;
            }
            catch (HttpRequestException ex) when (RetryRules.IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                if (!await WaitAfterRetriesSpentAsync(request, ex.HttpRequestError.ToString(), cancellationToken))
                    throw;
                continue;
            }

            if ((int)response.StatusCode == 429 || !RetryRules.IsTransient(response.StatusCode)
                || !await WaitAfterRetriesSpentAsync(request, $"HTTP {(int)response.StatusCode}", cancellationToken))
            {
                return response;
            }

            response.Dispose();
        }
    }

    /// <summary>
    /// A safe-to-repeat request whose retries were all spent on transient failures: the server is failing, as if the
    /// breaker were open. Inside a waiting scope it waits a break (<see cref="ResilienceSettings.BreakDuration"/>) and
    /// starts again; true after that wait.
    /// </summary>
    private Task<bool> WaitAfterRetriesSpentAsync(HttpRequestMessage request, string failure, CancellationToken cancellationToken) =>
        RetryRules.IsSafeToRepeat(request) && settings.MaxRetries > 0
            ? WaitAsync(request, settings.BreakDuration, $"every retry failed ({failure}; the server is failing)", cancellationToken)
            : Task.FromResult(false);

    /// <summary>True after waiting <paramref name="wait"/>; false when not in a waiting scope or the budget does not allow it.</summary>
    private async Task<bool> WaitAsync(HttpRequestMessage request, TimeSpan wait, string why, CancellationToken cancellationToken)
    {
        if (TransportWaits.Current is not { CanWait: true } waits)
            return false;
        if (!waits.TryBegin(WaitReason.CircuitOpen, wait, settings.MaxWait, time.GetUtcNow()))
        {
            logger.LogWarning("FHIR {Method} to {Server}: {Why}, and the wait budget does not allow another {DelayMs} ms",
                request.Method.Method, ServerOf(request), why, (long)wait.TotalMilliseconds);
            return false;
        }

        logger.LogWarning("FHIR {Method} to {Server}: {Why}; waiting {DelayMs} ms before sending it again",
            request.Method.Method, ServerOf(request), why, (long)wait.TotalMilliseconds);
        try
        {
            await Task.Delay(wait, time, cancellationToken);
        }
        finally
        {
            waits.End(WaitReason.CircuitOpen, time.GetUtcNow());
        }

        return true;
    }

    private FhirServerUnavailableException CircuitOpen(HttpRequestMessage request, BrokenCircuitException ex)
    {
        var server = ServerOf(request);
        logger.LogWarning("FHIR {Method} to {Server} not sent: the circuit breaker is open", request.Method.Method, server);
        var retryAfter = ex.RetryAfter is { } wait ? $" for about {Seconds(wait)} more" : string.Empty;
        var budget = TransportWaits.Current is { CanWait: true } ? " The wait budget (MaxWait, CLI --max-wait) is spent." : string.Empty;
        return new FhirServerUnavailableException(FhirUnavailableReason.CircuitOpen, AttemptHandler.AttemptsOf(request),
            $"The FHIR server {server} failed too often recently (failure ratio ≥ {settings.BreakerFailureRatio:0.##} " +
            $"over at least {settings.BreakerMinimumThroughput} requests): the circuit breaker is open{retryAfter} and the " +
            $"{request.Method.Method} was not sent. Check the server's health; requests resume after {Seconds(settings.BreakDuration)}.{budget}",
            ex);
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
