using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Clinical;

public enum CourseKind { TmsAcute, TmsMaintenance, Psychotherapy, Ect, SupervisedMedication, Phq9Monitoring }

public enum AdherenceState { NotStarted, OnTrack, Behind, NotRecorded }

/// <summary>
/// Planned against delivered sessions of one course, up to <see cref="Until"/> (the read-out date or the course end,
/// whichever is first). <see cref="Planned"/> is the whole course (null when its schedule has no bounds);
/// <see cref="ExpectedToDate"/> what the schedule asks for between <see cref="Start"/> and <see cref="Until"/>, capped at
/// <see cref="Planned"/>. Delivered counts completed sessions only.
/// </summary>
public sealed record CourseAdherence(
    string InterventionId,
    CourseKind Kind,
    int Phase,
    string Schedule,
    IntRange? Planned,
    DateOnly? Start,
    DateOnly? Until,
    IntRange ExpectedToDate,
    int Delivered,
    int Missed,
    int Stopped,
    AdherenceState State)
{
    /// <summary>Sessions short of the lower end of what was expected to date (0 unless <see cref="AdherenceState.Behind"/>).</summary>
    public int Shortfall => State == AdherenceState.Behind ? ExpectedToDate.Min - Delivered : 0;
}

/// <summary>
/// Adherence per course (TMS acute and maintenance, psychotherapy, ECT, supervised esketamine/ketamine, PHQ-9 monitoring:
/// the PHQ-9s recorded in the phase against the monitoring schedule). Rules
/// (docs/clinical.md): a daily schedule of clinic sessions means weekdays (5 a week); a course starts at its first
/// recorded session, else at its phase's actual start; it ends at its phase's actual end, or — when the course is
/// completed or stopped — at its last recorded session; the TMS acute stage ends the day before the first maintenance
/// session.
/// </summary>
public static class Adherence
{
    public const int ClinicDaysPerWeek = 5;

    public static IReadOnlyList<CourseAdherence> Evaluate(TrdProtocol protocol, DateOnly asOf)
    {
        var courses = new List<CourseAdherence>();
        foreach (var phase in protocol.Phases)
        {
            foreach (var intervention in phase.Interventions)
            {
                var sessions = protocol.Sessions.Where(s => s.Intervention == intervention.Id && s.Date <= asOf).OrderBy(s => s.Date).ToList();
                switch (intervention)
                {
                    case TmsIntervention tms:
                    {
                        var acute = sessions.Where(s => (s.Stage ?? TmsStage.Acute) == TmsStage.Acute).ToList();
                        var maintenance = sessions.Where(s => s.Stage == TmsStage.Maintenance).ToList();
                        DateOnly? acuteEnd = maintenance.Count > 0 ? maintenance[0].Date.AddDays(-1) : null;
                        courses.Add(Course(phase, tms, CourseKind.TmsAcute, tms.Acute, acute, asOf, acuteEnd, fallbackToPhaseStart: true));
                        if (tms.Maintenance is { } schedule)
                            courses.Add(Course(phase, tms, CourseKind.TmsMaintenance, schedule, maintenance, asOf, null, fallbackToPhaseStart: false));
                        break;
                    }
                    case PsychotherapyIntervention therapy:
                        courses.Add(Course(phase, therapy, CourseKind.Psychotherapy, therapy.Schedule, sessions, asOf, null, fallbackToPhaseStart: true));
                        break;
                    case EctIntervention ect:
                        courses.Add(Course(phase, ect, CourseKind.Ect, ect.Schedule, sessions, asOf, null, fallbackToPhaseStart: true));
                        break;
                    case MedicationIntervention { Supervised: true } medication:
                        courses.Add(Course(phase, medication, CourseKind.SupervisedMedication, medication.Schedule, sessions, asOf, null, fallbackToPhaseStart: true));
                        break;
                    case Phq9MonitoringIntervention monitoring:
                        courses.Add(Course(phase, monitoring, CourseKind.Phq9Monitoring, monitoring.Schedule, Phq9InPhase(protocol, phase, monitoring, asOf), asOf, null, fallbackToPhaseStart: true));
                        break;
                }
            }
        }
        return courses;
    }

