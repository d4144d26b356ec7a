using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// Plans family, protocol → FHIR: the diagnosis (Condition), the remission and response Goals, the CareTeam, the prior
/// antidepressant trials (MedicationStatement), the protocol CarePlan and one CarePlan per phase (<c>partOf</c> the protocol).
/// </summary>
internal static class PlanWriter
{
    /// <summary>Adds the Condition, Goals, CareTeam, prior trials and the protocol CarePlan; returns the references to the
    /// Condition and the protocol CarePlan.</summary>
    public static (ResourceReference Condition, ResourceReference Protocol) WriteProtocol(BundleWriter w)
    {
        var p = w.Protocol;
        var condition = w.Add(MapCondition(w), "diagnosis", ProfileUrls.Condition);
        var goals = new[] { w.Add(MapRemissionGoal(w, condition), "goal-remission", ProfileUrls.Goal), w.Add(MapResponseGoal(w, condition), "goal-response", ProfileUrls.Goal) };
        var careTeam = p.CareTeam.Count > 0 ? w.Add(MapCareTeam(w), "care-team", ProfileUrls.CareTeam) : null;
        for (var i = 0; i < p.PriorTrials.Count; i++)
            w.Add(MapTrial(w, p.PriorTrials[i], condition), $"prior-trial-{i + 1}", ProfileUrls.PriorTrial);
        var parent = w.Add(MapParentPlan(w, condition, goals, careTeam), "protocol", ProfileUrls.CarePlanProtocol);
        return (condition, parent);
    }

    /// <summary>Adds the CarePlan of <paramref name="phase"/> with its activities (the orders are added before it).</summary>
    public static void WritePhase(BundleWriter w, Phase phase, ResourceReference parent, List<CarePlan.ActivityComponent> activities) =>
        w.Add(MapPhasePlan(w, phase, parent, activities), $"phase-{phase.Number}", ProfileUrls.CarePlanPhase);

    private static DateOnly? ProtocolStart(TrdProtocol p) => p.Phases.Select(ph => ph.Actual?.Start ?? ph.Planned.Start).Min();

    private static Condition MapCondition(BundleWriter w)
    {
        var p = w.Protocol;
        var code = new CodeableConcept { Coding = [Codes.TrdDisorder], Text = "Treatment-resistant depression" };
        if (p.Diagnosis?.Icd10Cm is { } icd)
            code.Coding.Add(new Coding(Codes.Icd10Cm, icd, Codes.Icd10CmDisplays[icd]));
        return new Condition
        {
            ClinicalStatus = new CodeableConcept(Codes.ConditionClinical, "active"),
            VerificationStatus = new CodeableConcept(Codes.ConditionVerification, "confirmed"),
            Category = [new CodeableConcept(Codes.ConditionCategory, "problem-list-item", "Problem List Item")],
            Code = code,
            Subject = w.Subject,
            Onset = p.Diagnosis?.Onset is { } onset ? new FhirDateTime(BundleWriter.Date(onset)) : null,
        };
    }

    private static CodeableConcept TotalMeasure() =>
        new(Codes.Loinc, Codes.Phq9Total, "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]");

    private static Goal MapRemissionGoal(BundleWriter w, ResourceReference condition) => new()
    {
        LifecycleStatus = Goal.GoalLifecycleStatus.Active,
        Description = new CodeableConcept(Codes.GoalSystem, "remission", "Remission", $"Remission: PHQ-9 total below {Phq9Scoring.RemissionBelow}"),
        Subject = w.Subject,
        Start = ProtocolStart(w.Protocol) is { } s ? new Date(BundleWriter.Date(s)) : null,
        Target =
        [
            new Goal.TargetComponent
            {
                Measure = TotalMeasure(),
                Detail = Comparator(Codes.Score(Phq9Scoring.RemissionBelow), Quantity.QuantityComparator.LessThan),
            },
        ],
        Addresses = [condition],
    };

    private static Goal MapResponseGoal(BundleWriter w, ResourceReference condition)
    {
        var p = w.Protocol;
        var goal = new Goal
        {
            LifecycleStatus = Goal.GoalLifecycleStatus.Active,
            Description = new CodeableConcept(Codes.GoalSystem, "response", "Response", $"Response: PHQ-9 total reduced by at least {Phq9Scoring.ResponseDropPercent} % from baseline"),
            Subject = w.Subject,
            Start = ProtocolStart(p) is { } s ? new Date(BundleWriter.Date(s)) : null,
            Addresses = [condition],
        };
        if (p.Phq9.Count > 0)
        {
            var baseline = p.Phq9.MinBy(a => a.Date)!.Total;
            goal.Target =
            [
                new Goal.TargetComponent
                {
                    Measure = TotalMeasure(),
                    Detail = Comparator(Codes.Score(Phq9Scoring.ResponseThreshold(baseline)), Quantity.QuantityComparator.LessOrEqual),
                },
            ];
        }
        return goal;
    }

    private static Quantity Comparator(Quantity quantity, Quantity.QuantityComparator comparator)
    {
        quantity.Comparator = comparator;
        return quantity;
    }

