namespace Trd.Fhir.Adapter.Protocol;

/// <summary>
/// The semantic rules of a protocol document, run once it is structurally sound. Each rule names the path and a fix.
/// Rules follow the TRD protocol: phase 1 ≥ 12 weeks, TMS daily 1–12 weeks then weekly maintenance, ECT for severe
/// suicidality or catatonia, esketamine/ketamine only supervised.
/// </summary>
internal static class ProtocolChecks
{
    /// <summary>ICD-10-CM depressive-disorder codes confirmed in reference/terminology.md §3c.</summary>
    public static readonly IReadOnlySet<string> Icd10CmCodes = new SortedSet<string>(StringComparer.Ordinal)
    {
        "F32.0", "F32.1", "F32.2", "F32.3", "F32.4", "F32.5", "F32.9", "F32.89", "F32.A",
        "F33.0", "F33.1", "F33.2", "F33.3", "F33.40", "F33.41", "F33.42", "F33.8", "F33.9",
    };

    public static void Check(TrdProtocol protocol, JsonCursor c)
    {
        CheckTrials(protocol, c);
        CheckPhases(protocol, c);
        CheckInterventions(protocol, c);
        CheckSessions(protocol, c);
        CheckPhq9(protocol, c);
    }

    private static void CheckTrials(TrdProtocol protocol, JsonCursor c)
    {
        for (var i = 0; i < protocol.PriorTrials.Count; i++)
        {
            var trial = protocol.PriorTrials[i];
            if (!Drugs.Find(trial.Drug)!.IsAntidepressant)
                c.Error($"$.priorTrials[{i}].drug", ProblemCode.Inconsistent, $"'{trial.Drug}' is not an antidepressant; prior trials count antidepressant treatments", "list augmentation agents as interventions, not as prior trials");
        }
    }

    private static void CheckPhases(TrdProtocol protocol, JsonCursor c)
    {
        var seen = new HashSet<int>();
        for (var i = 0; i < protocol.Phases.Count; i++)
        {
            var phase = protocol.Phases[i];
            var at = $"$.phases[{i}]";
            if (!seen.Add(phase.Number))
                c.Error($"{at}.number", ProblemCode.Duplicate, $"phase {phase.Number} appears twice", "give each phase (1, 2, 3) once");
            if (i > 0 && protocol.Phases[i - 1].Number >= phase.Number)
                c.Error($"{at}.number", ProblemCode.Inconsistent, "phases are not in order", "list phases as 1, 2, 3");
            if (phase.Actual is { Start: { } actualStart, End: { } actualEnd } && actualEnd < actualStart)
                c.Error($"{at}.actual.end", ProblemCode.DateOrder, "actual end is before actual start");
            if (phase.Status is PhaseStatus.Active or PhaseStatus.Completed or PhaseStatus.Stopped && phase.Actual?.Start is null)
                c.Error($"{at}.actual.start", ProblemCode.MissingProperty, $"{Article(phase.Status)} {Kebab.Name(phase.Status)} phase needs its actual start date", "add \"actual\": { \"start\": \"YYYY-MM-DD\" }");
            if (phase.Status is PhaseStatus.Completed or PhaseStatus.Stopped && phase.Actual?.End is null)
                c.Error($"{at}.actual.end", ProblemCode.MissingProperty, $"{Article(phase.Status)} {Kebab.Name(phase.Status)} phase needs its actual end date", "add the end date to \"actual\"");
            if (phase.Status is PhaseStatus.Planned && phase.Actual is not null)
                c.Error($"{at}.actual", ProblemCode.Inconsistent, "a planned phase has no actual period yet", "set status to active once the phase has started, or remove \"actual\"");
            if (phase.Status is PhaseStatus.Active && phase.Actual?.End is not null)
                c.Error($"{at}.status", ProblemCode.Inconsistent, $"the phase has ended (actual end given) but its status is {Kebab.Name(phase.Status)}", "set status to completed or stopped, or remove the actual end");
            if (i > 0 && protocol.Phases[i - 1] is { Actual.End: { } previousEnd } && phase.Actual?.Start is { } start && start < previousEnd)
                c.Error($"{at}.actual.start", ProblemCode.DateOrder, $"phase {phase.Number} starts {start:yyyy-MM-dd}, before phase {protocol.Phases[i - 1].Number} ended ({previousEnd:yyyy-MM-dd})", "phases follow each other; correct either date");
            var gate = phase.MinimumDuration;
            if (phase.Number == 1 && gate is not null && Weeks(gate) < 12)
                c.Warning($"{at}.minimumDuration", ProblemCode.Inconsistent, "the TRD protocol keeps phase 1 for at least 12 weeks before reassessment", "set minimumDuration to 12 weeks");
            if (phase.Number == 2 && gate is not null && Weeks(gate) < 26)
                c.Warning($"{at}.minimumDuration", ProblemCode.Inconsistent, "the TRD protocol keeps phase 2 for at least 6 months", "set minimumDuration to 6 months");
        }
    }

