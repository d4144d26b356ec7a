using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// Orders family, protocol → FHIR: each intervention of a phase becomes its orders (MedicationRequest, ServiceRequest with
/// <c>occurrenceTiming</c>) referenced from the phase's CarePlan activities, or an <c>activity.detail</c> where no order
/// exists (sleep / chronotherapy).
/// </summary>
internal static class OrderWriter
{
    /// <summary>Adds the orders of every intervention of <paramref name="phase"/>; returns the phase's CarePlan activities.</summary>
    public static List<CarePlan.ActivityComponent> Write(BundleWriter w, Phase phase, ResourceReference condition) =>
        phase.Interventions.SelectMany(i => MapIntervention(w, phase, i, condition)).ToList();

    private static IEnumerable<CarePlan.ActivityComponent> MapIntervention(BundleWriter w, Phase phase, Intervention intervention, ResourceReference condition)
    {
        var authored = phase.Actual?.Start ?? phase.Planned.Start;
        switch (intervention)
        {
            case MedicationIntervention m:
                yield return Activity(w.Add(MapMedication(w, m, authored, condition), m.Id, ProfileUrls.MedicationRequest));
                if (m.Supervised)
                {
                    var code = m.Role == MedicationRole.Ketamine ? Codes.KetamineAdministration : Codes.EsketamineAdministration;
                    var request = Order(w, m, authored, condition, m.Schedule, $"Supervised {Drugs.Find(m.Drug)!.Display.ToLowerInvariant()} administration", new Coding(Codes.Intervention, code, Codes.Display(m.Role) + " administration (supervised)"));
                    yield return Activity(w.Add(request, $"{m.Id}-administration", ProfileUrls.SupervisedAdministrationOrder));
                }
                break;
            case PsychotherapyIntervention t:
            {
                yield return Activity(w.Add(Order(w, t, authored, condition, t.Schedule, t.Modality switch
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
                var acute = Order(w, tms, authored, condition, tms.Acute, "rTMS acute course (daily)", new Coding(Codes.Intervention, Codes.TmsAcuteCourse, "rTMS acute course"), Codes.CptTmsSubsequent);
                ProcedureParameters.SetTms(acute, tms.Parameters);
                var acuteRef = w.Add(acute, $"{tms.Id}-acute", ProfileUrls.TmsCourse);
                yield return Activity(acuteRef);
                if (tms.Maintenance is { } schedule)
                {
                    var maintenance = Order(w, tms, authored, condition, schedule, "rTMS maintenance (weekly)", new Coding(Codes.Intervention, Codes.TmsMaintenanceCourse, "rTMS maintenance course"), Codes.CptTmsSubsequent);
                    maintenance.BasedOn = [acuteRef];
                    ProcedureParameters.SetTms(maintenance, tms.Parameters);
                    yield return Activity(w.Add(maintenance, $"{tms.Id}-maintenance", ProfileUrls.TmsCourse));
                }
                break;
            }
            case EctIntervention ect:
            {
                var order = Order(w, ect, authored, condition, ect.Schedule, "Electroconvulsive therapy course", new Coding(Codes.Intervention, Codes.EctCourse, "ECT course"), Codes.CptEct);
                order.ReasonCode = ect.Indications.Select(i => new CodeableConcept { Coding = [Codes.Project(Codes.EctIndicationSystem, i)] }).ToList();
                if (ect.Placement is { } placement)
                    order.Extension.Add(ProcedureParameters.Ect(new EctSessionParameters(placement, null, null)));
                yield return Activity(w.Add(order, ect.Id, ProfileUrls.EctCourse));
                break;
            }
            case HrvBiofeedbackIntervention hrv:
                yield return Activity(w.Add(Order(w, hrv, authored, condition, hrv.Practice, "HRV biofeedback home practice (daily)", new Coding(Codes.Intervention, Codes.HrvPractice, "HRV biofeedback home practice")), $"{hrv.Id}-practice", ProfileUrls.HrvBiofeedback));
                yield return Activity(w.Add(Order(w, hrv, authored, condition, hrv.Review, "HRV biofeedback review (weekly)", new Coding(Codes.Intervention, Codes.HrvReview, "HRV biofeedback readings review")), $"{hrv.Id}-review", ProfileUrls.HrvBiofeedback));
                break;
            case Phq9MonitoringIntervention monitoring:
                yield return Activity(w.Add(Order(w, monitoring, authored, condition, monitoring.Schedule, "PHQ-9 monitoring", new Coding(Codes.Loinc, Codes.Phq9Panel, "PHQ-9 quick depression assessment panel [Reported.PHQ]")), monitoring.Id, ProfileUrls.Phq9Monitoring));
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

    private static MedicationRequest MapMedication(BundleWriter w, MedicationIntervention m, DateOnly? authored, ResourceReference condition)
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
            Medication = BundleWriter.Medication(m.Drug),
            Subject = w.Subject,
            AuthoredOn = authored is { } a ? BundleWriter.Date(a) : null,
            ReasonReference = [condition],
            DosageInstruction =
            [
                new Dosage
                {
                    Text = $"{BundleWriter.Num(m.DoseMg)} mg {TimingMap.Describe(m.Schedule)}" + (m.Supervised ? ", supervised" : ""),
                    Timing = TimingMap.ToTiming(m.Schedule),
                    DoseAndRate = [new Dosage.DoseAndRateComponent { Dose = Codes.Ucum(m.DoseMg, "mg") }],
                },
            ],
        };
        if (m.Supervised)
            request.SetExtension(Codes.ExtSupervised, new FhirBoolean(true));
        return request;
    }

    private static ServiceRequest Order(BundleWriter w, Intervention intervention, DateOnly? authored, ResourceReference condition, Schedule schedule, string text, params Coding[] codings) => new()
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
        Subject = w.Subject,
        Occurrence = TimingMap.ToTiming(schedule),
        AuthoredOn = authored is { } a ? BundleWriter.Date(a) : null,
        ReasonReference = [condition],
    };
}
