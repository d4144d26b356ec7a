using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Canonical = Trd.Fhir.Profiles.Canonical;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// Every code the mapping emits. Standard codes only from the CONFIRMED rows of reference/terminology.md; where none is
/// confirmed, a code of the project's own CodeSystems (canonical base <see cref="Canonical.Base"/>). Never invent a code.
/// </summary>
public static class Codes
{
    public const string Loinc = "http://loinc.org";
    public const string Snomed = "http://snomed.info/sct";
    public const string RxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm";
    public const string Icd10Cm = "http://hl7.org/fhir/sid/icd-10-cm";
    public const string Cpt = "http://www.ama-assn.org/go/cpt";
    public const string UcumSystem = "http://unitsofmeasure.org";
    public const string ObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category";
    public const string ConditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category";
    public const string ConditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    public const string ConditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
    public const string UsCoreCarePlanCategory = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category";

    // The project's own code systems (profiles/CodeSystem-*.json). Codes are the kebab-case names of the protocol's enums.
    public static readonly string Intervention = Canonical.CodeSystem("trd-intervention");
    public static readonly string CarePlanKind = Canonical.CodeSystem("trd-careplan-kind");
    public static readonly string MedicationRoleSystem = Canonical.CodeSystem("trd-medication-role");
    public static readonly string Phq9Severity = Canonical.CodeSystem("trd-phq9-severity");
    public static readonly string Phq9Flag = Canonical.CodeSystem("trd-phq9-flag");
    public static readonly string TmsTargetSystem = Canonical.CodeSystem("trd-tms-target");
    public static readonly string EctPlacement = Canonical.CodeSystem("trd-ect-electrode-placement");
    public static readonly string EctIndicationSystem = Canonical.CodeSystem("trd-ect-indication");
    public static readonly string SleepComponentSystem = Canonical.CodeSystem("trd-sleep-component");
    public static readonly string CareTeamRoleSystem = Canonical.CodeSystem("trd-care-team-role");
    public static readonly string TrialOutcomeSystem = Canonical.CodeSystem("trd-trial-outcome");
    public static readonly string GoalSystem = Canonical.CodeSystem("trd-goal");

    // Extensions (profiles/StructureDefinition-*.json).
    public static readonly string ExtPlannedPeriod = Canonical.StructureDefinition("trd-planned-period");
    public static readonly string ExtMinimumDuration = Canonical.StructureDefinition("trd-minimum-duration");
    public static readonly string ExtSupervised = Canonical.StructureDefinition("trd-supervised-administration");
    public static readonly string ExtTmsParameters = Canonical.StructureDefinition("trd-tms-parameters");
    public static readonly string ExtEctParameters = Canonical.StructureDefinition("trd-ect-parameters");
    public static readonly string ExtAdministeredDose = Canonical.StructureDefinition("trd-administered-dose");
    public static readonly string ExtSleepComponent = Canonical.StructureDefinition("trd-sleep-component");

    // Intervention codes of the project CodeSystem trd-intervention (no confirmed standard code exists).
    public const string TmsAcuteCourse = "tms-acute-course";
    public const string TmsMaintenanceCourse = "tms-maintenance-course";
    public const string TmsSession = "tms-session";
    public const string EctCourse = "ect-course";
    public const string EctSession = "ect-session";
    public const string HrvPractice = "hrv-biofeedback-practice";
    public const string HrvReview = "hrv-biofeedback-review";
    public const string SleepChronotherapy = "sleep-chronotherapy";
    public const string Ipsrt = "ipsrt";
    public const string EsketamineAdministration = "esketamine-administration";
    public const string KetamineAdministration = "ketamine-administration";
    public const string Esketamine = "esketamine";

    // SNOMED CT (CONFIRMED, terminology.md §3a).
    public static readonly Coding TrdDisorder = new(Snomed, "1153570009", "Treatment resistant depression (disorder)");
    public static readonly Coding RightUnilateralEct = new(Snomed, "1010697006", "Right unilateral electroconvulsive therapy (procedure)");

