using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Clinical;

public enum GateState
{
    /// <summary>The phase has not started (no actual start on or before the read-out date).</summary>
    NotStarted,

    /// <summary>The phase has not yet lasted its minimum duration.</summary>
    TooEarly,

    /// <summary>The minimum duration is reached but there is no PHQ-9 in the phase to judge by.</summary>
    NoData,

    /// <summary>Minimum duration reached and the escalation criterion holds (phase 1: &lt; 50 % improvement; phase 2: no remission).</summary>
    EscalationCriterionMet,

    /// <summary>Minimum duration reached and the patient responded (phase 1) or remitted (phase 2).</summary>
    CriterionNotMet,
}

/// <summary>
/// The gate at the end of phase 1 or 2, evaluated on <see cref="EvaluatedOn"/> (the phase's actual end, else the read-out
/// date). <see cref="GateDate"/> is when the minimum duration is reached (start + 12 weeks / + 6 months unless the
/// protocol states another minimum).
/// </summary>
public sealed record PhaseGate(
    int Phase,
    GateState State,
    MinimumDuration MinimumDuration,
    DateOnly? Start,
    DateOnly? EvaluatedOn,
    DateOnly? GateDate,
    int? WeeksInPhase,
    Phq9Assessment? Baseline,
    Phq9Assessment? Latest,
    decimal? ImprovementPercent,
    bool NextPhaseStarted)
{
    /// <summary>The longest the plan lets pass between two PHQ-9s in this phase (its PHQ-9 monitoring schedule), in days;
    /// null when the phase has no PHQ-9 monitoring order.</summary>
    public int? MonitoringIntervalDays { get; init; }

    /// <summary>Days from the latest PHQ-9 to <see cref="EvaluatedOn"/>.</summary>
    public int? EvidenceAgeDays => Latest is { } l && EvaluatedOn is { } on ? on.DayNumber - l.Date.DayNumber : null;

    /// <summary>The latest PHQ-9 is older than the monitoring interval allows: too old to judge the gate by.</summary>
    public bool EvidenceTooOld => EvidenceAgeDays is { } age && MonitoringIntervalDays is { } interval && age > interval;
}

public enum HintKind { Gate, Safety, Adherence }

/// <summary>
/// Decision support for the clinician, never a decision: <see cref="Rule"/> is the rule that fired (with its source),
/// <see cref="Data"/> the facts it fired on, <see cref="Text"/> the suggestion.
/// </summary>
public sealed record Hint(string Code, HintKind Kind, string Rule, IReadOnlyList<string> Data, string Text);

/// <summary>The protocol's phase gates and the hints they give.</summary>
public static class PhaseGates
{
    public static readonly MinimumDuration Phase1Default = new(12, DurationUnit.Week);
    public static readonly MinimumDuration Phase2Default = new(6, DurationUnit.Month);

    public static IReadOnlyList<PhaseGate> Evaluate(TrdProtocol protocol, DateOnly asOf, BaselineRule baselineRule)
    {
        var gates = new List<PhaseGate>();
        foreach (var number in new[] { 1, 2 })
        {
            if (protocol.Phases.FirstOrDefault(p => p.Number == number) is { } phase)
                gates.Add(Evaluate(protocol, phase, asOf, baselineRule));
        }
        return gates;
    }

    /// <summary>The date a phase started on <paramref name="start"/> reaches <paramref name="minimum"/> (calendar months for months).</summary>
    public static DateOnly GateDate(DateOnly start, MinimumDuration minimum) =>
        minimum.Unit == DurationUnit.Week ? start.AddDays(7 * minimum.Value) : start.AddMonths(minimum.Value);

    public static PhaseGate Evaluate(TrdProtocol protocol, Phase phase, DateOnly asOf, BaselineRule baselineRule)
    {
        var minimum = phase.MinimumDuration ?? (phase.Number == 1 ? Phase1Default : Phase2Default);
        var next = protocol.Phases.FirstOrDefault(p => p.Number == phase.Number + 1);
        var nextStarted = next?.Actual?.Start is { } ns && ns <= asOf;
        if (phase.Actual?.Start is not { } start || start > asOf)
            return new PhaseGate(phase.Number, GateState.NotStarted, minimum, null, null, null, null, null, null, null, nextStarted);

        var evaluatedOn = phase.Actual.End is { } end && end < asOf ? end : asOf;
        var gateDate = GateDate(start, minimum);
        var weeks = (evaluatedOn.DayNumber - start.DayNumber) / 7;
        var assessments = Outcomes.Until(protocol, evaluatedOn);
        // Phase 1 measures improvement against the baseline (first PHQ-9 by default); phase 2 looks for remission within phase 2.
        // (a baseline rule pointing at a later phase cannot judge phase 1: phase 1 then uses the first PHQ-9)
        var baseline = Outcomes.Baseline(protocol, assessments, phase.Number == 1 && baselineRule.Phase > 1 ? BaselineRule.First : baselineRule);
        var latest = phase.Number == 1 ? (assessments.Count > 0 ? assessments[^1] : null) : assessments.LastOrDefault(a => a.Date >= start);
        var improvement = baseline is not null && latest is not null && latest.Date >= baseline.Date
            ? Phq9Scoring.ImprovementPercent(baseline.Total, latest.Total) : null;

        GateState state;
        if (evaluatedOn < gateDate)
            state = GateState.TooEarly;
        else if (phase.Number == 1)
        {
            state = baseline is null || latest is null || latest.Date <= baseline.Date ? GateState.NoData
                : Phq9Scoring.IsResponse(baseline.Total, latest.Total) ? GateState.CriterionNotMet
                : GateState.EscalationCriterionMet;
        }
        else
        {
            state = latest is null ? GateState.NoData
                : Phq9Scoring.IsRemission(latest.Total) ? GateState.CriterionNotMet
                : GateState.EscalationCriterionMet;
        }
        return new PhaseGate(phase.Number, state, minimum, start, evaluatedOn, gateDate, weeks, baseline, latest, improvement, nextStarted)
        {
            MonitoringIntervalDays = phase.Interventions.OfType<Phq9MonitoringIntervention>().Where(m => m.Status != InterventionStatus.Stopped)
                .Select(m => (int?)IntervalDays(m.Schedule)).Min(),
        };
    }

