using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Tests.Clinical.ClinicalTestData;

namespace Trd.Fhir.Adapter.Tests.Clinical;

public class OutcomesTests
{
    private static readonly DateOnly AsOf = D("2026-06-30");

    [Fact]
    public void Evaluate_LatestIsHalfTheBaseline_IsResponse()
    {
        var protocol = Build([Phq9("2026-01-05", 20), Phq9("2026-03-02", 15), Phq9("2026-04-27", 10)]);

        var outcome = Outcomes.Evaluate(protocol, AsOf, BaselineRule.First);

        Assert.True(outcome.Response);
        Assert.Equal(50m, outcome.ImprovementPercent);
        Assert.Equal(10m, outcome.ResponseThreshold);
        Assert.False(outcome.Remission);
    }

    [Fact]
    public void Evaluate_Drop48Percent_IsNoResponse()
    {
        var protocol = Build([Phq9("2026-01-05", 27, item9: 3), Phq9("2026-04-27", 14)]);

        var outcome = Outcomes.Evaluate(protocol, AsOf, BaselineRule.First);

        Assert.False(outcome.Response);
        Assert.Equal(48.1m, outcome.ImprovementPercent);
        Assert.Equal(13.5m, outcome.ResponseThreshold);
    }

    [Theory]
    [InlineData(4, true)]
    [InlineData(5, false)]
    public void Evaluate_LatestTotal_RemissionBelowFive(int latest, bool remission)
    {
        var protocol = Build([Phq9("2026-01-05", 18), Phq9("2026-05-04", latest)]);

        var outcome = Outcomes.Evaluate(protocol, AsOf, BaselineRule.First);

        Assert.Equal(remission, outcome.Remission);
        Assert.True(outcome.Response);
    }

    [Fact]
    public void Evaluate_BaselineFirstInPhase2_UsesTheFirstAssessmentInPhase2()
    {
        var protocol = Build(
            [Phq9("2026-01-05", 20), Phq9("2026-03-30", 16), Phq9("2026-04-06", 16), Phq9("2026-06-01", 9)],
            [Phase(1, "2026-01-05", "2026-04-03"), Phase(2, "2026-04-06", null)]);

        var outcome = Outcomes.Evaluate(protocol, AsOf, BaselineRule.FirstInPhase(2));

        Assert.Equal(D("2026-04-06"), outcome.Baseline!.Date);
        Assert.Equal(43.8m, outcome.ImprovementPercent); // 16 → 9
        Assert.False(outcome.Response);
    }

    [Fact]
    public void Evaluate_PhaseWithoutAssessment_HasNoBaselineAndSaysWhy()
    {
        var protocol = Build([Phq9("2026-01-05", 20)], [Phase(1, "2026-01-05", "2026-04-03"), Phase(2, "2026-04-06", null)]);

        var outcome = Outcomes.Evaluate(protocol, AsOf, BaselineRule.FirstInPhase(2));

        Assert.Null(outcome.Baseline);
        Assert.False(outcome.Response);
        Assert.Contains("first PHQ-9 in phase 2", outcome.Note, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_AssessmentAfterTheReadOutDate_IsIgnored()
    {
        var protocol = Build([Phq9("2026-01-05", 20), Phq9("2026-06-01", 12), Phq9("2026-07-06", 3)]);

        var outcome = Outcomes.Evaluate(protocol, AsOf, BaselineRule.First);

        Assert.Equal(12, outcome.Latest!.Total);
        Assert.False(outcome.Remission);
    }

    [Fact]
    public void Evaluate_NoAssessment_NeitherResponseNorRemission()
    {
        var outcome = Outcomes.Evaluate(Build(), AsOf, BaselineRule.First);

        Assert.Null(outcome.Latest);
        Assert.False(outcome.Response);
        Assert.False(outcome.Remission);
        Assert.NotNull(outcome.Note);
    }

    [Fact]
    public void SafetySignals_Item9Zero_NoSignal()
    {
        var signals = Outcomes.SafetySignals([Phq9("2026-01-05", 20, item9: 0)]);

        Assert.Empty(signals);
    }

    [Fact]
    public void SafetySignals_Item9One_SignalWithItsDate()
    {
        var signals = Outcomes.SafetySignals([Phq9("2026-01-05", 20, item9: 0), Phq9("2026-02-02", 18, item9: 1)]);

        var signal = Assert.Single(signals);
        Assert.Equal(new SafetySignal(D("2026-02-02"), 1, 18), signal);
    }

    [Fact]
    public void SafetySignals_TotalOnly_NoSignalBecauseItem9IsUnknown()
    {
        Assert.Empty(Outcomes.SafetySignals([Phq9TotalOnly("2026-01-05", 24)]));
    }

    [Fact]
    public void Points_EachAssessment_BandItem9AndChangeFromBaseline()
    {
        var assessments = new[] { Phq9("2026-01-05", 20, item9: 2), Phq9TotalOnly("2026-02-02", 15) };

        var points = Outcomes.Points(assessments, assessments[0]);

        Assert.Equal(new Phq9Point(D("2026-01-05"), 20, Phq9Band.Severe, 2, 0m, true), points[0]);
        Assert.Equal(new Phq9Point(D("2026-02-02"), 15, Phq9Band.ModeratelySevere, null, 25m, false), points[1]);
    }
}
