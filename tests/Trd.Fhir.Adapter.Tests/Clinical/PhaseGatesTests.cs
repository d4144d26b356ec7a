using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Tests.Clinical.ClinicalTestData;

namespace Trd.Fhir.Adapter.Tests.Clinical;

public class PhaseGatesTests
{
    private static PhaseGate Gate(TrdProtocol protocol, int phase, string asOf) =>
        PhaseGates.Evaluate(protocol, D(asOf), BaselineRule.First).Single(g => g.Phase == phase);

    private static IReadOnlyList<Hint> Hints(TrdProtocol protocol, string asOf)
    {
        var day = D(asOf);
        var assessments = Outcomes.Until(protocol, day);
        return PhaseGates.Hints(PhaseGates.Evaluate(protocol, day, BaselineRule.First), assessments, Outcomes.SafetySignals(assessments), Adherence.Evaluate(protocol, day));
    }

    // Phase 1 from Mon 2026-01-05: 12 weeks (84 days) are reached on Mon 2026-03-30.
    private static TrdProtocol Phase1(int latestTotal, string latestDate = "2026-03-30") =>
        Build([Phq9("2026-01-05", 20), Phq9(latestDate, latestTotal)], [Phase(1, "2026-01-05", null)]);

    [Fact]
    public void Evaluate_Phase1ExactlyTwelveWeeksWith40PercentImprovement_Phase2Eligible()
    {
        var gate = Gate(Phase1(12), 1, "2026-03-30");

        Assert.Equal(GateState.EscalationCriterionMet, gate.State);
        Assert.Equal(D("2026-03-30"), gate.GateDate);
        Assert.Equal(12, gate.WeeksInPhase);
        Assert.Equal(40m, gate.ImprovementPercent);
    }

    [Fact]
    public void Evaluate_Phase1OneDayShortOfTwelveWeeks_TooEarly()
    {
        var gate = Gate(Phase1(12, "2026-03-29"), 1, "2026-03-29");

        Assert.Equal(GateState.TooEarly, gate.State);
        Assert.Equal(11, gate.WeeksInPhase);
    }

    [Fact]
    public void Evaluate_Phase1TwelveWeeksWith50PercentImprovement_CriterionNotMet()
    {
        Assert.Equal(GateState.CriterionNotMet, Gate(Phase1(10), 1, "2026-03-30").State);
    }

    [Fact]
    public void Evaluate_Phase1TwelveWeeksWith48PercentImprovement_Phase2Eligible()
    {
        var protocol = Build([Phq9("2026-01-05", 27, item9: 3), Phq9("2026-03-30", 14)], [Phase(1, "2026-01-05", null)]);

        var gate = Gate(protocol, 1, "2026-03-30");

        Assert.Equal(GateState.EscalationCriterionMet, gate.State);
        Assert.Equal(48.1m, gate.ImprovementPercent);
    }

    [Fact]
    public void Evaluate_Phase1OnlyTheBaseline_NoData()
    {
        var protocol = Build([Phq9("2026-01-05", 20)], [Phase(1, "2026-01-05", null)]);

        Assert.Equal(GateState.NoData, Gate(protocol, 1, "2026-04-30").State);
    }

    [Fact]
    public void Evaluate_Phase1Ended_JudgedOnItsEndDateNotToday()
    {
        var protocol = Build(
            [Phq9("2026-01-05", 20), Phq9("2026-03-02", 12), Phq9("2026-06-01", 4)],
            [Phase(1, "2026-01-05", "2026-03-27"), Phase(2, "2026-03-30", null)]);

        var gate = Gate(protocol, 1, "2026-06-30");

        Assert.Equal(D("2026-03-27"), gate.EvaluatedOn);
        Assert.Equal(GateState.TooEarly, gate.State); // 81 days: ended before the 12-week gate
        Assert.True(gate.NextPhaseStarted);
    }

    // Phase 2 from Mon 2026-01-05: 6 calendar months are reached on 2026-07-05.
    private static TrdProtocol Phase2(int latestTotal, int item9 = 0) => Build(
        [Phq9("2025-09-29", 18), Phq9("2026-01-05", 15), Phq9("2026-06-29", latestTotal, item9)],
        [Phase(1, "2025-09-29", "2026-01-02"), Phase(2, "2026-01-05", null)]);

