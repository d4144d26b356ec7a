using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;
using FhirDuration = Hl7.Fhir.Model.Duration;
using FhirRange = Hl7.Fhir.Model.Range;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// Protocol → FHIR R4 transaction Bundle. Pure: no I/O, no clock, no randomness — the same protocol always gives the same
/// Bundle. Entries come in dependency order (a resource only references entries before it), each a conditional create
/// (<c>If-None-Exist</c> on its business identifier). The element-by-element traceability is docs/mapping.md.
/// </summary>
public sealed class ProtocolToFhir(Identity identity)
{
    public static ProtocolToFhir Default { get; } = new(Identity.Default);

    public Identity Identity { get; } = identity;

    public Bundle Map(TrdProtocol protocol) => new Builder(protocol, Identity).Build();

    private sealed class Builder(TrdProtocol p, Identity identity)
    {
        private readonly Bundle _bundle = new() { Type = Bundle.BundleType.Transaction };
        private readonly ResourceReference _subject = Subject(p.Patient);
        private readonly Dictionary<string, string> _fullUrls = new(StringComparer.Ordinal);

        public Bundle Build()
        {
            var condition = Add(MapCondition(), "diagnosis", ProfileUrls.Condition);
            var goals = new[] { Add(MapRemissionGoal(condition), "goal-remission", ProfileUrls.Goal), Add(MapResponseGoal(condition), "goal-response", ProfileUrls.Goal) };
            var careTeam = p.CareTeam.Count > 0 ? Add(MapCareTeam(), "care-team", ProfileUrls.CareTeam) : null;
            for (var i = 0; i < p.PriorTrials.Count; i++)
                Add(MapTrial(p.PriorTrials[i], condition), $"prior-trial-{i + 1}", ProfileUrls.PriorTrial);
            var parent = Add(MapParentPlan(condition, goals, careTeam), "protocol", ProfileUrls.CarePlanProtocol);
            foreach (var phase in p.Phases)
            {
                var activities = phase.Interventions.SelectMany(i => MapIntervention(phase, i, condition)).ToList();
                Add(MapPhasePlan(phase, parent, activities), $"phase-{phase.Number}", ProfileUrls.CarePlanPhase);
            }
            foreach (var session in p.Sessions)
                Add(MapSession(session, out var profile), $"session/{session.Key}", profile);
            foreach (var assessment in p.Phq9)
                MapPhq9(assessment);
            return _bundle;
        }

        // ---- entries and references ----

        private ResourceReference Add(DomainResource resource, string local, string profile)
        {
            var entry = identity.ConditionalCreate(resource, p.Id, local, profile);
            _fullUrls[$"{resource.TypeName}/{local}"] = entry.FullUrl!;
            _bundle.Entry.Add(entry);
            return new ResourceReference(entry.FullUrl);
        }

        private ResourceReference Ref(string resourceType, string local) => new(_fullUrls[$"{resourceType}/{local}"]);

        private static ResourceReference Subject(PatientRef patient) => new()
        {
            Reference = patient.Reference ?? "Patient?" + Identity.IdentifierQuery(patient.System, patient.Value),
            Identifier = new Identifier(patient.System, patient.Value),
        };

