namespace Trd.Fhir.Adapter.Protocol;

/// <summary>PHQ-9 severity bands (Kroenke 2001; terminology.md §1d): 0–4, 5–9, 10–14, 15–19, 20–27.</summary>
public enum Phq9Band { NoneMinimal, Mild, Moderate, ModeratelySevere, Severe }

/// <summary>
/// The PHQ-9 rules, in one place for Mapping (severity interpretation, goal targets, reading totals) and Clinical (read-out):
/// the severity band of a total, the outcome thresholds (remission, response) and the item-9 safety rule.
/// </summary>
public static class Phq9Scoring
{
    /// <summary>Remission: a PHQ-9 total below this (CMS159 / NQF 0710: total &lt; 5).</summary>
    public const int RemissionBelow = 5;

    /// <summary>Response: a drop of at least this many percent from baseline (NQF 1885).</summary>
    public const int ResponseDropPercent = 50;

    /// <summary>The highest PHQ-9 total (nine items scored 0–3).</summary>
    public const int MaxTotal = 27;

    /// <summary>The highest score of one item (LL358-3: 0–3).</summary>
    public const int MaxItemScore = 3;

    /// <summary>Item 9 (thoughts of self-harm, 44260-8) at or above this is a safety signal (CamCOPS rule, terminology.md §1d).</summary>
    public const int SafetyItem9AtLeast = 1;

    public static bool IsSafetySignal(int item9) => item9 >= SafetyItem9AtLeast;

    /// <summary>The total at or below which a PHQ-9 is a response to <paramref name="baseline"/> (half the baseline).</summary>
    public static decimal ResponseThreshold(int baseline) => baseline * (100 - ResponseDropPercent) / 100m;

    public static Phq9Band Band(int total) => total switch
    {
        < 0 or > MaxTotal => throw new ArgumentOutOfRangeException(nameof(total), total, "a PHQ-9 total is 0–27"),
        <= 4 => Phq9Band.NoneMinimal,
        <= 9 => Phq9Band.Mild,
        <= 14 => Phq9Band.Moderate,
        <= 19 => Phq9Band.ModeratelySevere,
        _ => Phq9Band.Severe,
    };

    /// <summary>The inclusive total range of a band.</summary>
    public static IntRange Range(Phq9Band band) => band switch
    {
        Phq9Band.NoneMinimal => new(0, 4),
        Phq9Band.Mild => new(5, 9),
        Phq9Band.Moderate => new(10, 14),
        Phq9Band.ModeratelySevere => new(15, 19),
        _ => new(20, 27),
    };

    /// <summary>The band with its range, as the severity interpretation shows it: "Moderately severe (15–19)".</summary>
    public static string LabelWithRange(Phq9Band band) => $"{Label(band)} ({Range(band).Min}–{Range(band).Max})";

    public static string Label(Phq9Band band) => band switch
    {
        Phq9Band.NoneMinimal => "None–minimal",
        Phq9Band.Mild => "Mild",
        Phq9Band.Moderate => "Moderate",
        Phq9Band.ModeratelySevere => "Moderately severe",
        _ => "Severe",
    };

    public static bool IsRemission(int total) => total < RemissionBelow;

    /// <summary>
    /// Response: a drop of at least 50 % from baseline (NQF 1885), i.e. <c>2 × current ≤ baseline</c> in whole numbers, so
    /// no rounding decides an edge (integer arithmetic). A baseline of 0 has no response.
    /// </summary>
    public static bool IsResponse(int baseline, int current) => baseline > 0 && 100 * (baseline - current) >= ResponseDropPercent * baseline;

    /// <summary>Improvement from baseline in percent, one decimal (positive = better); null for a baseline of 0.</summary>
    public static decimal? ImprovementPercent(int baseline, int current) =>
        baseline == 0 ? null : Math.Round(100m * (baseline - current) / baseline, 1, MidpointRounding.AwayFromZero);
}

/// <summary>
/// A PHQ-9 whose item 9 (thoughts of self-harm, LOINC 44260-8) scored <see cref="Phq9Scoring.SafetyItem9AtLeast"/> or more,
/// as found while reading (<see cref="Where"/>: the JSON path or FHIR location); <see cref="Total"/> is null when unknown.
/// </summary>
public sealed record Phq9SafetySignal(DateOnly Date, int Item9, int? Total, string Where)
{
    /// <summary>The signal as a warning for text output and OperationOutcomes.</summary>
    public Problem ToProblem() => new(ProblemSeverity.Warning, ProblemCode.SafetySignal, Where,
        $"PHQ-9 item 9 (thoughts of self-harm) scored {Item9} on {Date:yyyy-MM-dd}: safety signal", "a clinician must review suicide risk");
}
