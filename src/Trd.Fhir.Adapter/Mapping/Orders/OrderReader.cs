using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Mapping.ReadContext;
using FhirDuration = Hl7.Fhir.Model.Duration;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// Orders family, FHIR → protocol: CarePlan activities → interventions (MedicationRequest, ServiceRequest, activity.detail).
/// Remembers which order each intervention came from, so <see cref="SessionReader"/> can tie Procedures to it.
/// </summary>
internal sealed class OrderReader(ReadContext r)
{
    /// <summary>Every order read, with the intervention (and TMS stage) it belongs to.</summary>
    public Dictionary<Resource, (string InterventionId, TmsStage? Stage)> Orders { get; } = new(ReferenceEqualityComparer.Instance);

    public void ReadActivity(CarePlan.ActivityComponent activity, string at, List<Intervention> interventions)
    {
        if (activity.Detail is { } detail)
        {
            if (Has(detail.Code, Codes.Intervention, Codes.SleepChronotherapy))
            {
                var components = detail.Extension.Where(e => e.Url == Codes.ExtSleepComponent).Select(e => e.Value is Coding c && Kebab.TryParse<SleepComponent>(c.Code ?? "", out var s) ? s : (SleepComponent?)null).OfType<SleepComponent>().ToArray();
                interventions.Add(new SleepIntervention(activity.ElementId ?? "sleep", detail.Status switch
                {
                    CarePlan.CarePlanActivityStatus.InProgress => InterventionStatus.Active,
                    CarePlan.CarePlanActivityStatus.Completed => InterventionStatus.Completed,
                    CarePlan.CarePlanActivityStatus.Stopped or CarePlan.CarePlanActivityStatus.Cancelled => InterventionStatus.Stopped,
                    _ => InterventionStatus.Planned,
                }, components, detail.Description));
            }
            else
                r.Warn(at, ProblemCode.NotInterpretable, "activity detail is not an intervention Trd.Fhir knows; left out");
            return;
        }
        var target = r.Resolve(activity.Reference);
        if (target is null)
        {
            r.Warn(at, ProblemCode.UnknownReference, $"activity reference '{activity.Reference?.Reference}' is not among the resources read; left out", "pull or include the referenced order");
            return;
        }
        switch (target.Resource)
        {
            case MedicationRequest request:
                if (ReadMedication(request, target.Location) is { } medication)
                {
                    r.Use(request);
                    interventions.Add(medication);
                    Orders[request] = (medication.Id, null);
                }
                break;
            case ServiceRequest request:
                ReadServiceRequest(request, target.Location, interventions);
                break;
            default:
                r.Warn(at, ProblemCode.NotInterpretable, $"activity references a {target.Resource.TypeName}; left out");
                break;
        }
    }

    private string InterventionId(Resource resource, string fallback, params string[] suffixes)
    {
        var local = r.Local(resource) ?? fallback;
        foreach (var suffix in suffixes)
        {
            if (local.EndsWith(suffix, StringComparison.Ordinal) && local.Length > suffix.Length)
                return local[..^suffix.Length];
        }
        return local;
    }

    private static InterventionStatus StatusOf(RequestStatus? status) => status switch
    {
        RequestStatus.Active or RequestStatus.OnHold => InterventionStatus.Active,
        RequestStatus.Completed => InterventionStatus.Completed,
        RequestStatus.Revoked => InterventionStatus.Stopped,
        _ => InterventionStatus.Planned,
    };

    private MedicationIntervention? ReadMedication(MedicationRequest request, string at)
    {
        var drug = request.Medication is CodeableConcept concept ? Codes.DrugKeyOf(concept.Coding) : null;
        if (drug is null)
        {
            r.Warn(at, ProblemCode.UnknownCode, "MedicationRequest names a drug Trd.Fhir does not know; left out", "code the drug with one of the RxNorm codes in docs/mapping.md");
            return null;
        }
        var known = Drugs.Find(drug)!;
        var role = request.Category.Select(c => ProjectCode<MedicationRole>(c, Codes.MedicationRoleSystem)).FirstOrDefault(x => x is not null)
            ?? (drug == "esketamine" ? MedicationRole.Esketamine : drug == "ketamine" ? MedicationRole.Ketamine : known.IsAugmentation ? MedicationRole.Augment : MedicationRole.Continue);
        var dosage = request.DosageInstruction.FirstOrDefault();
        var dose = dosage?.DoseAndRate.Select(d => d.Dose).OfType<Quantity>().Select(TimingMap.Milligrams).FirstOrDefault(q => q is not null);
        var schedule = TimingMap.ReadTiming(r, dosage?.Timing, at);
        if (dose is null || schedule is null)
        {
            r.Warn(at, ProblemCode.NotInterpretable, "MedicationRequest has no dose in mg or no timing Trd.Fhir can read; left out", "give dosageInstruction.doseAndRate.doseQuantity (mg) and timing.repeat");
            return null;
        }
        var status = request.Status switch
        {
            MedicationRequest.MedicationrequestStatus.Active or MedicationRequest.MedicationrequestStatus.OnHold => InterventionStatus.Active,
            MedicationRequest.MedicationrequestStatus.Completed => InterventionStatus.Completed,
            MedicationRequest.MedicationrequestStatus.Stopped or MedicationRequest.MedicationrequestStatus.Cancelled => InterventionStatus.Stopped,
            _ => InterventionStatus.Planned,
        };
        var supervised = request.GetExtensionValue<FhirBoolean>(Codes.ExtSupervised)?.Value ?? false;
        return new MedicationIntervention(InterventionId(request, drug), status, drug, role, dose.Value, schedule, supervised);
    }