    private static CareTeam MapCareTeam(BundleWriter w) => new()
    {
        Status = CareTeam.CareTeamStatus.Active,
        Name = "TRD multidisciplinary team",
        Subject = w.Subject,
        Participant = w.Protocol.CareTeam.Select(m => new CareTeam.ParticipantComponent
        {
            Role = [new CodeableConcept { Coding = [Codes.Project(Codes.CareTeamRoleSystem, m.Role)] }],
            Member = m.Name is { } name ? new ResourceReference { Display = name } : null,
        }).ToList(),
    };

    private static MedicationStatement MapTrial(BundleWriter w, PriorTrial trial, ResourceReference condition) => new()
    {
        Status = MedicationStatement.MedicationStatusCodes.Completed,
        StatusReason = [new CodeableConcept { Coding = [Codes.Project(Codes.TrialOutcomeSystem, trial.Outcome)] }],
        Medication = BundleWriter.Medication(trial.Drug),
        Subject = w.Subject,
        ReasonReference = [condition],
        Dosage =
        [
            new Dosage
            {
                Timing = new Timing { Repeat = new Timing.RepeatComponent { Bounds = TimingMap.Weeks(trial.Weeks) } },
                DoseAndRate = trial.DailyDoseMg is { } dose
                    ? [new Dosage.DoseAndRateComponent { Dose = Codes.Ucum(dose, "mg") }]
                    : [],
                Text = trial.DailyDoseMg is { } d ? $"{BundleWriter.Num(d)} mg/day for {trial.Weeks} weeks" : $"{trial.Weeks} weeks",
            },
        ],
    };

    private static CarePlan MapParentPlan(BundleWriter w, ResourceReference condition, ResourceReference[] goals, ResourceReference? careTeam)
    {
        var p = w.Protocol;
        var current = p.Phases.LastOrDefault(ph => ph.Status != PhaseStatus.Planned);
        var status = p.Phases.Count == 0 ? RequestStatus.Draft
            : p.Phases.All(ph => ph.Status is PhaseStatus.Completed or PhaseStatus.Stopped) ? (p.Phases[^1].Status == PhaseStatus.Completed ? RequestStatus.Completed : RequestStatus.Revoked)
            : current is null ? RequestStatus.Draft : RequestStatus.Active;
        var starts = p.Phases.Select(ph => ph.Actual?.Start ?? ph.Planned.Start).Where(d => d is not null).ToArray();
        var ended = p.Phases.Count > 0 && p.Phases.All(ph => ph.Actual?.End is not null);
        return new CarePlan
        {
            Text = BundleWriter.Text(current is null ? "TRD treatment protocol (not started)" : $"TRD treatment protocol, phase {current.Number} of 3"),
            Status = status,
            Intent = CarePlan.CarePlanIntent.Plan,
            Category = [new CodeableConcept(Codes.UsCoreCarePlanCategory, "assess-plan"), new CodeableConcept(Codes.CarePlanKind, "protocol", "TRD protocol")],
            Title = "Treatment-resistant depression protocol",
            Subject = w.Subject,
            Period = starts.Length == 0 ? null : new Period
            {
                Start = BundleWriter.Date(starts.Min()!.Value),
                End = ended ? BundleWriter.Date(p.Phases.Max(ph => ph.Actual!.End!.Value)) : null,
            },
            Addresses = [condition],
            Goal = [.. goals],
            CareTeam = careTeam is null ? [] : [careTeam],
        };
    }

    private static CarePlan MapPhasePlan(BundleWriter w, Phase phase, ResourceReference parent, List<CarePlan.ActivityComponent> activities)
    {
        var plan = new CarePlan
        {
            Text = BundleWriter.Text($"TRD protocol phase {phase.Number}"),
            Status = phase.Status switch
            {
                PhaseStatus.Active => RequestStatus.Active,
                PhaseStatus.Completed => RequestStatus.Completed,
                PhaseStatus.Stopped => RequestStatus.Revoked,
                _ => RequestStatus.Draft,
            },
            Intent = CarePlan.CarePlanIntent.Plan,
            Category = [new CodeableConcept(Codes.UsCoreCarePlanCategory, "assess-plan"), new CodeableConcept(Codes.CarePlanKind, $"phase-{phase.Number}", $"TRD protocol phase {phase.Number}")],
            Title = $"TRD protocol phase {phase.Number}",
            Subject = w.Subject,
            PartOf = [parent],
            Period = BundleWriter.ToPeriod(phase.Actual ?? phase.Planned),
            Addresses = [w.Ref("Condition", "diagnosis")],
            Activity = activities,
        };
        plan.SetExtension(Codes.ExtPlannedPeriod, BundleWriter.ToPeriod(phase.Planned));
        if (phase.MinimumDuration is { } min)
            plan.SetExtension(Codes.ExtMinimumDuration, min.Unit == DurationUnit.Week ? TimingMap.UcumDuration(min.Value, "wk") : TimingMap.UcumDuration(min.Value, "mo"));
        return plan;
    }
}