    // CPT (CONFIRMED descriptors, terminology.md §3b).
    public static readonly Coding CptTmsInitial = new(Cpt, "90867", "Therapeutic repetitive transcranial magnetic stimulation (TMS) treatment; initial, including cortical mapping, motor threshold determination, delivery and management");
    public static readonly Coding CptTmsSubsequent = new(Cpt, "90868", "Therapeutic repetitive transcranial magnetic stimulation (TMS) treatment; subsequent delivery and management, per session");
    public static readonly Coding CptEct = new(Cpt, "90870", "Electroconvulsive therapy (includes necessary monitoring)");

    public static Coding PsychotherapyCoding(PsychotherapyModality modality) => modality switch
    {
        PsychotherapyModality.Cbt => new Coding(Snomed, "228557008", "Cognitive and behavioral therapy (regime/therapy)"),
        PsychotherapyModality.Ipt or PsychotherapyModality.Ipsrt => new Coding(Snomed, "443730003", "Interpersonal psychotherapy (regime/therapy)"),
        _ => new Coding(Snomed, "75516001", "Psychotherapy (regime/therapy)"),
    };

    /// <summary>The codings of a psychotherapy order or session: the SNOMED regime, plus the project code for IPSRT (no
    /// confirmed standard code exists for it).</summary>
    public static IEnumerable<Coding> PsychotherapyCodings(PsychotherapyModality modality)
    {
        yield return PsychotherapyCoding(modality);
        if (modality == PsychotherapyModality.Ipsrt)
            yield return new Coding(Intervention, Ipsrt, "Interpersonal and social rhythm therapy");
    }

    // LOINC PHQ-9 (CONFIRMED, terminology.md §1).
    public const string Phq9Panel = "44249-1";
    public const string Phq9Total = "44261-6";
    public const string Phq9DifficultyItem = "69722-7";

    public static readonly IReadOnlyList<(string Code, string Display)> Phq9Items =
    [
        ("44250-9", "Little interest or pleasure in doing things in last 2 weeks"),
        ("44255-8", "Feeling down, depressed, or hopeless in last 2 weeks"),
        ("44259-0", "Trouble falling or staying asleep, or sleeping too much in last 2 weeks"),
        ("44254-1", "Feeling tired or having little energy in last 2 weeks"),
        ("44251-7", "Poor appetite or overeating in last 2 weeks"),
        ("44258-2", "Feeling bad about yourself - or that you are a failure or have let yourself or your family down in last 2 weeks"),
        ("44252-5", "Trouble concentrating on things, such as reading the newspaper or watching television in last 2 weeks"),
        ("44253-3", "Moving or speaking so slowly that other people could have noticed. Or the opposite - being so fidgety or restless that you have been moving around a lot more than usual in last 2 weeks"),
        ("44260-8", "Thoughts that you would be better off dead, or of hurting yourself in some way in last 2 weeks"),
    ];

    /// <summary>LL358-3 answers, indexed by score 0–3.</summary>
    public static readonly IReadOnlyList<(string Code, string Display)> Phq9Answers =
    [
        ("LA6568-5", "Not at all"),
        ("LA6569-3", "Several days"),
        ("LA6570-1", "More than half the days"),
        ("LA6571-9", "Nearly every day"),
    ];

    /// <summary>LL359-1 answers (unscored), in the order of <see cref="Phq9Difficulty"/>.</summary>
    public static readonly IReadOnlyList<(string Code, string Display)> DifficultyAnswers =
    [
        ("LA6572-7", "Not difficult at all"),
        ("LA6573-5", "Somewhat difficult"),
        ("LA6575-0", "Very difficult"),
        ("LA6574-3", "Extremely difficult"),
    ];