    private void ReadServiceRequest(ServiceRequest request, string at, List<Intervention> interventions)
    {
        var code = request.Code;
        var status = StatusOf(request.Status);
        var schedule = TimingMap.ReadTiming(r, request.Occurrence as Timing, at);
        string? id = null;
        TmsStage? stage = null;
        if (Has(code, Codes.Intervention, Codes.TmsAcuteCourse) || Has(code, Codes.Intervention, Codes.TmsMaintenanceCourse))
        {
            var acute = Has(code, Codes.Intervention, Codes.TmsAcuteCourse);
            stage = acute ? TmsStage.Acute : TmsStage.Maintenance;
            id = InterventionId(request, "tms", acute ? "-acute" : "-maintenance");
            if (schedule is null)
                return;
            var parameters = ProcedureParameters.ReadTms(request);
            var existing = interventions.OfType<TmsIntervention>().FirstOrDefault(t => t.Id == id);
            var updated = existing is null
                ? new TmsIntervention(id, status, schedule, acute ? null : schedule, parameters)
                : acute ? existing with { Acute = schedule, Status = status, Parameters = parameters ?? existing.Parameters } : existing with { Maintenance = schedule };
            Replace(interventions, existing, updated);
        }
        else if (Has(code, Codes.Intervention, Codes.HrvPractice) || Has(code, Codes.Intervention, Codes.HrvReview))
        {
            var practice = Has(code, Codes.Intervention, Codes.HrvPractice);
            id = InterventionId(request, "hrv", practice ? "-practice" : "-review");
            if (schedule is null)
                return;
            var existing = interventions.OfType<HrvBiofeedbackIntervention>().FirstOrDefault(h => h.Id == id);
            var updated = existing is null
                ? new HrvBiofeedbackIntervention(id, status, schedule, schedule)
                : practice ? existing with { Practice = schedule } : existing with { Review = schedule };
            Replace(interventions, existing, updated);
        }
        else if (Has(code, Codes.Intervention, Codes.EctCourse))
        {
            id = InterventionId(request, "ect");
            if (schedule is null)
                return;
            var indications = request.ReasonCode.Select(x => ProjectCode<EctIndication>(x, Codes.EctIndicationSystem)).OfType<EctIndication>().ToArray();
            interventions.Add(new EctIntervention(id, status, indications, ProcedureParameters.ReadEct(request)?.Placement, schedule));
        }
        else if (Has(code, Codes.Intervention, Codes.EsketamineAdministration) || Has(code, Codes.Intervention, Codes.KetamineAdministration))
        {
            // The supervised-administration order of a medication: the MedicationRequest carries the intervention.
            id = InterventionId(request, Has(code, Codes.Intervention, Codes.EsketamineAdministration) ? "esketamine" : "ketamine", "-administration");
        }
        else if (Has(code, Codes.Loinc, Codes.Phq9Panel))
        {
            id = InterventionId(request, "phq9-monitoring");
            if (schedule is null)
                return;
            interventions.Add(new Phq9MonitoringIntervention(id, status, schedule));
        }
        else if (PsychotherapyModalityOf(code) is { } modality)
        {
            id = InterventionId(request, Kebab.Name(modality));
            if (schedule is null)
                return;
            interventions.Add(new PsychotherapyIntervention(id, status, modality, schedule));
        }
        else
        {
            r.Warn(at, ProblemCode.NotInterpretable, $"ServiceRequest code '{code?.Coding.FirstOrDefault()?.Code ?? code?.Text}' is not a TRD intervention Trd.Fhir knows; left out");
            return;
        }
        r.Use(request);
        Orders[request] = (id, stage);
    }

    private static void Replace(List<Intervention> interventions, Intervention? existing, Intervention updated)
    {
        var index = existing is null ? -1 : interventions.IndexOf(existing);
        if (index >= 0)
            interventions[index] = updated;
        else if (!interventions.Contains(updated))
            interventions.Add(updated);
    }

    private static PsychotherapyModality? PsychotherapyModalityOf(CodeableConcept? code)
    {
        if (Has(code, Codes.Intervention, Codes.Ipsrt))
            return PsychotherapyModality.Ipsrt;
        return CodeIn(code, Codes.Snomed) switch
        {
            "228557008" or "183383008" => PsychotherapyModality.Cbt,
            "443730003" or "304822001" => PsychotherapyModality.Ipt,
            "75516001" or "18512000" => PsychotherapyModality.Other,
            _ => null,
        };
    }
}
