namespace Trd.Fhir.Profiles;

/// <summary>
/// The canonical URL of every Trd.Fhir profile (profiles/StructureDefinition-{id}.json). The mapping claims them in
/// <c>meta.profile</c>; the validator resolves them from the embedded artefacts.
/// </summary>
public static class ProfileUrls
{
    public static readonly string CarePlanProtocol = Canonical.StructureDefinition("trd-careplan-protocol");
    public static readonly string CarePlanPhase = Canonical.StructureDefinition("trd-careplan-phase");
    public static readonly string Condition = Canonical.StructureDefinition("trd-condition");
    public static readonly string Goal = Canonical.StructureDefinition("trd-goal");
    public static readonly string CareTeam = Canonical.StructureDefinition("trd-careteam");
    public static readonly string MedicationRequest = Canonical.StructureDefinition("trd-medicationrequest");
    public static readonly string PriorTrial = Canonical.StructureDefinition("trd-medicationstatement-prior-trial");
    public static readonly string TmsCourse = Canonical.StructureDefinition("trd-servicerequest-tms-course");
    public static readonly string EctCourse = Canonical.StructureDefinition("trd-servicerequest-ect-course");
    public static readonly string Psychotherapy = Canonical.StructureDefinition("trd-servicerequest-psychotherapy");
    public static readonly string HrvBiofeedback = Canonical.StructureDefinition("trd-servicerequest-hrv-biofeedback");
    public static readonly string Phq9Monitoring = Canonical.StructureDefinition("trd-servicerequest-phq9-monitoring");
    public static readonly string SupervisedAdministrationOrder = Canonical.StructureDefinition("trd-servicerequest-supervised-administration");
    public static readonly string TmsSession = Canonical.StructureDefinition("trd-procedure-tms-session");
    public static readonly string EctSession = Canonical.StructureDefinition("trd-procedure-ect-session");
    public static readonly string SupervisedAdministration = Canonical.StructureDefinition("trd-procedure-supervised-administration");
    public static readonly string PsychotherapySession = Canonical.StructureDefinition("trd-procedure-psychotherapy-session");
    public static readonly string Phq9Panel = Canonical.StructureDefinition("trd-observation-phq9-panel");
    public static readonly string Phq9Item = Canonical.StructureDefinition("trd-observation-phq9-item");
    public static readonly string Phq9Total = Canonical.StructureDefinition("trd-observation-phq9-total");
    public static readonly string Phq9Difficulty = Canonical.StructureDefinition("trd-observation-phq9-difficulty");
    public static readonly string Staging = Canonical.StructureDefinition("trd-observation-staging");
    public static readonly string TreatmentOutcome = Canonical.StructureDefinition("trd-observation-treatment-outcome");
    public static readonly string SafetySignal = Canonical.StructureDefinition("trd-flag-safety-signal");
}