    private static string Article(PhaseStatus status) => status == PhaseStatus.Active ? "an" : "a";

    private static int Weeks(MinimumDuration d) => d.Unit == DurationUnit.Week ? d.Value : (int)Math.Floor(d.Value * 52 / 12.0);

    private static void CheckInterventions(TrdProtocol protocol, JsonCursor c)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var p = 0; p < protocol.Phases.Count; p++)
        {
            var phase = protocol.Phases[p];
            for (var i = 0; i < phase.Interventions.Count; i++)
            {
                var intervention = phase.Interventions[i];
                var at = $"$.phases[{p}].interventions[{i}]";
                if (!ids.TryAdd(intervention.Id, at))
                    c.Error($"{at}.id", ProblemCode.Duplicate, $"intervention id '{intervention.Id}' is already used at {ids[intervention.Id]}", "give every intervention of the protocol its own id");
                foreach (var derived in DerivedIds(intervention))
                {
                    if (!ids.TryAdd(derived, at))
                        c.Error($"{at}.id", ProblemCode.Duplicate, $"intervention '{intervention.Id}' stands for the order '{derived}', which clashes with the intervention at {ids[derived]}", "rename one of the two interventions");
                }
                switch (intervention)
                {
                    case MedicationIntervention m:
                        CheckMedication(m, at, c);
                        break;
                    case PsychotherapyIntervention t:
                        RequireUnit(t.Schedule, ScheduleUnit.Week, $"{at}.schedule", "psychotherapy sessions are counted per week", c);
                        if (t.Schedule.Times > 5)
                            c.Error($"{at}.schedule.times", ProblemCode.OutOfRange, $"{t.Schedule.Times} psychotherapy sessions a week is not plausible", "the protocol plans 1–2 sessions a week");
                        break;
                    case TmsIntervention tms:
                        RequireUnit(tms.Acute, ScheduleUnit.Day, $"{at}.acute", "the acute TMS course is daily", c);
                        if (tms.Acute.Weeks is null)
                            c.Error($"{at}.acute.weeks", ProblemCode.MissingProperty, "the acute TMS course needs its length in weeks", "add \"weeks\": { \"min\": 4, \"max\": 6 }");
                        else if (tms.Acute.Weeks.Min < 1 || tms.Acute.Weeks.Max > 12)
                            c.Error($"{at}.acute.weeks", ProblemCode.OutOfRange, $"daily TMS for {Describe(tms.Acute.Weeks)} weeks is outside 1–12 weeks", "the protocol plans 4–6 weeks of daily TMS");
                        if (tms.Acute.Minutes is > 90)
                            c.Error($"{at}.acute.minutes", ProblemCode.OutOfRange, $"{tms.Acute.Minutes} minutes per TMS session is outside 1–90", "a TMS session lasts about 20 minutes");
                        if (tms.Maintenance is { } maintenance)
                        {
                            RequireUnit(maintenance, ScheduleUnit.Week, $"{at}.maintenance", "TMS maintenance is weekly", c);
                            if (maintenance.Weeks is { } w && (w.Min < 1 || w.Max > 52))
                                c.Error($"{at}.maintenance.weeks", ProblemCode.OutOfRange, $"TMS maintenance for {Describe(w)} weeks is outside 1–52 weeks", "the protocol plans 4–8 weeks of maintenance");
                        }
                        break;
                    case EctIntervention ect:
                        if (ect.Indications.Count == 0)
                            c.Error($"{at}.indications", ProblemCode.MissingProperty, "ECT needs its indication", "add severe-suicidality and/or catatonia");
                        RequireUnit(ect.Schedule, ScheduleUnit.Week, $"{at}.schedule", "ECT sessions are counted per week", c);
                        if (ect.Schedule.Times > 3 || ect.Schedule.TimesMax > 3)
                            c.Error($"{at}.schedule", ProblemCode.OutOfRange, "more than 3 ECT sessions a week", "ECT is given 2–3 times a week");
                        break;
                    case HrvBiofeedbackIntervention hrv:
                        RequireUnit(hrv.Practice, ScheduleUnit.Day, $"{at}.practice", "HRV biofeedback is practised daily at home", c);
                        RequireUnit(hrv.Review, ScheduleUnit.Week, $"{at}.review", "HRV readings are reviewed weekly", c);
                        break;
                    case SleepIntervention sleep when sleep.Components.Count == 0:
                        c.Error($"{at}.components", ProblemCode.MissingProperty, "sleep / chronotherapy needs at least one component", $"use: {string.Join(", ", Kebab.Names<SleepComponent>())}");
                        break;
                }
            }
        }
    }

    /// <summary>The order identities an intervention maps to besides its own id (TMS acute/maintenance, HRV practice/review,
    /// supervised administration): they share the identifier space with the intervention ids.</summary>
    private static IEnumerable<string> DerivedIds(Intervention intervention) => intervention switch
    {
        TmsIntervention t => [$"{t.Id}-acute", $"{t.Id}-maintenance"],
        HrvBiofeedbackIntervention h => [$"{h.Id}-practice", $"{h.Id}-review"],
        MedicationIntervention { Supervised: true } m => [$"{m.Id}-administration"],
        _ => [],
    };

    private static void CheckMedication(MedicationIntervention m, string at, JsonCursor c)
    {
        var drug = Drugs.Find(m.Drug)!;
        var roleFits = m.Role switch
        {
            MedicationRole.Continue => drug.IsAntidepressant,
            MedicationRole.Augment => drug.IsAugmentation,
            MedicationRole.Esketamine => drug.Key == "esketamine",
            MedicationRole.Ketamine => drug.Key == "ketamine",
            _ => false,
        };
        if (!roleFits)
        {
            var hint = m.Role switch
            {
                MedicationRole.Continue => "continue the failed SSRI/SNRI: " + string.Join(", ", Drugs.All.Where(d => d.IsAntidepressant).Select(d => d.Key)),
                MedicationRole.Augment => "augment with " + string.Join(", ", Drugs.All.Where(d => d.IsAugmentation).Select(d => d.Key)),
                _ => $"role {Kebab.Name(m.Role)} is for the drug {Kebab.Name(m.Role)}",
            };
            c.Error($"{at}.role", ProblemCode.Inconsistent, $"'{m.Drug}' cannot have the role {Kebab.Name(m.Role)}", hint);
        }
        if (m.Supervised && m.Role is not (MedicationRole.Esketamine or MedicationRole.Ketamine))
            c.Error($"{at}.supervised", ProblemCode.Inconsistent, "supervised administration (with sessions) is recorded for esketamine and ketamine only", "remove \"supervised\" from this medication");
        if (m.Role is MedicationRole.Esketamine or MedicationRole.Ketamine && !m.Supervised)
            c.Error($"{at}.supervised", ProblemCode.Inconsistent, $"{drug.Display} is given only under supervision", "set \"supervised\": true");
        var perDay = m.Schedule.Unit == ScheduleUnit.Day ? m.DoseMg * m.Schedule.Times / m.Schedule.Every : m.DoseMg * m.Schedule.Times / (7m * m.Schedule.Every);
        if (drug.LabelMaxDailyMg is { } max && m.Schedule.Unit == ScheduleUnit.Day && perDay > max)
            c.Warning($"{at}.doseMg", ProblemCode.OutOfRange, $"{perDay:0.##} mg/day of {drug.Display} is above the usual maximum of {max} mg/day", "check the dose and the schedule");
    }

    private static void RequireUnit(Schedule schedule, ScheduleUnit unit, string at, string why, JsonCursor c)
    {
        if (schedule.Unit != unit)
            c.Error($"{at}.unit", ProblemCode.Inconsistent, $"{why}, but the unit is {Kebab.Name(schedule.Unit)}", $"set \"unit\": \"{Kebab.Name(unit)}\"");
    }

    private static string Describe(IntRange r) => r.IsExact ? $"{r.Min}" : $"{r.Min}–{r.Max}";

    private static void CheckSessions(TrdProtocol protocol, JsonCursor c)
    {
        var keys = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < protocol.Sessions.Count; i++)
        {
            var session = protocol.Sessions[i];
            var at = $"$.sessions[{i}]";
            if (keys.TryGetValue(session.Key, out var first))
                c.Error(at, ProblemCode.Duplicate, $"a second session of '{session.Intervention}' on {session.Date:yyyy-MM-dd} (first at $.sessions[{first}])", "give both sessions an explicit \"id\" if two really took place that day");
            else
                keys[session.Key] = i;

            var intervention = protocol.FindIntervention(session.Intervention);
            if (intervention is null)
            {
                c.Error($"{at}.intervention", ProblemCode.UnknownReference, $"no intervention has the id '{session.Intervention}'", "use the id of a tms, ect, psychotherapy or supervised medication intervention");
                continue;
            }
            var fits = intervention switch
            {
                TmsIntervention => session.Ect is null && session.DoseMg is null,
                EctIntervention => session.Tms is null && session.Stage is null && session.DoseMg is null,
                MedicationIntervention { Supervised: true } => session.Tms is null && session.Ect is null && session.Stage is null,
                PsychotherapyIntervention => session.Tms is null && session.Ect is null && session.Stage is null && session.DoseMg is null,
                _ => false,
            };
            if (intervention is MedicationIntervention { Supervised: false } unsupervised)
            {
                c.Error($"{at}.intervention", ProblemCode.Inconsistent, $"sessions of '{unsupervised.Id}' are recorded only when its administration is supervised", $"set \"supervised\": true on '{unsupervised.Id}' (esketamine/ketamine), or remove the session");
                continue;
            }
            if (intervention is not (TmsIntervention or EctIntervention or PsychotherapyIntervention or MedicationIntervention { Supervised: true }))
            {
                c.Error($"{at}.intervention", ProblemCode.Inconsistent, $"sessions are recorded for TMS, ECT, psychotherapy and supervised esketamine/ketamine, not for '{intervention.Id}' ({Kebab.Name(intervention.Kind)})", "remove the session or point it at the right intervention");
                continue;
            }
            if (!fits)
                c.Error(at, ProblemCode.Inconsistent, $"the session's parameters do not fit a {Kebab.Name(intervention.Kind)} intervention", "use \"tms\" (with \"stage\") for TMS, \"ect\" for ECT, \"doseMg\" for esketamine/ketamine");
            if (intervention is TmsIntervention tms)
            {
                if (session.Stage is null)
                    c.Error($"{at}.stage", ProblemCode.MissingProperty, "a TMS session says which stage it belongs to", "add \"stage\": \"acute\" or \"maintenance\"");
                else if (session.Stage == TmsStage.Maintenance && tms.Maintenance is null)
                    c.Error($"{at}.stage", ProblemCode.Inconsistent, $"'{tms.Id}' has no maintenance stage", "add a maintenance schedule to the TMS course, or set the stage to acute");
            }
            var phase = protocol.PhaseOf(intervention.Id)!;
            var start = phase.Actual?.Start ?? phase.Planned.Start;
            if (start is { } s && session.Date < s)
                c.Error($"{at}.date", ProblemCode.DateOrder, $"the session on {session.Date:yyyy-MM-dd} is before phase {phase.Number} started ({s:yyyy-MM-dd})", "correct the session date or the phase start");
            if (phase.Actual?.End is { } e && session.Date > e)
                c.Error($"{at}.date", ProblemCode.DateOrder, $"the session on {session.Date:yyyy-MM-dd} is after phase {phase.Number} ended ({e:yyyy-MM-dd})", "correct the session date or the phase end");
        }
    }

    private static void CheckPhq9(TrdProtocol protocol, JsonCursor c)
    {
        var dates = new Dictionary<DateOnly, int>();
        for (var i = 0; i < protocol.Phq9.Count; i++)
        {
            var assessment = protocol.Phq9[i];
            if (!dates.TryAdd(assessment.Date, i))
                c.Error($"$.phq9[{i}].date", ProblemCode.Duplicate, $"a second PHQ-9 on {assessment.Date:yyyy-MM-dd} (first at $.phq9[{dates[assessment.Date]}])", "keep one PHQ-9 per day");
            if (assessment.SuicidalityFlag)
                c.Warning($"$.phq9[{i}].items[8]", ProblemCode.SafetySignal, $"PHQ-9 item 9 (thoughts of self-harm) scored {assessment.Items![8]} on {assessment.Date:yyyy-MM-dd}: safety signal", "a clinician must review suicide risk");
        }
    }
}
