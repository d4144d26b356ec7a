using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Tests.Mapping;
using static Trd.Fhir.Adapter.Tests.Clinical.ClinicalTestData;

namespace Trd.Fhir.Adapter.Tests.Clinical;

public class StagingTests
{
    private static readonly DateOnly AsOf = D("2026-11-27");

    [Fact]
    public void Judge_FourWeeksAtAdequateDose_AdequateFailure()
    {
        var judgement = Staging.Judge(Trial("sertraline", 100, 4));

        Assert.True(judgement.Adequate);
        Assert.True(judgement.FailedAdequate);
    }

    [Fact]
    public void Judge_ThreeWeeks_NotAdequate()
    {
        var judgement = Staging.Judge(Trial("sertraline", 100, 3));

        Assert.True(judgement.AdequateDose);
        Assert.False(judgement.AdequateDuration);
        Assert.False(judgement.FailedAdequate);
        Assert.Contains("3 weeks is shorter than 4 weeks", judgement.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sertraline", 50, true)]
    [InlineData("sertraline", 25, false)]
    [InlineData("escitalopram", 10, true)]
    [InlineData("escitalopram", 5, false)]
    [InlineData("venlafaxine", 75, true)]
    [InlineData("bupropion", 150, false)]
    [InlineData("bupropion", 300, true)]
    public void Judge_Dose_AdequateFromTheMinimumAdequateDose(string drug, int dose, bool adequate)
    {
        Assert.Equal(adequate, Staging.Judge(Trial(drug, dose, 8)).AdequateDose);
    }

    [Fact]
    public void Judge_NoDoseRecorded_NotAdequate()
    {
        var judgement = Staging.Judge(Trial("fluoxetine", null, 8));

        Assert.False(judgement.Adequate);
        Assert.Contains("dose not recorded", judgement.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TrialOutcome.NonResponse, true)]
    [InlineData(TrialOutcome.PartialResponse, true)]
    [InlineData(TrialOutcome.Intolerance, false)]
    [InlineData(TrialOutcome.Response, false)]
    [InlineData(TrialOutcome.Unknown, false)]
    public void Judge_Outcome_FailureIsNonOrPartialResponse(TrialOutcome outcome, bool failed)
    {
        Assert.Equal(failed, Staging.Judge(Trial("sertraline", 150, 8, outcome)).Failed);
    }

    [Fact]
    public void Evaluate_TwoFailedAdequateTrials_Trd()
    {
        var protocol = Build(trials: [Trial("sertraline", 150, 8), Trial("venlafaxine", 225, 4)]);

        var staging = Staging.Evaluate(protocol, AsOf, null);

        Assert.Equal(2, staging.FailedAdequateTrials);
        Assert.True(staging.Trd);
    }

    [Fact]
    public void Evaluate_SecondTrialOnlyThreeWeeks_NotTrd()
    {
        var protocol = Build(trials: [Trial("sertraline", 150, 8), Trial("venlafaxine", 225, 3)]);

        var staging = Staging.Evaluate(protocol, AsOf, null);

        Assert.Equal(1, staging.FailedAdequateTrials);
        Assert.False(staging.Trd);
    }

    [Fact]
    public void ThaseRush_NoFailedAdequateTrial_Stage0()
    {
        var staging = Staging.Evaluate(Build(trials: [Trial("sertraline", 150, 8, TrialOutcome.Response)]), AsOf, null);

        Assert.Equal(0, staging.ThaseRushStage);
    }

    [Fact]
    public void ThaseRush_TwoFailuresInOneClass_StageI()
    {
        var staging = Staging.Evaluate(Build(trials: [Trial("sertraline", 150, 8), Trial("escitalopram", 20, 6)]), AsOf, null);

        Assert.Equal((1, "I"), (staging.ThaseRushStage, staging.ThaseRushRoman));
        Assert.True(staging.Trd);
    }

    [Fact]
    public void ThaseRush_FailuresInTwoClasses_StageII()
    {
        var staging = Staging.Evaluate(Build(trials: [Trial("sertraline", 150, 8), Trial("duloxetine", 60, 6)]), AsOf, null);

        Assert.Equal((2, "II"), (staging.ThaseRushStage, staging.ThaseRushRoman));
        Assert.Contains("sertraline (SSRI), duloxetine (SNRI)", staging.ThaseRushBasis, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2025-11-27", 12, 1)]
    [InlineData("2025-10-28", 12, 1)] // 12 months 30 days: still 12 whole months
    [InlineData("2025-10-27", 13, 2)]
    [InlineData("2024-11-27", 24, 2)]
    [InlineData("2024-10-27", 25, 3)]
    public void Maudsley_DurationFromOnsetToToday_ScoredByWholeMonths(string onset, int months, int score)
    {
        Assert.Equal(months, Staging.WholeMonths(D(onset), AsOf));
        Assert.Equal(score, Staging.DurationScore(months));
    }

    [Theory]
    [InlineData(Phq9Band.NoneMinimal, false, 1)]
    [InlineData(Phq9Band.Mild, false, 2)]
    [InlineData(Phq9Band.Moderate, false, 3)]
    [InlineData(Phq9Band.ModeratelySevere, false, 3)]
    [InlineData(Phq9Band.Severe, false, 4)]
    [InlineData(Phq9Band.Severe, true, 5)]
    public void Maudsley_BaselineBand_SeverityScore(Phq9Band band, bool psychotic, int score)
    {
        Assert.Equal(score, Staging.SeverityScore(band, psychotic));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    [InlineData(6, 3)]
    [InlineData(7, 4)]
    [InlineData(10, 4)]
    [InlineData(11, 5)]
    public void Maudsley_Failures_FailureScore(int failures, int score)
    {
        Assert.Equal(score, Staging.FailureScore(failures));
    }

    [Theory]
    [InlineData(3, MaudsleyBand.Mild)]
    [InlineData(6, MaudsleyBand.Mild)]
    [InlineData(7, MaudsleyBand.Moderate)]
    [InlineData(10, MaudsleyBand.Moderate)]
    [InlineData(11, MaudsleyBand.Severe)]
    [InlineData(15, MaudsleyBand.Severe)]
    public void MaudsleyBandOf_Total_BandEdges(int total, MaudsleyBand band)
    {
        Assert.Equal(band, Staging.MaudsleyBandOf(total));
    }

    /// <summary>Onset, baseline PHQ-9, failed adequate trials; lithium augmentation and one ECT session delivered.</summary>
    private static ResistanceStaging Scenario(string onset, int baselineTotal, int failures)
    {
        var drugs = new (string Drug, decimal Dose)[] { ("sertraline", 100), ("escitalopram", 20), ("fluoxetine", 40), ("citalopram", 40), ("paroxetine", 40) };
        var protocol = Build(
            [Phq9("2026-06-01", baselineTotal)],
            [Phase(1, "2026-06-01", "2026-08-28", Augment()), Phase(3, "2026-09-07", null, Ect())],
            [.. drugs.Take(failures).Select(d => Trial(d.Drug, d.Dose, 8))],
            [Session("ect", "2026-09-07")],
            new Diagnosis("F33.2", D(onset)));
        return Staging.Evaluate(protocol, AsOf, protocol.Phq9[0]);
    }

    [Fact]
    public void Maudsley_Total6_Mild()
    {
        // duration 1 (6 months) + mild baseline 2 (PHQ-9 7) + 1 failure 1 + augmentation 1 + ECT 1 = 6
        var m = Scenario("2026-05-27", 7, 1).Maudsley!;

        Assert.Equal((1, 2, 1, true, true), (m.DurationScore, m.SeverityScore, m.FailureScore, m.Augmentation, m.Ect));
        Assert.Equal(6, m.Total);
        Assert.Equal(MaudsleyBand.Mild, m.Band);
    }

    [Fact]
    public void Maudsley_Total7_Moderate()
    {
        // as above with a moderate baseline (PHQ-9 12): severity 3 → 7
        var m = Scenario("2026-05-27", 12, 1).Maudsley!;

        Assert.Equal(7, m.Total);
        Assert.Equal(MaudsleyBand.Moderate, m.Band);
    }

    [Fact]
    public void Maudsley_Total10_Moderate()
    {
        // duration 3 (> 24 months) + severe 4 (PHQ-9 22) + 2 failures 1 + augmentation 1 + ECT 1 = 10
        var m = Scenario("2022-01-10", 22, 2).Maudsley!;

        Assert.Equal(10, m.Total);
        Assert.Equal(MaudsleyBand.Moderate, m.Band);
    }

    [Fact]
    public void Maudsley_Total11_Severe()
    {
        // as above with 3 failures: failure score 2 → 11
        var m = Scenario("2022-01-10", 22, 3).Maudsley!;

        Assert.Equal(11, m.Total);
        Assert.Equal(MaudsleyBand.Severe, m.Band);
    }

    [Fact]
    public void Maudsley_NoOnsetDate_NotComputedWithReason()
    {
        var protocol = Build([Phq9("2026-06-01", 20)], trials: [Trial("sertraline", 150, 8)], diagnosis: new Diagnosis("F33.1", null));

        var staging = Staging.Evaluate(protocol, AsOf, protocol.Phq9[0]);

        Assert.Null(staging.Maudsley);
        Assert.Contains("onset", staging.MaudsleyNotComputed, StringComparison.Ordinal);
    }

    [Fact]
    public void Maudsley_PlannedAugmentationAndNoEctSession_NeitherCounts()
    {
        var protocol = Build(
            [Phq9("2026-06-01", 20)],
            [Phase(1, "2026-06-01", null), new Phase(2, PhaseStatus.Planned, new DatePeriod(D("2026-12-01"), null), null, null, [Augment() with { Status = InterventionStatus.Planned }, Ect()])],
            [Trial("sertraline", 150, 8)]);

        var m = Staging.Evaluate(protocol, AsOf, protocol.Phq9[0]).Maudsley!;

        Assert.False(m.Augmentation);
        Assert.False(m.Ect);
    }

    [Fact]
    public void Evaluate_Phase2TmsExample_StageIIAndMaudsley9Moderate()
    {
        // escitalopram 20 mg 8 wk (SSRI) and duloxetine 120 mg 10 wk (SNRI) failed; bupropion 3 wk is not adequate.
        // Maudsley: onset 2022-11-15 → 48 months: 3; baseline PHQ-9 21: severe 4; 2 failures: 1; quetiapine augmentation: 1; no ECT.
        var protocol = ProtocolToFhirTests.Example("phase2-tms-partial-response");

        var staging = Staging.Evaluate(protocol, AsOf, protocol.Phq9[0]);

        Assert.Equal([true, true, false], staging.Trials.Select(t => t.FailedAdequate));
        Assert.True(staging.Trd);
        Assert.Equal(2, staging.ThaseRushStage);
        Assert.Equal((48, 3, 4, 1, true, false), (staging.Maudsley!.DurationMonths, staging.Maudsley.DurationScore, staging.Maudsley.SeverityScore, staging.Maudsley.FailureScore, staging.Maudsley.Augmentation, staging.Maudsley.Ect));
        Assert.Equal(9, staging.Maudsley.Total);
        Assert.Equal(MaudsleyBand.Moderate, staging.Maudsley.Band);
    }
}