    [Fact]
    public void Evaluate_Phase2SixMonthsWithoutRemission_Phase3Review()
    {
        var gate = Gate(Phase2(8), 2, "2026-07-05");

        Assert.Equal(GateState.EscalationCriterionMet, gate.State);
        Assert.Equal(D("2026-07-05"), gate.GateDate);
        Assert.Equal(8, gate.Latest!.Total);
    }

    [Fact]
    public void Evaluate_Phase2OneDayShortOfSixMonths_TooEarly()
    {
        Assert.Equal(GateState.TooEarly, Gate(Phase2(8), 2, "2026-07-04").State);
    }

    [Fact]
    public void Evaluate_Phase2SixMonthsInRemission_CriterionNotMet()
    {
        Assert.Equal(GateState.CriterionNotMet, Gate(Phase2(4), 2, "2026-07-05").State);
    }

    [Fact]
    public void Evaluate_Phase2SixMonthsLatestFive_Phase3Review()
    {
        Assert.Equal(GateState.EscalationCriterionMet, Gate(Phase2(5), 2, "2026-07-05").State);
    }

    [Fact]
    public void Evaluate_Phase2NotStarted_NotStarted()
    {
        var protocol = Build([Phq9("2026-01-05", 20)], [Phase(1, "2026-01-05", null), PlannedPhase(2, "2026-04-06")]);

        Assert.Equal(GateState.NotStarted, Gate(protocol, 2, "2026-03-01").State);
    }

    [Fact]
    public void Hints_Phase2Eligible_CitesTheRuleAndTheDataAndLeavesTheDecisionToTheClinician()
    {
        var hint = Hints(Phase1(12), "2026-03-30").Single(h => h.Code == "phase-2-eligible");

        Assert.Equal(HintKind.Gate, hint.Kind);
        Assert.Contains("≥ 12 weeks", hint.Rule, StringComparison.Ordinal);
        Assert.Contains("< 50 %", hint.Rule, StringComparison.Ordinal);
        Assert.Contains("phase 1 started 2026-01-05; 12 full weeks by 2026-03-30", hint.Data[0], StringComparison.Ordinal);
        Assert.Contains("PHQ-9 20 on 2026-01-05 (baseline) → 12 on 2026-03-30: 40 % improvement", hint.Data[1], StringComparison.Ordinal);
        Assert.Contains("clinician decides", hint.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Hints_Phase3Review_NamesEctAndSupervisedKetamineWithItem9()
    {
        var hint = Hints(Phase2(8, item9: 1), "2026-07-05").Single(h => h.Code == "phase-3-review");

        Assert.Contains("ECT if severe suicidality or catatonia", hint.Rule, StringComparison.Ordinal);
        Assert.Contains("item 9 on 2026-06-29: 1 (0–3)", hint.Data[2], StringComparison.Ordinal);
        Assert.Contains("for the clinician", hint.Text, StringComparison.Ordinal);
        Assert.Contains("only under supervision", hint.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Hints_LatestItem9One_SafetyReview()
    {
        var hint = Hints(Phase2(8, item9: 1), "2026-07-05").Single(h => h.Kind == HintKind.Safety);

        Assert.Equal("safety-review", hint.Code);
        Assert.Contains("latest PHQ-9 on 2026-06-29: item 9 = 1", hint.Data[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Hints_LatestItem9Zero_NoSafetyReview()
    {
        Assert.DoesNotContain(Hints(Phase2(8, item9: 0), "2026-07-05"), h => h.Kind == HintKind.Safety);
    }

    [Fact]
    public void Hints_Every_IsWordedAsDecisionSupport()
    {
        var hints = Hints(Phase2(8, item9: 1), "2026-07-05").Concat(Hints(Phase1(12), "2026-03-30")).ToList();

        Assert.NotEmpty(hints);
        Assert.All(hints, h =>
        {
            Assert.NotEmpty(h.Rule);
            Assert.NotEmpty(h.Data);
            Assert.DoesNotContain("must start", h.Text, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("prescribe", h.Text, StringComparison.OrdinalIgnoreCase);
        });
    }
}
