using System.Diagnostics;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Telemetry;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>Validation through the pool with its duration, size and result recorded as metrics (<see cref="TrdTelemetry"/>).</summary>
public static class MeasuredValidation
{
    /// <summary><see cref="ValidatorPool.Validate"/>, measured.</summary>
    public static OperationOutcome ValidateMeasured(this ValidatorPool pool, Resource resource) => ValidateMeasured(pool, resource, CancellationToken.None);

    /// <summary><see cref="ValidatorPool.Validate(Resource, CancellationToken)"/>, measured.</summary>
    public static OperationOutcome ValidateMeasured(this ValidatorPool pool, Resource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var started = Stopwatch.GetTimestamp();
        var outcome = pool.Validate(resource, cancellationToken);
        TrdTelemetry.RecordValidation(resource, Stopwatch.GetElapsedTime(started), outcome.Success);
        return outcome;
    }
}
