using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Tests.Clinical;

/// <summary>Small protocols built in code for the clinical rules, so each test states the data its expectation is computed from.</summary>
internal static class ClinicalTestData
{
    public static DateOnly D(string date) => DateOnly.ParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A clock standing at noon UTC on <paramref name="date"/>.</summary>
    public static FakeTimeProvider Clock(string date) => new(new DateTimeOffset(D(date).ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero));

    /// <summary>A PHQ-9 with item 9 = <paramref name="item9"/> and the rest of <paramref name="total"/> spread over items 1–8.</summary>
    public static Phq9Assessment Phq9(string date, int total, int item9 = 0)
    {
        var items = new int[9];
        items[8] = item9;
        var rest = total - item9;
        for (var i = 0; i < 8 && rest > 0; i++)
        {
            items[i] = Math.Min(3, rest);
            rest -= items[i];
        }
        if (rest != 0)
            throw new ArgumentOutOfRangeException(nameof(total));
        return new Phq9Assessment(D(date), items, null, total);
    }

    /// <summary>A PHQ-9 known only by its total (as EHRs often send it): no item 9.</summary>
    public static Phq9Assessment Phq9TotalOnly(string date, int total) => new(D(date), null, null, total);

    public static Phase Phase(int number, string start, string? end, params Intervention[] interventions) => new(
        number,
        end is null ? PhaseStatus.Active : PhaseStatus.Completed,
        new DatePeriod(D(start), null),
        new DatePeriod(D(start), end is null ? null : D(end)),
        number switch { 1 => new MinimumDuration(12, DurationUnit.Week), 2 => new MinimumDuration(6, DurationUnit.Month), _ => null },
        interventions);

    public static Phase PlannedPhase(int number, string start) =>
        new(number, PhaseStatus.Planned, new DatePeriod(D(start), null), null, null, []);

    public static Schedule Daily(int weeksMin, int weeksMax) => new(1, null, 1, ScheduleUnit.Day, 20, new IntRange(weeksMin, weeksMax), null);

    public static Schedule Weekly(int times, int? timesMax = null, IntRange? weeks = null, IntRange? sessions = null) =>
        new(times, timesMax, 1, ScheduleUnit.Week, null, weeks, sessions);

    public static TmsIntervention Tms(string id = "tms", InterventionStatus status = InterventionStatus.Active) =>
        new(id, status, Daily(4, 6), Weekly(1, weeks: new IntRange(4, 8)), null);

    public static EctIntervention Ect(string id = "ect") =>
        new(id, InterventionStatus.Active, [EctIndication.SevereSuicidality], ElectrodePlacement.RightUnilateral, Weekly(3, sessions: new IntRange(6, 12)));

    public static MedicationIntervention Augment(string id = "lithium") =>
        new(id, InterventionStatus.Active, "lithium-carbonate", MedicationRole.Augment, 400, new Schedule(2, null, 1, ScheduleUnit.Day, null, null, null), false);

    public static DeliveredSession Session(string intervention, string date, SessionStatus status = SessionStatus.Completed, TmsStage? stage = null) =>
        new(null, intervention, stage, D(date), status, null, null, null);

    public static PriorTrial Trial(string drug, decimal? doseMg, int weeks, TrialOutcome outcome = TrialOutcome.NonResponse) => new(drug, doseMg, weeks, outcome);

    public static TrdProtocol Build(
        IReadOnlyList<Phq9Assessment>? phq9 = null,
        IReadOnlyList<Phase>? phases = null,
        IReadOnlyList<PriorTrial>? trials = null,
        IReadOnlyList<DeliveredSession>? sessions = null,
        Diagnosis? diagnosis = null) => new(
            "test-trd",
            new PatientRef("https://hospital.example.org/mrn", "TEST-1", null),
            diagnosis ?? new Diagnosis("F33.1", D("2024-01-15")),
            trials ?? [],
            [],
            phases ?? [],
            sessions ?? [],
            phq9 ?? []);
}
