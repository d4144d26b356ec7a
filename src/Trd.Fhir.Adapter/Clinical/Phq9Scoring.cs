using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Clinical;

/// <summary>PHQ-9 severity bands (Kroenke 2001; terminology.md §1d): 0–4, 5–9, 10–14, 15–19, 20–27.</summary>
public enum Phq9Band { NoneMinimal, Mild, Moderate, ModeratelySevere, Severe }

/// <summary>PHQ-9 scoring rules: the severity band of a total, and the outcome thresholds (remission, response).</summary>
public static class Phq9Scoring
{
    /// <summary>Remission: a PHQ-9 total below this (CMS159 / NQF 0710: total &lt; 5).</summary>
    public const int RemissionBelow = 5;

    public static Phq9Band Band(int total) => total switch
    {
        < 0 or > 27 => throw new ArgumentOutOfRangeException(nameof(total), total, "a PHQ-9 total is 0–27"),
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
    /// no rounding decides an edge. A baseline of 0 has no response.
    /// </summary>
    public static bool IsResponse(int baseline, int current) => baseline > 0 && 2 * current <= baseline;

    /// <summary>Improvement from baseline in percent, one decimal (positive = better); null for a baseline of 0.</summary>
    public static decimal? ImprovementPercent(int baseline, int current) =>
        baseline == 0 ? null : Math.Round(100m * (baseline - current) / baseline, 1, MidpointRounding.AwayFromZero);
}