    private static CourseAdherence Course(Phase phase, Intervention intervention, CourseKind kind, Schedule schedule,
        IReadOnlyList<DeliveredSession> sessions, DateOnly asOf, DateOnly? stageEnd, bool fallbackToPhaseStart)
    {
        var planned = PlannedSessions(schedule);
        var delivered = sessions.Count(s => s.Status == SessionStatus.Completed);
        var missed = sessions.Count(s => s.Status == SessionStatus.Missed);
        var stopped = sessions.Count(s => s.Status == SessionStatus.Stopped);
        var describe = Describe(schedule);

        DateOnly? start = sessions.Count > 0 ? sessions[0].Date
            : fallbackToPhaseStart && intervention.Status != InterventionStatus.Planned ? phase.Actual?.Start : null;
        if (start is not { } from || from > asOf)
            return new CourseAdherence(intervention.Id, kind, phase.Number, describe, planned, null, null, IntRange.Exactly(0), delivered, missed, stopped, AdherenceState.NotStarted);

        DateOnly? end = stageEnd ?? phase.Actual?.End;
        if (intervention.Status is InterventionStatus.Completed or InterventionStatus.Stopped && sessions.Count > 0)
            end = Min(end, sessions[^1].Date);
        var until = end is { } e && e < asOf ? e : asOf;
        if (until < from)
            until = from;

        var expected = ExpectedBetween(schedule, from, until);
        if (planned is { } p)
            expected = new IntRange(Math.Min(expected.Min, p.Min), Math.Min(expected.Max, p.Max));
        var state = sessions.Count == 0 && intervention.Status is InterventionStatus.Completed or InterventionStatus.Stopped ? AdherenceState.NotRecorded
            : delivered >= expected.Min ? AdherenceState.OnTrack
            : AdherenceState.Behind;
        return new CourseAdherence(intervention.Id, kind, phase.Number, describe, planned, from, until, expected, delivered, missed, stopped, state);
    }

    /// <summary>The PHQ-9 assessments within the phase's actual period (up to the read-out date), as completed "sessions" of its
    /// monitoring order: PHQ-9 monitoring is counted like any other course.</summary>
    private static List<DeliveredSession> Phq9InPhase(TrdProtocol protocol, Phase phase, Intervention monitoring, DateOnly asOf) =>
        protocol.Phq9.Where(a => a.Date <= asOf && phase.Actual?.Start is { } s && a.Date >= s && (phase.Actual.End is not { } e || a.Date <= e))
            .OrderBy(a => a.Date)
            .Select(a => new DeliveredSession(null, monitoring.Id, null, a.Date, SessionStatus.Completed, null, null, null))
            .ToList();

    private static DateOnly? Min(DateOnly? a, DateOnly b) => a is { } x && x < b ? x : b;

    /// <summary>
    /// Sessions of the whole course: the schedule's session count when given, else sessions per week × weeks
    /// (lower end rounded down, upper end up); null when the schedule has neither.
    /// </summary>
    public static IntRange? PlannedSessions(Schedule schedule)
    {
        if (schedule.Sessions is { } sessions)
            return sessions;
        if (schedule.Weeks is not { } weeks)
            return null;
        var perWeek = schedule.Unit == ScheduleUnit.Day ? ClinicDaysPerWeek : 1;
        var timesMax = schedule.TimesMax ?? schedule.Times;
        return new IntRange(
            schedule.Times * perWeek * weeks.Min / schedule.Every,
            CeilDiv(timesMax * perWeek * weeks.Max, schedule.Every));
    }

    /// <summary>
    /// What the schedule asks for from <paramref name="start"/> to <paramref name="until"/>, both inclusive, counting a
    /// session on the first day: daily → weekdays × times ÷ every; weekly → ⌈days ÷ 7 × times ÷ every⌉.
    /// </summary>
    public static IntRange ExpectedBetween(Schedule schedule, DateOnly start, DateOnly until)
    {
        var timesMax = schedule.TimesMax ?? schedule.Times;
        if (schedule.Unit == ScheduleUnit.Day)
        {
            var weekdays = Weekdays(start, until);
            return new IntRange(CeilDiv(weekdays * schedule.Times, schedule.Every), CeilDiv(weekdays * timesMax, schedule.Every));
        }
        var days = until.DayNumber - start.DayNumber + 1;
        return new IntRange(CeilDiv(days * schedule.Times, 7 * schedule.Every), CeilDiv(days * timesMax, 7 * schedule.Every));
    }

    /// <summary>Monday–Friday days from <paramref name="start"/> to <paramref name="until"/>, both inclusive.</summary>
    public static int Weekdays(DateOnly start, DateOnly until)
    {
        var count = 0;
        for (var d = start; d <= until; d = d.AddDays(1))
        {
            if (d.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday))
                count++;
        }
        return count;
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

    public static string Describe(Schedule s)
    {
        var times = s.TimesMax is { } max ? $"{s.Times}–{max}×" : $"{s.Times}×";
        var unit = s.Unit == ScheduleUnit.Day ? "day" : "week";
        var every = s.Every == 1 ? $"per {unit}" : $"every {s.Every} {unit}s";
        var length = s.Weeks is { } w ? (w.IsExact ? $", {w.Min} weeks" : $", {w.Min}–{w.Max} weeks") : "";
        var count = s.Sessions is { } n ? (n.IsExact ? $", {n.Min} sessions" : $", {n.Min}–{n.Max} sessions") : "";
        return $"{times} {every}{length}{count}";
    }
}
