using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>Sessions family, protocol → FHIR: each delivered session becomes a Procedure <c>basedOn</c> its course order.</summary>
internal static class SessionWriter
{
    public static void Write(BundleWriter w, DeliveredSession session) =>
        w.Add(MapSession(w, session, out var profile), $"session/{session.Key}", profile);

    private static Procedure MapSession(BundleWriter w, DeliveredSession session, out string profile)
    {
        var p = w.Protocol;
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
            Subject = w.Subject,
            Performed = new FhirDateTime(BundleWriter.Date(session.Date)),
        };
        switch (intervention)
        {
            case TmsIntervention tms:
            {
                var stage = session.Stage ?? TmsStage.Acute;
                var first = p.Sessions.Where(s => s.Intervention == tms.Id && s.Status == SessionStatus.Completed).MinBy(s => s.Date);
                var cpt = ReferenceEquals(first, session) ? Codes.CptTmsInitial : Codes.CptTmsSubsequent;
                procedure.Code = new CodeableConcept { Coding = [new Coding(Codes.Intervention, Codes.TmsSession, "rTMS session"), (Coding)cpt.DeepCopy()], Text = "rTMS session" };
                procedure.BasedOn = [w.Ref("ServiceRequest", stage == TmsStage.Acute ? $"{tms.Id}-acute" : $"{tms.Id}-maintenance")];
                ProcedureParameters.SetTms(procedure, session.Tms);
                break;
            }
            case EctIntervention ect:
            {
                var codings = new List<Coding> { new(Codes.Intervention, Codes.EctSession, "ECT session"), (Coding)Codes.CptEct.DeepCopy() };
                if ((session.Ect?.Placement ?? ect.Placement) == ElectrodePlacement.RightUnilateral)
                    codings.Add((Coding)Codes.RightUnilateralEct.DeepCopy());
                procedure.Code = new CodeableConcept { Coding = codings, Text = "ECT session" };
                procedure.BasedOn = [w.Ref("ServiceRequest", ect.Id)];
                if (session.Ect is { } parameters)
                    procedure.Extension.Add(ProcedureParameters.Ect(parameters));
                break;
            }
            case MedicationIntervention m:
            {
                var code = m.Role == MedicationRole.Ketamine ? Codes.KetamineAdministration : Codes.EsketamineAdministration;
                var text = $"{Drugs.Find(m.Drug)!.Display} administration (supervised)";
                procedure.Code = new CodeableConcept(Codes.Intervention, code, Codes.Display(m.Role) + " administration (supervised)", text);
                procedure.BasedOn = [w.Ref("ServiceRequest", $"{m.Id}-administration")];
                procedure.UsedCode = [BundleWriter.Medication(m.Drug)];
                if (session.DoseMg is { } dose)
                    procedure.SetExtension(Codes.ExtAdministeredDose, Codes.Ucum(dose, "mg"));
                break;
            }
            case PsychotherapyIntervention t:
            {
                procedure.Code = new CodeableConcept { Coding = [.. Codes.PsychotherapyCodings(t.Modality)], Text = "Psychotherapy session" };
                procedure.BasedOn = [w.Ref("ServiceRequest", t.Id)];
                break;
            }
        }
        return procedure;
    }
}
