using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Tests.Clinical.ClinicalTestData;

namespace Trd.Fhir.Adapter.Tests.Clinical;

/// <summary>Issue 11 item 4: every read-out hint states the age of its evidence; stale data is not judged; PHQ-9 monitoring adherence.</summary>
public class EvidenceAgeTests
{
    private static Phq9MonitoringIntervention Monitoring() => new("phq9-monitoring", InterventionStatus.Active, new Schedule(1, null, 2, ScheduleUnit.Week, null, null, null));

    private static IReadOnlyList<Hint> Hints(TrdProtocol protocol, string asOf) =>
        ClinicalReadout.Read(protocol, Clock(asOf)).Hints;

    // Phase 2 from 2026-01-05 (6 months: 2026-07-05), PHQ-9 every 2 weeks; the last PHQ-9 (12, no remission) on 2026-01-19.
    private static TrdProtocol StalePhase2() => Build(
        [Phq9("2025-10-01", 20), Phq9("2026-01-19", 12)],
        [Phase(1, "2025-10-01", "2026-01-04"), Phase(2, "2026-01-05", null, Monitoring())]);

    [Fact]
    public void Hints_LatestPhq9OlderThanTheMonitoringInterval_SaysDataTooOldInsteadOfRecommending()
    {
        var hints = Hints(StalePhase2(), "2026-07-05");

        Assert.DoesNotContain(hints, h => h.Code == "phase-3-review");
        var hint = Assert.Single(hints, h => h.Code == "phase-2-data-too-old");
        Assert.StartsWith("Data too old to judge: the latest PHQ-9 is 167 days old", hint.Text, StringComparison.Ordinal);
        Assert.Contains("evidence: PHQ-9 of 2026-01-19, 167 days old on 2026-07-05 (the plan asks for one every 14 days)", hint.Data);
        Assert.Contains(hint.Data, d => d.StartsWith("missing PHQ-9 assessments (due by the monitoring schedule, none recorded): 2026-02-02, 2026-02-16,", StringComparison.Ordinal));
    }

    [Fact]
    public void Hints_RecentPhq9_RecommendsAndStatesTheEvidenceAge()
    {
        var protocol = Build(
            [Phq9("2025-10-01", 20), Phq9("2026-06-29", 12)],
            [Phase(1, "2025-10-01", "2026-01-04"), Phase(2, "2026-01-05", null, Monitoring())]);

        var hint = Assert.Single(Hints(protocol, "2026-07-05"), h => h.Code == "phase-3-review");

        Assert.Contains("evidence: PHQ-9 of 2026-06-29, 6 days old on 2026-07-05 (the plan asks for one every 14 days)", hint.Data);
    }

    [Fact]
    public void Adherence_Phq9Monitoring_CountsTheAssessmentsInThePhase()
    {
        var course = Assert.Single(Adherence.Evaluate(StalePhase2(), D("2026-07-05")), c => c.Kind == CourseKind.Phq9Monitoring);

        Assert.Equal(("phq9-monitoring", 2), (course.InterventionId, course.Phase));
        Assert.Equal(1, course.Delivered);
        Assert.Equal(AdherenceState.Behind, course.State);
        Assert.Contains(ClinicalReadout.Read(StalePhase2(), Clock("2026-07-05")).Hints, h => h.Kind == HintKind.Adherence && h.Data[0].StartsWith("PHQ-9 monitoring 'phq9-monitoring'", StringComparison.Ordinal));
    }
}
