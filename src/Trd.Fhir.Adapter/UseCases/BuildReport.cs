using System.Globalization;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Report;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>Which report option could not be read.</summary>
public enum ReportOptionError { None, AsOf, Baseline }

/// <summary>
/// The report use case (CLI <c>report</c>, API <c>GET /patients/{patient}/report</c>): the clinical read-out of a protocol
/// as of a date (default: today on the injected clock), and the mapped Bundle with the read-out's resources validated
/// through the <see cref="ValidatorPool"/>.
/// </summary>
public sealed class BuildReport(ValidatorPool pool, Identity identity, TimeProvider time)
{
    public static readonly IReadOnlyList<string> Baselines = ["first", "phase-1", "phase-2", "phase-3"];

    /// <summary>The read-out options from their text form: <paramref name="asOf"/> YYYY-MM-DD, <paramref name="baseline"/> one of
    /// <see cref="Baselines"/> (null: first).</summary>
    public static ReportOptionError TryOptions(string? asOf, string? baseline, out ClinicalOptions options)
    {
        options = new ClinicalOptions();
        DateOnly? date = null;
        if (asOf is not null)
        {
            if (!DateOnly.TryParseExact(asOf, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
                return ReportOptionError.AsOf;
            date = d;
        }
        BaselineRule? rule = (baseline ?? "first") switch
        {
            "first" => BaselineRule.First,
            "phase-1" => BaselineRule.FirstInPhase(1),
            "phase-2" => BaselineRule.FirstInPhase(2),
            "phase-3" => BaselineRule.FirstInPhase(3),
            _ => null,
        };
        if (rule is null)
            return ReportOptionError.Baseline;
        options = new ClinicalOptions { Baseline = rule, AsOf = date };
        return ReportOptionError.None;
    }

    public ClinicalReport Build(TrdProtocol protocol, ClinicalOptions options)
    {
        var readout = ClinicalReadout.Read(protocol, time, options);
        return ClinicalReport.Build(protocol, readout, identity, pool.ValidateMeasured);
    }
}