    /// <summary>Days between two assessments of a schedule (every × unit ÷ times, rounded up).</summary>
    public static int IntervalDays(Schedule schedule)
    {
        var days = schedule.Every * (schedule.Unit == ScheduleUnit.Week ? 7 : 1);
        return (days + schedule.Times - 1) / Math.Max(1, schedule.Times);
    }

    public static IReadOnlyList<Hint> Hints(IReadOnlyList<PhaseGate> gates, IReadOnlyList<Phq9Assessment> assessments, IReadOnlyList<SafetySignal> signals, IReadOnlyList<CourseAdherence> adherence)
    {
        var hints = new List<Hint>();
        foreach (var gate in gates)
        {
            if (GateHint(gate, assessments) is { } hint)
                hints.Add(WithEvidence(gate, hint));
        }
        if (assessments.Count > 0 && signals.Count > 0 && signals[^1].Date == assessments[^1].Date)
        {
            var s = signals[^1];
            hints.Add(new Hint("safety-review", HintKind.Safety,
                "PHQ-9 item 9 ≥ 1 counts as thoughts of self-harm present (CamCOPS rule; terminology.md §1d)",
                [$"latest PHQ-9 on {Format.Date(s.Date)}: item 9 = {s.Item9} (0–3), total {s.Total}", $"{signals.Count} PHQ-9 assessment(s) with item 9 ≥ 1 in all"],
                "A clinician should review suicide risk now. PHQ-9 item 9 screens for thoughts; it does not measure risk."));
        }
        foreach (var course in adherence.Where(c => c.State == AdherenceState.Behind))
        {
            hints.Add(new Hint($"adherence-{course.InterventionId}-{Kebab.ToKebab(course.Kind.ToString())}", HintKind.Adherence,
                "Delivered sessions below the lower end of what the schedule asks for to date (docs/clinical.md, adherence)",
                [$"{CourseName(course.Kind)} '{course.InterventionId}' ({course.Schedule}): {course.Delivered} delivered, {course.ExpectedToDate.Min}–{course.ExpectedToDate.Max} expected from {Format.Date(course.Start!.Value)} to {Format.Date(course.Until!.Value)}, {course.Missed} missed, {course.Stopped} stopped"],
                "Check with the patient and the team whether sessions were missed or not recorded before judging the course's effect."));
        }
        return hints;
    }

    /// <summary>
    /// Every gate hint states the date and age of the PHQ-9 it rests on. When that PHQ-9 is older than the phase's monitoring
    /// interval allows and the hint would recommend (criterion met or not), it says "data too old to judge" instead and
    /// lists the assessments the schedule asked for since.
    /// </summary>
    private static Hint WithEvidence(PhaseGate gate, Hint hint)
    {
        if (gate.Latest is not { } latest || gate.EvaluatedOn is not { } on)
            return hint;
        var evidence = $"evidence: PHQ-9 of {Format.Date(latest.Date)}, {gate.EvidenceAgeDays} days old on {Format.Date(on)}"
            + (gate.MonitoringIntervalDays is { } interval ? $" (the plan asks for one every {interval} days)" : "");
        hint = hint with { Data = [.. hint.Data, evidence] };
        if (!gate.EvidenceTooOld || gate.NextPhaseStarted || gate.State is not (GateState.EscalationCriterionMet or GateState.CriterionNotMet))
            return hint;
        var due = new List<string>();
        for (var d = latest.Date.AddDays(gate.MonitoringIntervalDays!.Value); d <= on; d = d.AddDays(gate.MonitoringIntervalDays.Value))
            due.Add(Format.Date(d));
        var missing = $"missing PHQ-9 assessments (due by the monitoring schedule, none recorded): {string.Join(", ", due.Take(12))}" + (due.Count > 12 ? $" and {due.Count - 12} more" : "");
        return new Hint($"phase-{gate.Phase}-data-too-old", HintKind.Gate, hint.Rule, [.. hint.Data, missing],
            $"Data too old to judge: the latest PHQ-9 is {gate.EvidenceAgeDays} days old, more than the plan's monitoring interval of {gate.MonitoringIntervalDays} days. A current PHQ-9 is needed before the phase {gate.Phase} gate can be judged.");
    }

