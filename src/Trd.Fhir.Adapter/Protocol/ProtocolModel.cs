namespace Trd.Fhir.Adapter.Protocol;

// The TRD protocol document: one patient's protocol instance. Knows no FHIR.
// JSON shape: docs/protocol-format.md and docs/protocol.schema.json. Lists are never null.

public sealed record TrdProtocol(
    string Id,
    PatientRef Patient,
    Diagnosis? Diagnosis,
    IReadOnlyList<PriorTrial> PriorTrials,
    IReadOnlyList<CareTeamMember> CareTeam,
    IReadOnlyList<Phase> Phases,
    IReadOnlyList<DeliveredSession> Sessions,
    IReadOnlyList<Phq9Assessment> Phq9)
{
    public Intervention? FindIntervention(string id) =>
        Phases.SelectMany(p => p.Interventions).FirstOrDefault(i => i.Id == id);

    public Phase? PhaseOf(string interventionId) =>
        Phases.FirstOrDefault(p => p.Interventions.Any(i => i.Id == interventionId));
}

/// <summary>The patient, by business identifier; <see cref="Reference"/> is an optional literal server reference ("Patient/123").</summary>
public sealed record PatientRef(string System, string Value, string? Reference);

/// <summary>TRD is always coded (SNOMED 1153570009); the ICD-10-CM code (F32.x/F33.x) says which depressive disorder.</summary>
public sealed record Diagnosis(string? Icd10Cm, DateOnly? Onset);

public sealed record PriorTrial(string Drug, decimal? DailyDoseMg, int Weeks, TrialOutcome Outcome);

public enum TrialOutcome { NonResponse, PartialResponse, Response, Intolerance, Unknown }

public sealed record CareTeamMember(CareTeamRole Role, string? Name);

public enum CareTeamRole { Psychiatry, Neurology, Psychology, Nursing, PrimaryCare }

public sealed record DatePeriod(DateOnly? Start, DateOnly? End);

public enum DurationUnit { Week, Month }

public sealed record MinimumDuration(int Value, DurationUnit Unit);

/// <summary>An inclusive integer range; <c>Min == Max</c> is an exact value (written as a plain number).</summary>
public sealed record IntRange(int Min, int Max)
{
    public bool IsExact => Min == Max;
    public static IntRange Exactly(int value) => new(value, value);
}

public enum PhaseStatus { Planned, Active, Completed, Stopped }

/// <summary>
/// One phase of the protocol. <see cref="MinimumDuration"/> is the phase's gate ("≥ 12 weeks before reassessment",
/// "≥ 6 months"); <see cref="Planned"/> and <see cref="Actual"/> are the planned and the real period.
/// </summary>
public sealed record Phase(
    int Number,
    PhaseStatus Status,
    DatePeriod Planned,
    DatePeriod? Actual,
    MinimumDuration? MinimumDuration,
    IReadOnlyList<Intervention> Interventions);

public enum ScheduleUnit { Day, Week }

/// <summary>
/// A recurring schedule: <c>Times</c>(–<c>TimesMax</c>) every <c>Every</c> <c>Unit</c>, <c>Minutes</c> each,
/// for <c>Weeks</c> weeks, <c>Sessions</c> sessions in all. Maps to FHIR Timing.repeat.
/// </summary>
public sealed record Schedule(
    int Times,
    int? TimesMax,
    int Every,
    ScheduleUnit Unit,
    int? Minutes,
    IntRange? Weeks,
    IntRange? Sessions);

public enum InterventionStatus { Planned, Active, Completed, Stopped }

public enum InterventionKind { Medication, Psychotherapy, Tms, Ect, HrvBiofeedback, SleepChronotherapy, Phq9Monitoring }

public abstract record Intervention(string Id, InterventionStatus Status)
{
    public abstract InterventionKind Kind { get; }
}

public enum MedicationRole { Continue, Augment, Esketamine, Ketamine }

public sealed record MedicationIntervention(
    string Id, InterventionStatus Status, string Drug, MedicationRole Role, decimal DoseMg, Schedule Schedule, bool Supervised)
    : Intervention(Id, Status)
{
    public override InterventionKind Kind => InterventionKind.Medication;
}

