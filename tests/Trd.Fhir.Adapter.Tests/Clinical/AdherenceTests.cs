using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Tests.Mapping;
using static Trd.Fhir.Adapter.Tests.Clinical.ClinicalTestData;

namespace Trd.Fhir.Adapter.Tests.Clinical;

public class AdherenceTests
{
    [Fact]
    public void PlannedSessions_TmsDailyFourToSixWeeks_20To30WeekdaySessions()
    {
        Assert.Equal(new IntRange(20, 30), Adherence.PlannedSessions(Daily(4, 6)));
    }

    [Fact]
    public void PlannedSessions_TmsMaintenanceWeeklyFourToEightWeeks_4To8()
    {
        Assert.Equal(new IntRange(4, 8), Adherence.PlannedSessions(Weekly(1, weeks: new IntRange(4, 8))));
    }

    [Fact]
    public void PlannedSessions_PsychotherapyOneToTwoPerWeekFor26Weeks_26To52()
    {
        Assert.Equal(new IntRange(26, 52), Adherence.PlannedSessions(Weekly(1, 2, weeks: IntRange.Exactly(26))));
    }

    [Fact]
    public void PlannedSessions_EctSessionRange_IsThatRange()
    {
        Assert.Equal(new IntRange(6, 12), Adherence.PlannedSessions(Weekly(3, sessions: new IntRange(6, 12))));
    }

    [Fact]
    public void PlannedSessions_EveryTwoWeeksForFiveWeeks_RoundsLowDownAndHighUp()
    {
        var schedule = new Schedule(1, null, 2, ScheduleUnit.Week, null, IntRange.Exactly(5), null);

        Assert.Equal(new IntRange(2, 3), Adherence.PlannedSessions(schedule));
    }

    [Fact]
    public void PlannedSessions_NoWeeksNoSessions_IsOpenEnded()
    {
        Assert.Null(Adherence.PlannedSessions(Weekly(1)));
    }

    [Theory]
    [InlineData("2026-06-01", "2026-06-07", 5)] // Mon–Sun
    [InlineData("2026-06-01", "2026-06-01", 1)]
    [InlineData("2026-06-06", "2026-06-07", 0)] // a weekend
    [InlineData("2026-06-01", "2026-06-22", 16)]
    public void Weekdays_Range_CountsMondayToFridayInclusive(string from, string to, int expected)
    {
        Assert.Equal(expected, Adherence.Weekdays(D(from), D(to)));
    }

    [Theory]
    [InlineData("2026-06-01", 1, 1)] // 1 day: ⌈1/7⌉ = 1, ⌈2/7⌉ = 1 (the first day has its session)
    [InlineData("2026-06-07", 1, 2)] // 7 days: 1 week
    [InlineData("2026-06-08", 2, 3)] // 8 days: ⌈8/7⌉ = 2, ⌈16/7⌉ = 3
    [InlineData("2026-06-21", 3, 6)] // 21 days: 3 weeks
    public void ExpectedBetween_WeeklyOneToTwo_ProRataRoundedUp(string until, int min, int max)
    {
        Assert.Equal(new IntRange(min, max), Adherence.ExpectedBetween(Weekly(1, 2), D("2026-06-01"), D(until)));
    }

    [Fact]
    public void Evaluate_TmsExampleOnDay16_OneShortOfSixteenWeekdays()
    {
        // phase2-tms-partial-response: acute TMS from Mon 2026-06-01; by Mon 06-22 16 weekdays, 15 completed, 06-10 missed.
        var courses = Adherence.Evaluate(ProtocolToFhirTests.Example("phase2-tms-partial-response"), D("2026-06-22"));

        var acute = courses.Single(c => c.Kind == CourseKind.TmsAcute);
        Assert.Equal(new IntRange(20, 30), acute.Planned);
        Assert.Equal((D("2026-06-01"), D("2026-06-22")), (acute.Start!.Value, acute.Until!.Value));
        Assert.Equal(IntRange.Exactly(16), acute.ExpectedToDate);
        Assert.Equal((15, 1, 0), (acute.Delivered, acute.Missed, acute.Stopped));
        Assert.Equal(AdherenceState.Behind, acute.State);
        Assert.Equal(1, acute.Shortfall);
    }