    private static Hint? GateHint(PhaseGate gate, IReadOnlyList<Phq9Assessment> assessments)
    {
        if (gate.Start is not { } start || gate.EvaluatedOn is not { } on)
            return null;
        var duration = gate.MinimumDuration.Unit == DurationUnit.Week ? $"{gate.MinimumDuration.Value} weeks" : $"{gate.MinimumDuration.Value} months";
        var ran = $"phase {gate.Phase} started {Format.Date(start)}; {gate.WeeksInPhase} full weeks by {Format.Date(on)} (minimum {duration}, reached {Format.Date(gate.GateDate!.Value)})";
        var trend = gate.Baseline is { } b && gate.Latest is { } l
            ? $"PHQ-9 {b.Total} on {Format.Date(b.Date)} (baseline) → {l.Total} on {Format.Date(l.Date)}" + (gate.ImprovementPercent is { } pct ? $": {Format.Percent(pct)} improvement" : "")
            : gate.Latest is { } only ? $"latest PHQ-9 in phase {gate.Phase}: {only.Total} on {Format.Date(only.Date)}" : "no PHQ-9 to judge by";
        if (gate.Phase == 1)
        {
            const string rule = "Phase 1 (≥ 12 weeks) with < 50 % PHQ-9 improvement from baseline → phase 2 eligible (protocol gate; response = ≥ 50 % drop, NQF 1885)";
            return gate.State switch
            {
                GateState.TooEarly => new Hint("phase-1-reassessment", HintKind.Gate, rule, [ran, trend],
                    $"Too early to judge phase 1: the protocol reassesses on or after {Format.Date(gate.GateDate!.Value)}."),
                GateState.NoData => new Hint("phase-1-no-data", HintKind.Gate, rule, [ran, trend],
                    "Phase 1 has reached its minimum duration but there is no follow-up PHQ-9 after the baseline: a PHQ-9 is needed before the reassessment."),
                GateState.EscalationCriterionMet => new Hint("phase-2-eligible", HintKind.Gate, rule, [ran, trend],
                    gate.NextPhaseStarted
                        ? "The phase 1 → 2 criterion was met; phase 2 has started."
                        : "The criterion for phase 2 (rTMS with psychotherapy) is met. The treating clinician decides whether to move to phase 2."),
                GateState.CriterionNotMet => new Hint("phase-1-response", HintKind.Gate, rule, [ran, trend],
                    "Response (≥ 50 % improvement) at the phase 1 reassessment: the escalation criterion is not met; continuing phase 1 may be considered."),
                _ => null,
            };
        }
        const string rule2 = "Phase 2 (≥ 6 months) without remission (latest PHQ-9 in phase 2 ≥ 5) → phase 3 review: ECT if severe suicidality or catatonia; ketamine/esketamine only under supervision";
        var item9 = assessments.LastOrDefault(a => a.Date <= on && a.Items is { Count: 9 }) is { } withItems
            ? $"item 9 on {Format.Date(withItems.Date)}: {withItems.Items![Phq9Assessment.SuicidalityItemIndex]} (0–3)"
            : "no PHQ-9 with item scores";
        return gate.State switch
        {
            GateState.TooEarly => new Hint("phase-2-reassessment", HintKind.Gate, rule2, [ran, trend],
                $"Too early to judge phase 2: the protocol reviews on or after {Format.Date(gate.GateDate!.Value)}."),
            GateState.NoData => new Hint("phase-2-no-data", HintKind.Gate, rule2, [ran, trend],
                "Phase 2 has reached its minimum duration but there is no PHQ-9 within phase 2: a PHQ-9 is needed before the review."),
            GateState.EscalationCriterionMet => new Hint("phase-3-review", HintKind.Gate, rule2, [ran, trend, item9],
                gate.NextPhaseStarted
                    ? "The phase 2 → 3 review criterion was met; phase 3 has started."
                    : "A phase 3 review is indicated for the clinician: ECT may be considered if there is severe suicidality or catatonia (neither is decided by the PHQ-9 alone; catatonia needs clinical examination); ketamine/esketamine only under supervision."),
            GateState.CriterionNotMet => new Hint("phase-2-remission", HintKind.Gate, rule2, [ran, trend],
                "Remission (PHQ-9 < 5) in phase 2: the phase 3 review criterion is not met."),
            _ => null,
        };
    }

    public static string CourseName(CourseKind kind) => kind switch
    {
        CourseKind.TmsAcute => "rTMS acute",
        CourseKind.TmsMaintenance => "rTMS maintenance",
        CourseKind.Psychotherapy => "Psychotherapy",
        CourseKind.Ect => "ECT",
        CourseKind.Phq9Monitoring => "PHQ-9 monitoring",
        _ => "Supervised esketamine/ketamine",
    };
}