public enum PsychotherapyModality { Cbt, Ipsrt, Ipt, Other }

public sealed record PsychotherapyIntervention(
    string Id, InterventionStatus Status, PsychotherapyModality Modality, Schedule Schedule)
    : Intervention(Id, Status)
{
    public override InterventionKind Kind => InterventionKind.Psychotherapy;
}

public enum TmsTarget { LeftDlpfc, RightDlpfc, BilateralDlpfc, Dmpfc }

public sealed record TmsParameters(TmsTarget? Target, decimal? FrequencyHz, int? MotorThresholdPercent, int? Pulses);

/// <summary>A TMS course: a daily (acute) stage, then an optional weekly maintenance stage.</summary>
public sealed record TmsIntervention(
    string Id, InterventionStatus Status, Schedule Acute, Schedule? Maintenance, TmsParameters? Parameters)
    : Intervention(Id, Status)
{
    public override InterventionKind Kind => InterventionKind.Tms;
}

public enum EctIndication { SevereSuicidality, Catatonia, PsychoticFeatures, TreatmentResistance }

public enum ElectrodePlacement { RightUnilateral, Bitemporal, Bifrontal }

public sealed record EctIntervention(
    string Id, InterventionStatus Status, IReadOnlyList<EctIndication> Indications, ElectrodePlacement? Placement, Schedule Schedule)
    : Intervention(Id, Status)
{
    public override InterventionKind Kind => InterventionKind.Ect;
}

/// <summary>HRV biofeedback: daily home practice plus a weekly professional review of the readings.</summary>
public sealed record HrvBiofeedbackIntervention(string Id, InterventionStatus Status, Schedule Practice, Schedule Review)
    : Intervention(Id, Status)
{
    public override InterventionKind Kind => InterventionKind.HrvBiofeedback;
}

public enum SleepComponent { SleepHygiene, BrightLightTherapy, SleepPhaseAdvance, WakeTherapy }

/// <summary>Sleep / chronotherapy, used when sleep is disturbed. Has no order: maps to a CarePlan activity detail.</summary>
public sealed record SleepIntervention(string Id, InterventionStatus Status, IReadOnlyList<SleepComponent> Components, string? Description)
    : Intervention(Id, Status)
{
    public override InterventionKind Kind => InterventionKind.SleepChronotherapy;
}

public sealed record Phq9MonitoringIntervention(string Id, InterventionStatus Status, Schedule Schedule) : Intervention(Id, Status)
{
    public override InterventionKind Kind => InterventionKind.Phq9Monitoring;
}

public enum SessionStatus { Completed, Missed, Stopped }

public enum TmsStage { Acute, Maintenance }

public sealed record EctSessionParameters(ElectrodePlacement? Placement, decimal? ChargeMillicoulombs, int? SeizureSeconds);

/// <summary>
/// A session actually delivered (TMS, ECT, supervised esketamine/ketamine, psychotherapy). Identity: <see cref="Key"/>,
/// the explicit id if given, else intervention + date.
/// </summary>
public sealed record DeliveredSession(
    string? Id,
    string Intervention,
    TmsStage? Stage,
    DateOnly Date,
    SessionStatus Status,
    TmsParameters? Tms,
    EctSessionParameters? Ect,
    decimal? DoseMg)
{
    public string Key => Id ?? $"{Intervention}-{Date:yyyy-MM-dd}";
}

public enum Phq9Difficulty { NotDifficult, SomewhatDifficult, VeryDifficult, ExtremelyDifficult }

/// <summary>
/// A PHQ-9 assessment. <see cref="Items"/> holds the nine item scores (0–3) in questionnaire order, or is null when only
/// the total is known (common in EHR data). <see cref="Total"/> is the stated total or the item sum.
/// </summary>
public sealed record Phq9Assessment(DateOnly Date, IReadOnlyList<int>? Items, Phq9Difficulty? Difficulty, int Total)
{
    public const int SuicidalityItemIndex = 8;
    public bool SuicidalityFlag => Items is { Count: 9 } && Phq9Scoring.IsSafetySignal(Items[SuicidalityItemIndex]);
}
