using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// The API's validator: the process-wide <see cref="SharedValidator"/> (profiles compiled once, the first validation of each
/// kind of resource alone, then concurrent), warmed up when the host starts so that the first request does not pay for it.
/// </summary>
public sealed class ApiValidator(ILogger<ApiValidator> logger) : IHostedService
{
    private readonly SharedValidator _shared = SharedValidator.Open([], new Dictionary<string, string>(), CliConsole.System)!;

    public bool Warm { get; private set; }

    public System.Threading.Tasks.Task StartAsync(CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        _shared.EnsureWarm();
        Warm = true;
        logger.LogInformation("Validator warm in {Elapsed:0} ms", System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return System.Threading.Tasks.Task.CompletedTask;
    }

    public System.Threading.Tasks.Task StopAsync(CancellationToken cancellationToken) => System.Threading.Tasks.Task.CompletedTask;

    public OperationOutcome Validate(Resource resource)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var outcome = _shared.Run(ValidateCommand.KindKey(resource), v => resource is Bundle bundle ? v.ValidateBundle(bundle) : v.Validate(resource));
        Telemetry.TrdTelemetry.RecordValidation(resource, System.Diagnostics.Stopwatch.GetElapsedTime(started), outcome.Success);
        return outcome;
    }
}
