using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Clinical;

/// <summary>Which PHQ-9 is the baseline: the first assessment of all, or the first dated within phase <see cref="Phase"/>.</summary>
public sealed record BaselineRule(int? Phase)
{
    public static BaselineRule First { get; } = new((int?)null);

    public static BaselineRule FirstInPhase(int phase) => new(phase);

    public override string ToString() => Phase is { } n ? $"first PHQ-9 in phase {n}" : "first PHQ-9";
}

/// <summary>One PHQ-9 as read out: its band, item 9 (null when only the total is known) and the change from baseline.</summary>
public sealed record Phq9Point(DateOnly Date, int Total, Phq9Band Band, int? Item9, decimal? ImprovementPercent, bool IsBaseline);

/// <summary>
/// Response and remission at the latest PHQ-9 (on or before the read-out date). <see cref="ResponseThreshold"/> is half the
/// baseline: a total at or below it is a response.
/// </summary>
public sealed record Phq9Outcome(
    BaselineRule Rule,
    Phq9Assessment? Baseline,
    Phq9Assessment? Latest,
    decimal? ImprovementPercent,
    decimal? ResponseThreshold,
    bool Response,
    bool Remission,
    string? Note);

/// <summary>A PHQ-9 whose item 9 (thoughts of self-harm, LOINC 44260-8) scored 1 or more (CamCOPS rule, terminology.md §1d).</summary>
public sealed record SafetySignal(DateOnly Date, int Item9, int Total);

/// <summary>PHQ-9 read-out: trend points, baseline, response/remission, safety signals.</summary>
public static class Outcomes
{
    /// <summary>The assessments on or before <paramref name="asOf"/>, in date order.</summary>
    public static IReadOnlyList<Phq9Assessment> Until(TrdProtocol protocol, DateOnly asOf) =>
        protocol.Phq9.Where(a => a.Date <= asOf).OrderBy(a => a.Date).ToList();

    /// <summary>The baseline under <paramref name="rule"/>: the first assessment, or the first within the phase's actual
    /// (else planned) period; null when there is none.</summary>
    public static Phq9Assessment? Baseline(TrdProtocol protocol, IReadOnlyList<Phq9Assessment> assessments, BaselineRule rule)
    {
        if (rule.Phase is not { } number)
            return assessments.Count > 0 ? assessments[0] : null;
        var phase = protocol.Phases.FirstOrDefault(p => p.Number == number);
        if (phase is null)
            return null;
        var start = phase.Actual?.Start ?? phase.Planned.Start;
        var end = phase.Actual is { } actual ? actual.End : phase.Planned.End;
        return assessments.FirstOrDefault(a => (start is null || a.Date >= start) && (end is null || a.Date <= end));
    }

    public static Phq9Outcome Evaluate(TrdProtocol protocol, DateOnly asOf, BaselineRule rule)
    {
        var assessments = Until(protocol, asOf);
        var baseline = Baseline(protocol, assessments, rule);
        var latest = assessments.Count > 0 ? assessments[^1] : null;
        if (latest is null)
            return new Phq9Outcome(rule, null, null, null, null, false, false, "no PHQ-9 on or before the read-out date");
        var remission = Phq9Scoring.IsRemission(latest.Total);
        if (baseline is null)
            return new Phq9Outcome(rule, null, latest, null, null, false, remission, $"no baseline: there is no PHQ-9 matching the rule '{rule}'");
        if (latest.Date < baseline.Date)
            return new Phq9Outcome(rule, baseline, latest, null, Phq9Scoring.ResponseThreshold(baseline.Total), false, remission, "the latest PHQ-9 is before the baseline");
        var note = baseline.Total == 0 ? "baseline total is 0: response is not defined" : null;
        return new Phq9Outcome(rule, baseline, latest,
            Phq9Scoring.ImprovementPercent(baseline.Total, latest.Total),
            Phq9Scoring.ResponseThreshold(baseline.Total),
            Phq9Scoring.IsResponse(baseline.Total, latest.Total),
            remission,
            note);
    }

    public static IReadOnlyList<Phq9Point> Points(IReadOnlyList<Phq9Assessment> assessments, Phq9Assessment? baseline) =>
        assessments.Select(a => new Phq9Point(
            a.Date,
            a.Total,
            Phq9Scoring.Band(a.Total),
            a.Items is { Count: 9 } items ? items[Phq9Assessment.SuicidalityItemIndex] : null,
            baseline is null || a.Date < baseline.Date ? null : Phq9Scoring.ImprovementPercent(baseline.Total, a.Total),
            ReferenceEquals(a, baseline))).ToList();

    /// <summary>Every assessment (on or before the read-out date) with item 9 ≥ 1, oldest first.</summary>
    public static IReadOnlyList<SafetySignal> SafetySignals(IReadOnlyList<Phq9Assessment> assessments) =>
        assessments.Where(a => a.SuicidalityFlag)
            .Select(a => new SafetySignal(a.Date, a.Items![Phq9Assessment.SuicidalityItemIndex], a.Total))
            .ToList();
}
