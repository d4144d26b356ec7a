using Microsoft.Extensions.Logging;

namespace Trd.Fhir.Adapter.Transport.Resilience;

/// <summary>
/// Throttling is back-pressure, not failure. Sits inside the circuit breaker and outside the attempt timeout, so a 429
/// never reaches the breaker nor the retry count: each attempt holds a slot of the server's
/// <see cref="AdaptiveConcurrencyLimiter"/>; a 429 lowers the limit, pauses the server's requests for its Retry-After
/// (seconds or HTTP-date; without one, an exponential backoff from <see cref="ResilienceSettings.BaseDelay"/>), and the
/// request is sent again after the pause — whatever its method, since the server refused it without processing it.
/// Every wait must fit the wait budget (of the <see cref="TransportWaits"/> scope; outside one, each wait must fit
/// <see cref="ResilienceSettings.MaxWait"/>) and <see cref="ResilienceSettings.MaxRetryAfter"/>; when it does not, the
/// 429 is returned as it is.
/// With <see cref="ResilienceSettings.MaxRetries"/> 0 every request is sent once, 429 or not.
/// </summary>
internal sealed class ThrottleHandler(ServerLimiters limiters, ResilienceSettings settings, TimeProvider time, ILogger<ThrottleHandler> logger)
    : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var limiter = limiters.For(request.RequestUri!);
        var waits = TransportWaits.Current;
        HttpResponseMessage? throttled = null;
        for (var attempt = 0; ; attempt++)
        {
            var pause = limiter.PauseRemaining;
            if (pause > TimeSpan.Zero)
            {
                if (!await WaitAsync(request, waits, pause, limiter, cancellationToken) && throttled is not null)
                    return throttled;
            }

            throttled?.Dispose();
            throttled = null;
            HttpResponseMessage response;
            using (var lease = await limiter.AcquireAsync(cancellationToken))
            {
                response = await base.SendAsync(request, cancellationToken);
                if ((int)response.StatusCode != 429)
                {
                    lease.Succeeded();
                    return response;
                }

                var retryAfter = RetryRules.GetRetryAfter(response, time) ?? Backoff(attempt);
                if (retryAfter == TimeSpan.Zero && attempt >= 2)
                    retryAfter = Backoff(attempt - 2); // "Retry-After: 0" again and again: never spin

                // The pause others see is capped like our own wait; with retries off nobody waits for it.
                lease.Throttled(settings.MaxRetries == 0 ? TimeSpan.Zero : retryAfter < settings.MaxRetryAfter ? retryAfter : settings.MaxRetryAfter);
                if (settings.MaxRetries == 0 || retryAfter > settings.MaxRetryAfter)
                {
                    logger.LogWarning(
                        "FHIR {Method} to {Server} throttled (429): not sent again ({Why})", request.Method.Method,
                        TransportBoundaryHandler.ServerOf(request),
                        settings.MaxRetries == 0 ? "retries are off" : $"Retry-After {retryAfter.TotalSeconds:0.#} s is beyond MaxRetryAfter");
                    return response;
                }
            }

            throttled = response;
        }
    }

    /// <summary>Waits out the server's pause within the budget; false (nothing waited) when the budget does not allow it.</summary>
    private async Task<bool> WaitAsync(
        HttpRequestMessage request, TransportWaits? waits, TimeSpan pause, AdaptiveConcurrencyLimiter limiter, CancellationToken cancellationToken)
    {
        var server = TransportBoundaryHandler.ServerOf(request);
        if (!(waits?.TryBegin(WaitReason.Throttled, pause, settings.MaxWait, time.GetUtcNow()) ?? pause <= settings.MaxWait))
        {
            logger.LogWarning("FHIR {Method} to {Server} throttled (429): the wait budget does not allow another {DelayMs} ms",
                request.Method.Method, server, (long)pause.TotalMilliseconds);
            return false;
        }

        logger.LogWarning("FHIR {Method} to {Server} throttled (429): waiting {DelayMs} ms; at most {Limit} concurrent requests to it now",
            request.Method.Method, server, (long)pause.TotalMilliseconds, limiter.Limit);
        Telemetry.TrdTelemetry.RecordThrottleWait(server, pause);
        try
        {
            await Task.Delay(pause, time, cancellationToken);
        }
        finally
        {
            waits?.End(WaitReason.Throttled, time.GetUtcNow());
        }

        return true;
    }

    private TimeSpan Backoff(int attempt)
    {
        var delay = settings.BaseDelay * Math.Pow(2, Math.Min(attempt, 16));
        return delay < settings.MaxRetryAfter ? delay : settings.MaxRetryAfter;
    }
}
