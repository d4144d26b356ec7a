using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Api;

/// <summary>Warms the process-wide <see cref="ValidatorPool"/> when the host starts, so that the first request does not pay
/// for compiling the profiles; <c>/ready</c> reports it.</summary>
public sealed class ValidatorWarmup(ValidatorPool pool, ILogger<ValidatorWarmup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        pool.EnsureWarm();
        logger.LogInformation("Validator warm in {Elapsed:0} ms", Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
