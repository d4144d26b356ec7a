using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Clinical;

/// <summary>One prior antidepressant trial judged for staging.</summary>
public sealed record TrialJudgement(
    PriorTrial Trial,
    DrugClass Class,
    decimal? MinimumAdequateDailyMg,
    bool AdequateDose,
    bool AdequateDuration,
    bool Failed,
    string Reason)
{
    public bool Adequate => AdequateDose && AdequateDuration;

    /// <summary>An adequate trial that failed (non-response or partial response): the unit of treatment resistance.</summary>
    public bool FailedAdequate => Adequate && Failed;
}

public enum MaudsleyBand { Mild, Moderate, Severe }

/// <summary>
/// Maudsley Staging Method (Fekadu 2009; terminology.md §6): duration 1–3 + baseline severity 1–5 + treatment failures
/// 1–5 + augmentation 0/1 + ECT 0/1 = 3–15; mild 3–6, moderate 7–10, severe 11–15.
/// </summary>
public sealed record MaudsleyScore(
    int DurationMonths,
    int DurationScore,
    Phq9Band BaselineBand,
    bool PsychoticFeatures,
    int SeverityScore,
    int Failures,
    int FailureScore,
    bool Augmentation,
    bool Ect)
{
    public int Total => DurationScore + SeverityScore + FailureScore + (Augmentation ? 1 : 0) + (Ect ? 1 : 0);

    public MaudsleyBand Band => Staging.MaudsleyBandOf(Total);
}

/// <summary>Treatment-resistance staging from the prior trials (and, for Maudsley, the protocol so far).</summary>
public sealed record ResistanceStaging(
    IReadOnlyList<TrialJudgement> Trials,
    int FailedAdequateTrials,
    bool Trd,
    int ThaseRushStage,
    string ThaseRushBasis,
    MaudsleyScore? Maudsley,
    string? MaudsleyNotComputed)
{
    public string ThaseRushRoman => Staging.Roman(ThaseRushStage);
}

/// <summary>
/// Staging rules (docs/clinical.md):
/// <list type="bullet">
/// <item>Adequate trial: daily dose at or above the drug's minimum adequate dose (<see cref="MinimumAdequateDailyMg"/>)
/// and at least 4 weeks (3 weeks is not adequate; S21: minimum 4–6 weeks, stopping before week 4 is not a failure).
/// A trial without a dose is not adequate (cannot be shown to be).</item>
/// <item>Failed: outcome non-response or partial response (both &lt; 50 % improvement). Intolerance, response and unknown are not failures.</item>
/// <item>TRD: ≥ 2 failed adequate antidepressant trials (S21).</item>
/// <item>Thase–Rush: 0 none failed; I failed adequate trial(s) in one class; II failures in ≥ 2 distinct classes.
/// III–V need a failed TCA, MAOI, bilateral ECT: the protocol's drug list has no TCA or MAOI, so II is the highest stage reachable here.</item>
/// </list>
/// </summary>
public static class Staging
{
    public const int MinimumAdequateWeeks = 4;

    /// <summary>
    /// Minimum adequate daily dose (mg): the lower end of the usual therapeutic range for depression (citalopram 20,
    /// fluoxetine 20, sertraline 50, paroxetine 20 as in the TMAP SSRI dosing procedure; escitalopram 10,
    /// venlafaxine 75, duloxetine 60, bupropion 300 — lower end of the typical ranges in current prescribing summaries). A judgement
    /// call documented in docs/clinical.md; not a dose recommendation.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, decimal> MinimumAdequateDailyMg = new Dictionary<string, decimal>(StringComparer.Ordinal)
    {
        ["sertraline"] = 50,
        ["escitalopram"] = 10,
        ["fluoxetine"] = 20,
        ["citalopram"] = 20,
        ["paroxetine"] = 20,
        ["venlafaxine"] = 75,
        ["duloxetine"] = 60,
        ["bupropion"] = 300,
    };

    public static TrialJudgement Judge(PriorTrial trial)
    {
        var drug = Drugs.Find(trial.Drug) ?? throw new ArgumentException($"unknown drug '{trial.Drug}'", nameof(trial));
        decimal? minimum = MinimumAdequateDailyMg.TryGetValue(drug.Key, out var m) ? m : null;
        var adequateDose = minimum is { } min && trial.DailyDoseMg is { } dose && dose >= min;
        var adequateDuration = trial.Weeks >= MinimumAdequateWeeks;
        var failed = trial.Outcome is TrialOutcome.NonResponse or TrialOutcome.PartialResponse;
        var reasons = new List<string>();
        if (!adequateDose)
        {
            reasons.Add(trial.DailyDoseMg is null ? "dose not recorded"
                : minimum is null ? "no minimum adequate dose known for this drug"
                : $"{trial.DailyDoseMg} mg/day is below the adequate {minimum} mg/day");
        }
        if (!adequateDuration)
            reasons.Add($"{trial.Weeks} weeks is shorter than {MinimumAdequateWeeks} weeks");
        if (!failed)
            reasons.Add($"outcome {Kebab.Name(trial.Outcome)} is not a treatment failure");
        var reason = reasons.Count == 0 ? "adequate trial, failed" : string.Join("; ", reasons);
        return new TrialJudgement(trial, drug.Class, minimum, adequateDose, adequateDuration, failed, reason);
    }

