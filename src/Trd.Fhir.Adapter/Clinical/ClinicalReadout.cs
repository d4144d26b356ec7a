using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Clinical;

/// <summary>How to read out: the baseline rule, and an optional read-out date other than today.</summary>
public sealed record ClinicalOptions
{
    public BaselineRule Baseline { get; init; } = BaselineRule.First;

    /// <summary>Read out as of this date instead of today (data after it is ignored).</summary>
    public DateOnly? AsOf { get; init; }
}

/// <summary>Everything the clinical read-out knows about one protocol on one date. Pure data; rules in the static units.</summary>
public sealed record ClinicalReadout(
    string ProtocolId,
    DateOnly AsOf,
    IReadOnlyList<Phq9Point> Phq9,
    Phq9Outcome Outcome,
    IReadOnlyList<SafetySignal> SafetySignals,
    IReadOnlyList<CourseAdherence> Adherence,
    IReadOnlyList<PhaseGate> Gates,
    IReadOnlyList<Hint> Hints,
    ResistanceStaging Staging)
{
    /// <summary>Reads out <paramref name="protocol"/> as of today (from <paramref name="time"/>, local date) or <see cref="ClinicalOptions.AsOf"/>.</summary>
    public static ClinicalReadout Read(TrdProtocol protocol, TimeProvider time, ClinicalOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        ArgumentNullException.ThrowIfNull(time);
        options ??= new ClinicalOptions();
        var asOf = options.AsOf ?? Today(time);
        var assessments = Outcomes.Until(protocol, asOf);
        var outcome = Outcomes.Evaluate(protocol, asOf, options.Baseline);
        var signals = Outcomes.SafetySignals(assessments);
        var adherence = Clinical.Adherence.Evaluate(protocol, asOf);
        var gates = PhaseGates.Evaluate(protocol, asOf, options.Baseline);
        return new ClinicalReadout(
            protocol.Id,
            asOf,
            Outcomes.Points(assessments, outcome.Baseline),
            outcome,
            signals,
            adherence,
            gates,
            PhaseGates.Hints(gates, assessments, signals, adherence),
            Clinical.Staging.Evaluate(protocol, asOf, outcome.Baseline));
    }

    public static DateOnly Today(TimeProvider time) => DateOnly.FromDateTime(time.GetLocalNow().DateTime);
}
