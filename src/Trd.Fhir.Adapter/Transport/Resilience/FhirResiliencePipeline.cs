using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Trd.Fhir.Adapter.Transport.Resilience;

/// <summary>
/// The resilience pipeline of every request to the FHIR server, outermost first: total timeout → retry → circuit
/// breaker, then (below the <see cref="ThrottleHandler"/>, which absorbs 429s so that they count neither as a retry nor
/// toward the breaker) the attempt timeout of <see cref="ConfigureAttempt"/>. Built once per server (authority) by
/// <see cref="TransportServiceCollectionExtensions.AddTrdFhirTransport(Microsoft.Extensions.DependencyInjection.IServiceCollection, FhirServerOptions)"/>.
/// </summary>
public static class FhirResiliencePipeline
{
    public static void Configure(
        ResiliencePipelineBuilder<HttpResponseMessage> pipeline, ResilienceSettings settings, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);

        pipeline.TimeProvider = time;
        pipeline.AddTimeout(new HttpTimeoutStrategyOptions { Name = "total-timeout", Timeout = settings.TotalTimeout });

        if (settings.MaxRetries > 0)
        {
            pipeline.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                Name = "retry",
                MaxRetryAttempts = settings.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = settings.BaseDelay,
                // Backoff never waits longer than the longest Retry-After we would accept (Retry-After itself is not capped).
                MaxDelay = settings.MaxRetryAfter,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context, settings, time)),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Result is { } response ? RetryRules.GetRetryAfter(response, time) : null),
                OnRetry = args =>
                {
                    var request = args.Context.GetRequestMessage();
                    logger.LogWarning(
                        "FHIR {Method} to {Server} failed ({Failure}); retry {Retry} of {MaxRetries} in {DelayMs} ms",
                        request?.Method.Method, request is null ? null : TransportBoundaryHandler.ServerOf(request),
                        Describe(args.Outcome), args.AttemptNumber + 1, settings.MaxRetries, (long)args.RetryDelay.TotalMilliseconds);
                    Telemetry.TrdTelemetry.RecordRetry(request is null ? "unknown" : TransportBoundaryHandler.ServerOf(request), Describe(args.Outcome),
                        args.Outcome.Result?.StatusCode == System.Net.HttpStatusCode.TooManyRequests, args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            });
        }

        pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
        {
            Name = "circuit-breaker",
            ShouldHandle = args => ValueTask.FromResult(CountsAsFailure(args.Outcome)),
            FailureRatio = settings.BreakerFailureRatio,
            MinimumThroughput = settings.BreakerMinimumThroughput,
            BreakDuration = settings.BreakDuration,
            OnOpened = args =>
            {
                var request = args.Context.GetRequestMessage();
                logger.LogWarning("Circuit to FHIR server {Server} opened for {BreakSeconds} s after {Failure}",
                    request is null ? null : TransportBoundaryHandler.ServerOf(request), args.BreakDuration.TotalSeconds,
                    Describe(args.Outcome));
                Telemetry.TrdTelemetry.RecordBreaker(request is null ? "unknown" : TransportBoundaryHandler.ServerOf(request), 2);
                return ValueTask.CompletedTask;
            },
            OnHalfOpened = args =>
            {
                if (args.Context.GetRequestMessage() is { } request)
                    Telemetry.TrdTelemetry.RecordBreaker(TransportBoundaryHandler.ServerOf(request), 1);
                return ValueTask.CompletedTask;
            },
            OnClosed = args =>
            {
                if (args.Context.GetRequestMessage() is { } request)
                    Telemetry.TrdTelemetry.RecordBreaker(TransportBoundaryHandler.ServerOf(request), 0);
                return ValueTask.CompletedTask;
            },
        });
    }

    /// <summary>The pipeline of one attempt (inside the throttle handler): its timeout.</summary>
    public static void ConfigureAttempt(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, ResilienceSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(settings);
        pipeline.TimeProvider = time;
        pipeline.AddTimeout(new HttpTimeoutStrategyOptions { Name = "attempt-timeout", Timeout = settings.AttemptTimeout });
    }

    /// <summary>
    /// What the circuit breaker counts as a failure of the server: a transient status or exception — but never a 429
    /// (throttling is back-pressure: the server is up and asks us to slow down) nor our own give-ups.
    /// </summary>
    internal static bool CountsAsFailure(Outcome<HttpResponseMessage> outcome) => outcome.Exception is { } exception
        ? RetryRules.IsTransient(exception)
        : (int)outcome.Result!.StatusCode != 429 && RetryRules.IsTransient(outcome.Result.StatusCode);

    /// <summary>
    /// Retry a transient failure of a safe-to-repeat request, unless the server asked (Retry-After) for a longer wait
    /// than <see cref="ResilienceSettings.MaxRetryAfter"/>: then its answer is returned as it is.
    /// </summary>
    internal static bool ShouldRetry(
        Outcome<HttpResponseMessage> outcome, ResilienceContext context, ResilienceSettings settings, TimeProvider time)
    {
        var request = context.GetRequestMessage() ?? outcome.Result?.RequestMessage;
        if (request is null || !RetryRules.IsSafeToRepeat(request))
        {
            return false;
        }

        if (outcome.Exception is { } exception)
        {
            return RetryRules.IsTransient(exception);
        }

        var response = outcome.Result!;
        if (!RetryRules.IsTransient(response.StatusCode) || (int)response.StatusCode == 429)
        {
            // A 429 that reaches the retry was given up on by the ThrottleHandler (budget spent, Retry-After too long).
            return false;
        }

        var retryAfter = RetryRules.GetRetryAfter(response, time);
        return retryAfter is null || retryAfter <= settings.MaxRetryAfter;
    }

    private static string Describe(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is { } ex ? ex.GetType().Name : $"HTTP {(int)outcome.Result!.StatusCode}";
}