    /// <summary>RxNorm codes (CONFIRMED, terminology.md §4) for every drug the protocol knows. Esketamine has no confirmed
    /// ingredient code: the SCDF "esketamine Nasal Spray" (2201623) plus the project code.</summary>
    public static IReadOnlyList<Coding> DrugCodings(string drugKey) => drugKey switch
    {
        "sertraline" => [new(RxNorm, "36437", "sertraline")],
        "escitalopram" => [new(RxNorm, "321988", "escitalopram")],
        "fluoxetine" => [new(RxNorm, "4493", "fluoxetine")],
        "citalopram" => [new(RxNorm, "2556", "citalopram")],
        "paroxetine" => [new(RxNorm, "32937", "paroxetine")],
        "venlafaxine" => [new(RxNorm, "39786", "venlafaxine")],
        "duloxetine" => [new(RxNorm, "72625", "duloxetine")],
        "bupropion" => [new(RxNorm, "42347", "bupropion")],
        "lithium-carbonate" => [new(RxNorm, "42351", "lithium carbonate")],
        "lithium" => [new(RxNorm, "6448", "lithium")],
        "quetiapine" => [new(RxNorm, "51272", "quetiapine")],
        "aripiprazole" => [new(RxNorm, "89013", "aripiprazole")],
        "ketamine" => [new(RxNorm, "6130", "ketamine")],
        "esketamine" => [new(RxNorm, "2201623", "esketamine Nasal Spray"), new(Intervention, Esketamine, "Esketamine")],
        _ => throw new ArgumentOutOfRangeException(nameof(drugKey), drugKey, "not a known drug"),
    };

    /// <summary>The drug a coding names, for reading FHIR back (RxNorm or the project code).</summary>
    public static string? DrugKeyOf(IEnumerable<Coding> codings)
    {
        foreach (var coding in codings)
        {
            foreach (var drug in Drugs.All)
            {
                if (DrugCodings(drug.Key).Any(c => c.System == coding.System && c.Code == coding.Code))
                    return drug.Key;
            }
        }
        return null;
    }

    public static readonly IReadOnlyDictionary<string, string> Icd10CmDisplays = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["F32.0"] = "Major depressive disorder, single episode, mild",
        ["F32.1"] = "Major depressive disorder, single episode, moderate",
        ["F32.2"] = "Major depressive disorder, single episode, severe without psychotic features",
        ["F32.3"] = "Major depressive disorder, single episode, severe with psychotic features",
        ["F32.4"] = "Major depressive disorder, single episode, in partial remission",
        ["F32.5"] = "Major depressive disorder, single episode, in full remission",
        ["F32.9"] = "Major depressive disorder, single episode, unspecified",
        ["F32.89"] = "Other specified depressive episodes",
        ["F32.A"] = "Depression, unspecified",
        ["F33.0"] = "Major depressive disorder, recurrent, mild",
        ["F33.1"] = "Major depressive disorder, recurrent, moderate",
        ["F33.2"] = "Major depressive disorder, recurrent severe without psychotic features",
        ["F33.3"] = "Major depressive disorder, recurrent, severe with psychotic symptoms",
        ["F33.40"] = "Major depressive disorder, recurrent, in remission, unspecified",
        ["F33.41"] = "Major depressive disorder, recurrent, in partial remission",
        ["F33.42"] = "Major depressive disorder, recurrent, in full remission",
        ["F33.8"] = "Other recurrent depressive disorders",
        ["F33.9"] = "Major depressive disorder, recurrent, unspecified",
    };

    public static Coding Project<T>(string system, T value) where T : struct, Enum => new(system, Kebab.Name(value), Display(value));

    public static string Display<T>(T value) where T : struct, Enum
    {
        var words = Kebab.Name(value).Replace('-', ' ');
        return char.ToUpperInvariant(words[0]) + words[1..];
    }

    public static Quantity Ucum(decimal value, string code, string? unit = null) =>
        new() { Value = ProtocolWriter.Normalize(value), Unit = unit ?? code, System = UcumSystem, Code = code };

    public static Quantity Score(decimal value) => Ucum(value, "{score}");
}