    [Fact]
    public void Evaluate_TmsExampleOnDay16_PsychotherapyOnTrackAndMaintenanceNotStarted()
    {
        var courses = Adherence.Evaluate(ProtocolToFhirTests.Example("phase2-tms-partial-response"), D("2026-06-22"));

        // CBT 1–2×/week from Tue 06-02: 21 days to 06-22 = 3 weeks → 3–6 expected; 5 delivered.
        var cbt = courses.Single(c => c.InterventionId == "psychotherapy");
        Assert.Equal(new IntRange(3, 6), cbt.ExpectedToDate);
        Assert.Equal(5, cbt.Delivered);
        Assert.Equal(AdherenceState.OnTrack, cbt.State);
        Assert.Equal(AdherenceState.NotStarted, courses.Single(c => c.Kind == CourseKind.TmsMaintenance).State);
        // IPSRT in phase 1 is completed but no session of it was recorded: not counted as missed.
        Assert.Equal(AdherenceState.NotRecorded, courses.Single(c => c.InterventionId == "ipsrt").State);
    }

    [Fact]
    public void Evaluate_LongAfterTheLastSession_ExpectedIsCappedAtThePlannedMaximum()
    {
        var courses = Adherence.Evaluate(ProtocolToFhirTests.Example("phase2-tms-partial-response"), D("2026-11-27"));

        var acute = courses.Single(c => c.Kind == CourseKind.TmsAcute);
        Assert.Equal(new IntRange(20, 30), acute.ExpectedToDate);
        Assert.Equal(5, acute.Shortfall);
    }

    [Fact]
    public void Evaluate_MaintenanceStarted_AcuteEndsTheDayBefore()
    {
        var sessions = new List<DeliveredSession>();
        for (var d = D("2026-03-02"); d <= D("2026-04-10"); d = d.AddDays(1))
        {
            if (d.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday))
                sessions.Add(new DeliveredSession(null, "tms", TmsStage.Acute, d, SessionStatus.Completed, null, null, null));
        }
        sessions.Add(Session("tms", "2026-04-20", stage: TmsStage.Maintenance));
        sessions.Add(Session("tms", "2026-04-27", stage: TmsStage.Maintenance));
        var protocol = Build(phases: [Phase(1, "2026-01-05", "2026-02-27"), Phase(2, "2026-03-02", null, Tms())], sessions: sessions);

        var courses = Adherence.Evaluate(protocol, D("2026-04-30"));

        var acute = courses.Single(c => c.Kind == CourseKind.TmsAcute);
        Assert.Equal(D("2026-04-19"), acute.Until);
        Assert.Equal(new IntRange(20, 30), acute.ExpectedToDate); // 35 weekdays, capped at 30 (and 20)
        Assert.Equal(30, acute.Delivered);
        Assert.Equal(AdherenceState.OnTrack, acute.State);
        var maintenance = courses.Single(c => c.Kind == CourseKind.TmsMaintenance);
        Assert.Equal(IntRange.Exactly(2), maintenance.ExpectedToDate); // 04-20 → 04-30: 11 days = 2 started weeks
        Assert.Equal(2, maintenance.Delivered);
    }

    [Fact]
    public void Evaluate_CompletedCourse_CountsUpToItsLastSession()
    {
        var protocol = Build(
            phases: [Phase(3, "2026-10-01", null, Ect() with { Status = InterventionStatus.Completed })],
            sessions: [Session("ect", "2026-10-05"), Session("ect", "2026-10-07"), Session("ect", "2026-10-09"), Session("ect", "2026-10-12", SessionStatus.Missed), Session("ect", "2026-10-14")]);

        var ect = Assert.Single(Adherence.Evaluate(protocol, D("2026-11-27")));

        Assert.Equal(D("2026-10-14"), ect.Until);
        Assert.Equal(new IntRange(5, 5), ect.ExpectedToDate); // 10 days × 3/week = 4.3 → 5
        Assert.Equal((4, 1), (ect.Delivered, ect.Missed));
        Assert.Equal(1, ect.Shortfall);
    }

    [Fact]
    public void Evaluate_PlannedPhase_CourseNotStarted()
    {
        var protocol = Build(phases: [Phase(1, "2026-01-05", null), new Phase(2, PhaseStatus.Planned, new DatePeriod(D("2026-04-06"), null), null, null, [Tms(status: InterventionStatus.Planned)])]);

        var courses = Adherence.Evaluate(protocol, D("2026-03-01"));

        Assert.All(courses, c => Assert.Equal(AdherenceState.NotStarted, c.State));
        Assert.All(courses, c => Assert.Equal(IntRange.Exactly(0), c.ExpectedToDate));
    }
}