    public static ResistanceStaging Evaluate(TrdProtocol protocol, DateOnly asOf, Phq9Assessment? baseline)
    {
        var trials = protocol.PriorTrials.Select(Judge).ToList();
        var failed = trials.Where(t => t.FailedAdequate).ToList();
        var (stage, basis) = ThaseRush(failed);
        var (maudsley, why) = Maudsley(protocol, asOf, baseline, failed.Count);
        return new ResistanceStaging(trials, failed.Count, failed.Count >= 2, stage, basis, maudsley, why);
    }

    public static (int Stage, string Basis) ThaseRush(IReadOnlyList<TrialJudgement> failedAdequate)
    {
        var classes = failedAdequate.Select(t => t.Class).Distinct().ToList();
        var list = string.Join(", ", failedAdequate.Select(t => $"{t.Trial.Drug} ({ClassName(t.Class)})"));
        return classes.Count switch
        {
            0 => (0, "no failed adequate antidepressant trial"),
            1 => (1, $"failed adequate trial(s) in one class: {list}"),
            _ => (2, $"failed adequate trials in {classes.Count} distinct classes: {list} (stages III–V need a failed TCA, MAOI or bilateral ECT course, which prior trials here cannot record)"),
        };
    }

    /// <summary>The Maudsley score, or why it is not computed (no diagnosis onset, no baseline PHQ-9, no failed adequate trial).</summary>
    public static (MaudsleyScore? Score, string? NotComputed) Maudsley(TrdProtocol protocol, DateOnly asOf, Phq9Assessment? baseline, int failures)
    {
        if (protocol.Diagnosis?.Onset is not { } onset)
            return (null, "the diagnosis onset date is not recorded (needed for the duration score)");
        if (baseline is null)
            return (null, "there is no baseline PHQ-9 (needed for the severity score)");
        if (failures == 0)
            return (null, "no failed adequate antidepressant trial: the Maudsley Staging Method applies from the first failure");
        var months = WholeMonths(onset, asOf);
        var band = Phq9Scoring.Band(baseline.Total);
        var psychotic = protocol.Diagnosis.Icd10Cm is "F32.3" or "F33.3";
        var augmentation = protocol.Phases.SelectMany(p => p.Interventions).OfType<MedicationIntervention>()
            .Any(m => m.Role == MedicationRole.Augment && m.Status != InterventionStatus.Planned && StartedBy(protocol, m.Id, asOf));
        var ect = protocol.Phases.SelectMany(p => p.Interventions).OfType<EctIntervention>()
            .Any(e => protocol.Sessions.Any(s => s.Intervention == e.Id && s.Status == SessionStatus.Completed && s.Date <= asOf));
        return (new MaudsleyScore(months, DurationScore(months), band, psychotic, SeverityScore(band, psychotic), failures, FailureScore(failures), augmentation, ect), null);
    }

    private static bool StartedBy(TrdProtocol protocol, string interventionId, DateOnly asOf) =>
        protocol.PhaseOf(interventionId)?.Actual?.Start is { } start && start <= asOf;

    /// <summary>Whole calendar months from <paramref name="from"/> to <paramref name="to"/> (0 when <paramref name="to"/> is earlier).</summary>
    public static int WholeMonths(DateOnly from, DateOnly to)
    {
        if (to < from)
            return 0;
        var months = (to.Year - from.Year) * 12 + to.Month - from.Month;
        return from.AddMonths(months) > to ? months - 1 : months;
    }

    /// <summary>≤ 12 months = 1 (acute), 13–24 = 2 (subacute), &gt; 24 = 3 (chronic).</summary>
    public static int DurationScore(int months) => months <= 12 ? 1 : months <= 24 ? 2 : 3;

    /// <summary>
    /// Baseline PHQ-9 band → MSM severity: none–minimal 1 (subsyndromal), mild 2, moderate 3, moderately severe 3
    /// (judgement: not yet "severe"), severe 4, severe with psychotic features (ICD-10-CM F32.3/F33.3) 5.
    /// </summary>
    public static int SeverityScore(Phq9Band band, bool psychoticFeatures) => band switch
    {
        Phq9Band.NoneMinimal => 1,
        Phq9Band.Mild => 2,
        Phq9Band.Moderate or Phq9Band.ModeratelySevere => 3,
        _ => psychoticFeatures ? 5 : 4,
    };

    /// <summary>Failed antidepressant treatments: 1–2 = 1, 3–4 = 2, 5–6 = 3, 7–10 = 4, &gt; 10 = 5 (0 has no score).</summary>
    public static int FailureScore(int failures) => failures switch
    {
        <= 0 => throw new ArgumentOutOfRangeException(nameof(failures), failures, "the Maudsley score starts at one failure"),
        <= 2 => 1,
        <= 4 => 2,
        <= 6 => 3,
        <= 10 => 4,
        _ => 5,
    };

    public static MaudsleyBand MaudsleyBandOf(int total) => total switch
    {
        <= 6 => MaudsleyBand.Mild,
        <= 10 => MaudsleyBand.Moderate,
        _ => MaudsleyBand.Severe,
    };

    public static string Roman(int stage) => stage switch { 0 => "0", 1 => "I", 2 => "II", 3 => "III", 4 => "IV", _ => "V" };

    public static string ClassName(DrugClass c) => c switch
    {
        DrugClass.Ssri => "SSRI",
        DrugClass.Snri => "SNRI",
        DrugClass.Ndri => "NDRI",
        _ => Kebab.Name(c),
    };
}
