using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// Protocol → FHIR R4 transaction Bundle. Pure: no I/O, no clock, no randomness — the same protocol always gives the same
/// Bundle. Entries come in dependency order (a resource only references entries before it), each a conditional create
/// (<c>If-None-Exist</c> on its business identifier). One writer per resource family: <see cref="PlanWriter"/> (diagnosis,
/// goals, team, prior trials, care plans), <see cref="OrderWriter"/> (interventions), <see cref="SessionWriter"/>
/// (Procedures), <see cref="Phq9Writer"/> (PHQ-9). The element-by-element traceability is docs/mapping.md.
/// </summary>
/// <summary>How PHQ-9 assessments are written: as Observations (panel, items, total), as a QuestionnaireResponse of the
/// project's PHQ-9 Questionnaire (the channel of servers such as Epic that take PHQ-9 only that way), or both — then the
/// Observations say <c>derivedFrom</c> the QuestionnaireResponse (the US Core pattern) and a reader counts the assessment once.</summary>
public enum Phq9Channel { Observation, QuestionnaireResponse, Both }

public sealed class ProtocolToFhir(Identity identity, Phq9Channel phq9 = Phq9Channel.Observation)
{
    public static ProtocolToFhir Default { get; } = new(Identity.Default);

    public Identity Identity { get; } = identity;

    public Phq9Channel Phq9 { get; } = phq9;

    public Bundle Map(TrdProtocol protocol)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        var w = new BundleWriter(protocol, Identity);
        var (condition, parent) = PlanWriter.WriteProtocol(w);
        foreach (var phase in protocol.Phases)
            PlanWriter.WritePhase(w, phase, parent, OrderWriter.Write(w, phase, condition));
        foreach (var session in protocol.Sessions)
            SessionWriter.Write(w, session);
        foreach (var assessment in protocol.Phq9)
            Phq9Writer.Write(w, assessment, Phq9);
        return w.Bundle;
    }
}