        private static string Date(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

        private static Period? ToPeriod(DatePeriod? period) => period is null ? null
            : new Period { Start = period.Start is { } s ? Date(s) : null, End = period.End is { } e ? Date(e) : null };

        private static Narrative Text(string text) => new()
        {
            Status = Narrative.NarrativeStatus.Generated,
            Div = $"<div xmlns=\"http://www.w3.org/1999/xhtml\">{System.Net.WebUtility.HtmlEncode(text)}</div>",
        };

        private DateOnly? ProtocolStart => p.Phases.Select(ph => ph.Actual?.Start ?? ph.Planned.Start).Min();

        // ---- condition, goals, care team, prior trials ----

        private Condition MapCondition()
        {
            var code = new CodeableConcept { Coding = [Codes.TrdDisorder], Text = "Treatment-resistant depression" };
            if (p.Diagnosis?.Icd10Cm is { } icd)
                code.Coding.Add(new Coding(Codes.Icd10Cm, icd, Codes.Icd10CmDisplays[icd]));
            return new Condition
            {
                ClinicalStatus = new CodeableConcept(Codes.ConditionClinical, "active"),
                VerificationStatus = new CodeableConcept(Codes.ConditionVerification, "confirmed"),
                Category = [new CodeableConcept(Codes.ConditionCategory, "problem-list-item", "Problem List Item")],
                Code = code,
                Subject = _subject,
                Onset = p.Diagnosis?.Onset is { } onset ? new FhirDateTime(Date(onset)) : null,
            };
        }

        private Goal MapRemissionGoal(ResourceReference condition) => new()
        {
            LifecycleStatus = Goal.GoalLifecycleStatus.Active,
            Description = new CodeableConcept(Codes.GoalSystem, "remission", "Remission", "Remission: PHQ-9 total below 5"),
            Subject = _subject,
            Start = ProtocolStart is { } s ? new Date(Date(s)) : null,
            Target =
            [
                new Goal.TargetComponent
                {
                    Measure = new CodeableConcept(Codes.Loinc, Codes.Phq9Total, "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
                    Detail = Comparator(Codes.Score(5), Quantity.QuantityComparator.LessThan),
                },
            ],
            Addresses = [condition],
        };

        private Goal MapResponseGoal(ResourceReference condition)
        {
            var goal = new Goal
            {
                LifecycleStatus = Goal.GoalLifecycleStatus.Active,
                Description = new CodeableConcept(Codes.GoalSystem, "response", "Response", "Response: PHQ-9 total reduced by at least 50 % from baseline"),
                Subject = _subject,
                Start = ProtocolStart is { } s ? new Date(Date(s)) : null,
                Addresses = [condition],
            };
            if (p.Phq9.Count > 0)
            {
                var baseline = p.Phq9.MinBy(a => a.Date)!.Total;
                goal.Target =
                [
                    new Goal.TargetComponent
                    {
                        Measure = new CodeableConcept(Codes.Loinc, Codes.Phq9Total, "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
                        Detail = Comparator(Codes.Score(baseline / 2m), Quantity.QuantityComparator.LessOrEqual),
                    },
                ];
            }
            return goal;
        }

        private CareTeam MapCareTeam() => new()
        {
            Status = CareTeam.CareTeamStatus.Active,
            Name = "TRD multidisciplinary team",
            Subject = _subject,
            Participant = p.CareTeam.Select(m => new CareTeam.ParticipantComponent
            {
                Role = [new CodeableConcept { Coding = [Codes.Project(Codes.CareTeamRoleSystem, m.Role)] }],
                Member = m.Name is { } name ? new ResourceReference { Display = name } : null,
            }).ToList(),
        };

        private MedicationStatement MapTrial(PriorTrial trial, ResourceReference condition) => new()
        {
            Status = MedicationStatement.MedicationStatusCodes.Completed,
            StatusReason = [new CodeableConcept { Coding = [Codes.Project(Codes.TrialOutcomeSystem, trial.Outcome)] }],
            Medication = Medication(trial.Drug),
            Subject = _subject,
            ReasonReference = [condition],
            Dosage =
            [
                new Dosage
                {
                    Timing = new Timing { Repeat = new Timing.RepeatComponent { Bounds = Weeks(trial.Weeks) } },
                    DoseAndRate = trial.DailyDoseMg is { } dose
                        ? [new Dosage.DoseAndRateComponent { Dose = Codes.Ucum(dose, "mg") }]
                        : [],
                    Text = trial.DailyDoseMg is { } d ? $"{Num(d)} mg/day for {trial.Weeks} weeks" : $"{trial.Weeks} weeks",
                },
            ],
        };

        private static CodeableConcept Medication(string drugKey) => new()
        {
            Coding = Codes.DrugCodings(drugKey).Select(c => (Coding)c.DeepCopy()).ToList(),
            Text = Drugs.Find(drugKey)!.Display,
        };

        // ---- care plans ----

        private CarePlan MapParentPlan(ResourceReference condition, ResourceReference[] goals, ResourceReference? careTeam)
        {
            var current = p.Phases.LastOrDefault(ph => ph.Status != PhaseStatus.Planned);
            var status = p.Phases.Count == 0 ? RequestStatus.Draft
                : p.Phases.All(ph => ph.Status is PhaseStatus.Completed or PhaseStatus.Stopped) ? (p.Phases[^1].Status == PhaseStatus.Completed ? RequestStatus.Completed : RequestStatus.Revoked)
                : current is null ? RequestStatus.Draft : RequestStatus.Active;
            var starts = p.Phases.Select(ph => ph.Actual?.Start ?? ph.Planned.Start).Where(d => d is not null).ToArray();
            var ended = p.Phases.Count > 0 && p.Phases.All(ph => ph.Actual?.End is not null);
            return new CarePlan
            {
                Text = Text(current is null ? "TRD treatment protocol (not started)" : $"TRD treatment protocol, phase {current.Number} of 3"),
                Status = status,
                Intent = CarePlan.CarePlanIntent.Plan,
                Category = [new CodeableConcept(Codes.UsCoreCarePlanCategory, "assess-plan"), new CodeableConcept(Codes.CarePlanKind, "protocol", "TRD protocol")],
                Title = "Treatment-resistant depression protocol",
                Subject = _subject,
                Period = starts.Length == 0 ? null : new Period
                {
                    Start = Date(starts.Min()!.Value),
                    End = ended ? Date(p.Phases.Max(ph => ph.Actual!.End!.Value)) : null,
                },
                Addresses = [condition],
                Goal = [.. goals],
                CareTeam = careTeam is null ? [] : [careTeam],
            };
        }

        private CarePlan MapPhasePlan(Phase phase, ResourceReference parent, List<CarePlan.ActivityComponent> activities)
        {
            var plan = new CarePlan
            {
                Text = Text($"TRD protocol phase {phase.Number}"),
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
                Subject = _subject,
                PartOf = [parent],
                Period = ToPeriod(phase.Actual ?? phase.Planned),
                Addresses = [Ref("Condition", "diagnosis")],
                Activity = activities,
            };
            plan.SetExtension(Codes.ExtPlannedPeriod, ToPeriod(phase.Planned));
            if (phase.MinimumDuration is { } min)
                plan.SetExtension(Codes.ExtMinimumDuration, min.Unit == DurationUnit.Week ? UcumDuration(min.Value, "wk") : UcumDuration(min.Value, "mo"));
            return plan;
        }

        // ---- interventions → orders / activity details ----

        private IEnumerable<CarePlan.ActivityComponent> MapIntervention(Phase phase, Intervention intervention, ResourceReference condition)
        {
            var authored = phase.Actual?.Start ?? phase.Planned.Start;
            switch (intervention)
            {
                case MedicationIntervention m:
                    yield return Activity(Add(MapMedication(m, authored, condition), m.Id, ProfileUrls.MedicationRequest));
                    if (m.Supervised)
                    {
                        var code = m.Role == MedicationRole.Ketamine ? Codes.KetamineAdministration : Codes.EsketamineAdministration;
                        var request = Order(m, authored, condition, m.Schedule, $"Supervised {Drugs.Find(m.Drug)!.Display.ToLowerInvariant()} administration", new Coding(Codes.Intervention, code, Codes.Display(m.Role) + " administration (supervised)"));
                        yield return Activity(Add(request, $"{m.Id}-administration", ProfileUrls.SupervisedAdministrationOrder));
                    }
                    break;
                case PsychotherapyIntervention t:
                {
                    yield return Activity(Add(Order(t, authored, condition, t.Schedule, t.Modality switch
                    {
                        PsychotherapyModality.Cbt => "Cognitive behavioural therapy",
                        PsychotherapyModality.Ipsrt => "Interpersonal and social rhythm therapy",
                        PsychotherapyModality.Ipt => "Interpersonal psychotherapy",
                        _ => "Psychotherapy",
                    }, [.. Codes.PsychotherapyCodings(t.Modality)]), t.Id, ProfileUrls.Psychotherapy));
                    break;
                }
                case TmsIntervention tms:
                {
                    var acute = Order(tms, authored, condition, tms.Acute, "rTMS acute course (daily)", new Coding(Codes.Intervention, Codes.TmsAcuteCourse, "rTMS acute course"), Codes.CptTmsSubsequent);
                    SetTmsParameters(acute, tms.Parameters);
                    var acuteRef = Add(acute, $"{tms.Id}-acute", ProfileUrls.TmsCourse);
                    yield return Activity(acuteRef);
                    if (tms.Maintenance is { } schedule)
                    {
                        var maintenance = Order(tms, authored, condition, schedule, "rTMS maintenance (weekly)", new Coding(Codes.Intervention, Codes.TmsMaintenanceCourse, "rTMS maintenance course"), Codes.CptTmsSubsequent);
                        maintenance.BasedOn = [acuteRef];
                        SetTmsParameters(maintenance, tms.Parameters);
                        yield return Activity(Add(maintenance, $"{tms.Id}-maintenance", ProfileUrls.TmsCourse));
                    }
                    break;
                }
                case EctIntervention ect:
                {
                    var order = Order(ect, authored, condition, ect.Schedule, "Electroconvulsive therapy course", new Coding(Codes.Intervention, Codes.EctCourse, "ECT course"), Codes.CptEct);
                    order.ReasonCode = ect.Indications.Select(i => new CodeableConcept { Coding = [Codes.Project(Codes.EctIndicationSystem, i)] }).ToList();
                    if (ect.Placement is { } placement)
                        order.Extension.Add(EctParameters(new EctSessionParameters(placement, null, null)));
                    yield return Activity(Add(order, ect.Id, ProfileUrls.EctCourse));
                    break;
                }
                case HrvBiofeedbackIntervention hrv:
                    yield return Activity(Add(Order(hrv, authored, condition, hrv.Practice, "HRV biofeedback home practice (daily)", new Coding(Codes.Intervention, Codes.HrvPractice, "HRV biofeedback home practice")), $"{hrv.Id}-practice", ProfileUrls.HrvBiofeedback));
                    yield return Activity(Add(Order(hrv, authored, condition, hrv.Review, "HRV biofeedback review (weekly)", new Coding(Codes.Intervention, Codes.HrvReview, "HRV biofeedback readings review")), $"{hrv.Id}-review", ProfileUrls.HrvBiofeedback));
                    break;
                case Phq9MonitoringIntervention monitoring:
                    yield return Activity(Add(Order(monitoring, authored, condition, monitoring.Schedule, "PHQ-9 monitoring", new Coding(Codes.Loinc, Codes.Phq9Panel, "PHQ-9 quick depression assessment panel [Reported.PHQ]")), monitoring.Id, ProfileUrls.Phq9Monitoring));
                    break;
                case SleepIntervention sleep:
                    yield return SleepActivity(sleep);
                    break;
            }
        }

        private static CarePlan.ActivityComponent Activity(ResourceReference order) => new() { Reference = order };

        private static CarePlan.ActivityComponent SleepActivity(SleepIntervention sleep)
        {
            var detail = new CarePlan.DetailComponent
            {
                Code = new CodeableConcept(Codes.Intervention, Codes.SleepChronotherapy, "Sleep / chronotherapy", "Sleep / chronotherapy (when sleep is disturbed)"),
                Status = sleep.Status switch
                {
                    InterventionStatus.Active => CarePlan.CarePlanActivityStatus.InProgress,
                    InterventionStatus.Completed => CarePlan.CarePlanActivityStatus.Completed,
                    InterventionStatus.Stopped => CarePlan.CarePlanActivityStatus.Stopped,
                    _ => CarePlan.CarePlanActivityStatus.NotStarted,
                },
                Description = sleep.Description,
            };
            foreach (var component in sleep.Components)
                detail.Extension.Add(new Extension(Codes.ExtSleepComponent, Codes.Project(Codes.SleepComponentSystem, component)));
            return new CarePlan.ActivityComponent { ElementId = sleep.Id, Detail = detail };
        }

        private MedicationRequest MapMedication(MedicationIntervention m, DateOnly? authored, ResourceReference condition)
        {
            var request = new MedicationRequest
            {
                Status = m.Status switch
                {
                    InterventionStatus.Active => MedicationRequest.MedicationrequestStatus.Active,
                    InterventionStatus.Completed => MedicationRequest.MedicationrequestStatus.Completed,
                    InterventionStatus.Stopped => MedicationRequest.MedicationrequestStatus.Stopped,
                    _ => MedicationRequest.MedicationrequestStatus.Draft,
                },
                Intent = MedicationRequest.MedicationRequestIntent.Order,
                Category = [new CodeableConcept { Coding = [Codes.Project(Codes.MedicationRoleSystem, m.Role)] }],
                Medication = Medication(m.Drug),
                Subject = _subject,
                AuthoredOn = authored is { } a ? Date(a) : null,
                ReasonReference = [condition],
                DosageInstruction =
                [
                    new Dosage
                    {
                        Text = $"{Num(m.DoseMg)} mg {Describe(m.Schedule)}" + (m.Supervised ? ", supervised" : ""),
                        Timing = ToTiming(m.Schedule),
                        DoseAndRate = [new Dosage.DoseAndRateComponent { Dose = Codes.Ucum(m.DoseMg, "mg") }],
                    },
                ],
            };
            if (m.Supervised)
                request.SetExtension(Codes.ExtSupervised, new FhirBoolean(true));
            return request;
        }

        private ServiceRequest Order(Intervention intervention, DateOnly? authored, ResourceReference condition, Schedule schedule, string text, params Coding[] codings) => new()
        {
            Status = intervention.Status switch
            {
                InterventionStatus.Active => RequestStatus.Active,
                InterventionStatus.Completed => RequestStatus.Completed,
                InterventionStatus.Stopped => RequestStatus.Revoked,
                _ => RequestStatus.Draft,
            },
            Intent = RequestIntent.Order,
            Code = new CodeableConcept { Coding = [.. codings], Text = text },
            Subject = _subject,
            Occurrence = ToTiming(schedule),
            AuthoredOn = authored is { } a ? Date(a) : null,
            ReasonReference = [condition],
        };

        // ---- sessions ----

        private Procedure MapSession(DeliveredSession session, out string profile)
        {
            var intervention = p.FindIntervention(session.Intervention)!;
            profile = intervention switch
            {
                TmsIntervention => ProfileUrls.TmsSession,
                EctIntervention => ProfileUrls.EctSession,
                MedicationIntervention => ProfileUrls.SupervisedAdministration,
                _ => ProfileUrls.PsychotherapySession,
            };
            var procedure = new Procedure
            {
                Status = session.Status switch
                {
                    SessionStatus.Completed => EventStatus.Completed,
                    SessionStatus.Missed => EventStatus.NotDone,
                    _ => EventStatus.Stopped,
                },
                Subject = _subject,
                Performed = new FhirDateTime(Date(session.Date)),
            };
            switch (intervention)
            {
                case TmsIntervention tms:
                {
                    var stage = session.Stage ?? TmsStage.Acute;
                    var first = p.Sessions.Where(s => s.Intervention == tms.Id && s.Status == SessionStatus.Completed).MinBy(s => s.Date);
                    var cpt = ReferenceEquals(first, session) ? Codes.CptTmsInitial : Codes.CptTmsSubsequent;
                    procedure.Code = new CodeableConcept { Coding = [new Coding(Codes.Intervention, Codes.TmsSession, "rTMS session"), (Coding)cpt.DeepCopy()], Text = "rTMS session" };
                    procedure.BasedOn = [Ref("ServiceRequest", stage == TmsStage.Acute ? $"{tms.Id}-acute" : $"{tms.Id}-maintenance")];
                    SetTmsParameters(procedure, session.Tms);
                    break;
                }
                case EctIntervention ect:
                {
                    var codings = new List<Coding> { new(Codes.Intervention, Codes.EctSession, "ECT session"), (Coding)Codes.CptEct.DeepCopy() };
                    if ((session.Ect?.Placement ?? ect.Placement) == ElectrodePlacement.RightUnilateral)
                        codings.Add((Coding)Codes.RightUnilateralEct.DeepCopy());
                    procedure.Code = new CodeableConcept { Coding = codings, Text = "ECT session" };
                    procedure.BasedOn = [Ref("ServiceRequest", ect.Id)];
                    if (session.Ect is { } parameters)
                        procedure.Extension.Add(EctParameters(parameters));
                    break;
                }
                case MedicationIntervention m:
                {
                    var code = m.Role == MedicationRole.Ketamine ? Codes.KetamineAdministration : Codes.EsketamineAdministration;
                    var text = $"{Drugs.Find(m.Drug)!.Display} administration (supervised)";
                    procedure.Code = new CodeableConcept(Codes.Intervention, code, Codes.Display(m.Role) + " administration (supervised)", text);
                    procedure.BasedOn = [Ref("ServiceRequest", $"{m.Id}-administration")];
                    procedure.UsedCode = [Medication(m.Drug)];
                    if (session.DoseMg is { } dose)
                        procedure.SetExtension(Codes.ExtAdministeredDose, Codes.Ucum(dose, "mg"));
                    break;
                }
                case PsychotherapyIntervention t:
                {
                    procedure.Code = new CodeableConcept { Coding = [.. Codes.PsychotherapyCodings(t.Modality)], Text = "Psychotherapy session" };
                    procedure.BasedOn = [Ref("ServiceRequest", t.Id)];
                    break;
                }
            }
            return procedure;
        }

        // ---- PHQ-9 ----

        private void MapPhq9(Phq9Assessment a)
        {
            var local = $"phq9-{Date(a.Date)}";
            var members = new List<ResourceReference>();
            if (a.Items is { } items)
            {
                for (var i = 0; i < 9; i++)
                {
                    var (code, display) = Codes.Phq9Items[i];
                    var (answer, answerDisplay) = Codes.Phq9Answers[items[i]];
                    var item = Survey(a.Date, new CodeableConcept(Codes.Loinc, code, display));
                    item.Value = new CodeableConcept(Codes.Loinc, answer, answerDisplay);
                    if (i == Phq9Assessment.SuicidalityItemIndex && items[i] >= 1)
                        item.Interpretation = [new CodeableConcept(Codes.Phq9Flag, "suicidal-ideation", "Suicidal ideation reported", "PHQ-9 item 9 positive: clinician review of suicide risk required")];
                    members.Add(Add(item, $"{local}/item-{i + 1}", ProfileUrls.Phq9Item));
                }
            }
            if (a.Difficulty is { } difficulty)
            {
                var (answer, answerDisplay) = Codes.DifficultyAnswers[(int)difficulty];
                var item = Survey(a.Date, new CodeableConcept(Codes.Loinc, Codes.Phq9DifficultyItem, "How difficult have these problems made it for you to do your work, take care of things at home, or get along with other people"));
                item.Value = new CodeableConcept(Codes.Loinc, answer, answerDisplay);
                members.Add(Add(item, $"{local}/difficulty", ProfileUrls.Phq9Difficulty));
            }
            var total = Survey(a.Date, new CodeableConcept(Codes.Loinc, Codes.Phq9Total, "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"));
            total.Value = Codes.Score(a.Total);
            total.Interpretation = [new CodeableConcept { Coding = [Severity(a.Total)] }];
            members.Add(Add(total, $"{local}/total", ProfileUrls.Phq9Total));

            var panel = Survey(a.Date, new CodeableConcept(Codes.Loinc, Codes.Phq9Panel, "PHQ-9 quick depression assessment panel [Reported.PHQ]"));
            panel.HasMember = members;
            Add(panel, local, ProfileUrls.Phq9Panel);
        }

        private Observation Survey(DateOnly date, CodeableConcept code) => new()
        {
            Status = ObservationStatus.Final,
            Category = [new CodeableConcept(Codes.ObservationCategory, "survey", "Survey")],
            Code = code,
            Subject = _subject,
            Effective = new FhirDateTime(Date(date)),
        };

        public static Coding Severity(int total) => total switch
        {
            <= 4 => new Coding(Codes.Phq9Severity, "none-minimal", "None–minimal (0–4)"),
            <= 9 => new Coding(Codes.Phq9Severity, "mild", "Mild (5–9)"),
            <= 14 => new Coding(Codes.Phq9Severity, "moderate", "Moderate (10–14)"),
            <= 19 => new Coding(Codes.Phq9Severity, "moderately-severe", "Moderately severe (15–19)"),
            _ => new Coding(Codes.Phq9Severity, "severe", "Severe (20–27)"),
        };

        // ---- datatypes ----

        private static Quantity Comparator(Quantity quantity, Quantity.QuantityComparator comparator)
        {
            quantity.Comparator = comparator;
            return quantity;
        }

        private static FhirDuration UcumDuration(int value, string unit) => new() { Value = value, Unit = unit, System = Codes.UcumSystem, Code = unit };

        private static FhirDuration Weeks(int weeks) => UcumDuration(weeks, "wk");

        private static Timing ToTiming(Schedule s)
        {
            var repeat = new Timing.RepeatComponent
            {
                Frequency = s.Times,
                FrequencyMax = s.TimesMax,
                Period = s.Every,
                PeriodUnit = s.Unit == ScheduleUnit.Day ? Timing.UnitsOfTime.D : Timing.UnitsOfTime.Wk,
            };
            if (s.Minutes is { } minutes)
            {
                repeat.Duration = minutes;
                repeat.DurationUnit = Timing.UnitsOfTime.Min;
            }
            if (s.Weeks is { } weeks)
            {
                repeat.Bounds = weeks.IsExact ? Weeks(weeks.Min) : new FhirRange
                {
                    Low = Codes.Ucum(weeks.Min, "wk"),
                    High = Codes.Ucum(weeks.Max, "wk"),
                };
            }
            if (s.Sessions is { } sessions)
            {
                repeat.Count = sessions.Min;
                repeat.CountMax = sessions.IsExact ? null : sessions.Max;
            }
            return new Timing { Repeat = repeat };
        }

        private static string Describe(Schedule s)
        {
            var times = s.TimesMax is { } max ? $"{s.Times}–{max}×" : $"{s.Times}×";
            var unit = s.Unit == ScheduleUnit.Day ? "day" : "week";
            return s.Every == 1 ? $"{times} per {unit}" : $"{times} every {s.Every} {unit}s";
        }

        private static string Num(decimal value) => ProtocolWriter.Normalize(value).ToString(CultureInfo.InvariantCulture);

        private static void SetTmsParameters(DomainResource resource, TmsParameters? parameters)
        {
            if (parameters is null)
                return;
            var extension = new Extension { Url = Codes.ExtTmsParameters };
            if (parameters.Target is { } target)
                extension.Extension.Add(new Extension("target", Codes.Project(Codes.TmsTargetSystem, target)));
            if (parameters.FrequencyHz is { } hz)
                extension.Extension.Add(new Extension("frequency", Codes.Ucum(hz, "Hz")));
            if (parameters.MotorThresholdPercent is { } mt)
                extension.Extension.Add(new Extension("motorThreshold", Codes.Ucum(mt, "%")));
            if (parameters.Pulses is { } pulses)
                extension.Extension.Add(new Extension("pulses", new Integer(pulses)));
            resource.Extension.Add(extension);
        }

        private static Extension EctParameters(EctSessionParameters parameters)
        {
            var extension = new Extension { Url = Codes.ExtEctParameters };
            if (parameters.Placement is { } placement)
                extension.Extension.Add(new Extension("electrodePlacement", Codes.Project(Codes.EctPlacement, placement)));
            if (parameters.ChargeMillicoulombs is { } charge)
                extension.Extension.Add(new Extension("charge", Codes.Ucum(charge, "mC")));
            if (parameters.SeizureSeconds is { } seconds)
                extension.Extension.Add(new Extension("seizureDuration", Codes.Ucum(seconds, "s")));
            return extension;
        }
    }
}
