using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Mapping.ReadContext;
using FhirDuration = Hl7.Fhir.Model.Duration;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>Sessions family, FHIR → protocol: Procedures <c>basedOn</c> a known course order → delivered sessions.</summary>
internal sealed class SessionReader(ReadContext r)
{
    public IReadOnlyList<DeliveredSession> ReadSessions(IReadOnlyDictionary<Resource, (string InterventionId, TmsStage? Stage)> orders)
    {
        var sessions = new List<DeliveredSession>();
        foreach (var (procedure, at) in r.OfType<Procedure>())
        {
            if (procedure.Status is EventStatus.EnteredInError)
            {
                r.Use(procedure);
                r.Warn(at, ProblemCode.NotInterpretable, "Procedure with status entered-in-error skipped");
                continue;
            }
            var order = procedure.BasedOn.Select(r.Resolve).FirstOrDefault(o => o is not null && orders.ContainsKey(o.Resource));
            var date = procedure.Performed switch
            {
                FhirDateTime dt => ToDate(dt.Value),
                Period p => ToDate(p.Start),
                _ => null,
            };
            if (order is null || date is null)
            {
                r.Warn(at, ProblemCode.NotInterpretable, "Procedure is not a session of a known TRD order (basedOn) or has no performed date; left out", "set basedOn to the course's ServiceRequest and performedDateTime");
                continue;
            }
            r.Use(procedure);
            var (interventionId, stage) = orders[order.Resource];
            var status = procedure.Status switch
            {
                EventStatus.Completed => SessionStatus.Completed,
                EventStatus.NotDone => SessionStatus.Missed,
                _ => SessionStatus.Stopped,
            };
            var local = r.Local(procedure);
            var key = local?.StartsWith("session/", StringComparison.Ordinal) == true ? local["session/".Length..] : null;
            var dose = procedure.GetExtensionValue<Quantity>(Codes.ExtAdministeredDose) is { } q ? TimingMap.Milligrams(q) : null;
            var session = new DeliveredSession(null, interventionId, stage, date.Value, status, ProcedureParameters.ReadTms(procedure), ProcedureParameters.ReadEct(procedure), dose is { } d ? ProtocolWriter.Normalize(d) : null);
            if (key is not null && key != session.Key)
                session = session with { Id = key };
            sessions.Add(session);
        }
        return ProtocolWriter.CanonicalOrder(sessions);
    }
}
