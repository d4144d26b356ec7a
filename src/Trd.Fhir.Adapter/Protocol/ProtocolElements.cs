using System.Text.Json;
using System.Text.RegularExpressions;

namespace Trd.Fhir.Adapter.Protocol;

/// <summary>
/// The elements of a protocol document (patient, diagnosis, prior trials, care team, phases and their interventions,
/// sessions, PHQ-9) read into the model through a <see cref="JsonCursor"/>, which records every problem with its JSON
/// path; an element with an error reads as null and the reading goes on, so that all problems are reported. The document
/// level (bytes, JSON syntax, duplicate names, line numbers) is <see cref="ProtocolReader"/>.
/// </summary>
internal static partial class ProtocolElements
{
    /// <summary>The document's root object → the protocol, or null when an element has an error (all of them reported).</summary>
    public static TrdProtocol? Read(JsonElement root, JsonCursor c)
    {
        const string at = "$";
        c.OnlyKnown(root, at, "id", "patient", "diagnosis", "priorTrials", "careTeam", "phases", "sessions", "phq9");
        var id = c.String(root, at, "id", required: true);
        if (id is not null && !ProtocolReader.IdPattern().IsMatch(id))
        {
            c.Error("$.id", ProblemCode.InvalidValue, $"'{id}' is not a valid protocol id", "use 1–64 letters, digits, '-' or '.', starting with a letter or digit");
            id = null;
        }
        var patient = ReadPatient(root, c);
        var diagnosis = c.Object(root, at, "diagnosis", required: false) is { } d ? ReadDiagnosis(d, "$.diagnosis", c) : null;
        var trials = c.Array(root, at, "priorTrials", required: false).Select(e => ReadTrial(e.Element, e.Path, c)).ToArray();
        var team = c.Array(root, at, "careTeam", required: false).Select(e => ReadMember(e.Element, e.Path, c)).ToArray();
        var phases = c.Array(root, at, "phases", required: false).Select(e => ReadPhase(e.Element, e.Path, c)).ToArray();
        var sessions = c.Array(root, at, "sessions", required: false).Select(e => ReadSession(e.Element, e.Path, c)).ToArray();
        var phq9 = c.Array(root, at, "phq9", required: false).Select(e => ReadPhq9(e.Element, e.Path, c)).ToArray();

        if (id is null || patient is null || trials.Contains(null) || team.Contains(null) || phases.Contains(null) || sessions.Contains(null) || phq9.Contains(null))
            return null;
        return new TrdProtocol(id, patient, diagnosis, trials!, team!, phases!, sessions!, phq9!);
    }

    private static PatientRef? ReadPatient(JsonElement root, JsonCursor c)
    {
        if (c.Object(root, "$", "patient", required: true) is not { } patient)
            return null;
        const string at = "$.patient";
        c.OnlyKnown(patient, at, "identifier", "reference");
        var reference = c.String(patient, at, "reference", required: false);
        if (reference is not null && !ReferencePattern().IsMatch(reference))
        {
            c.Error("$.patient.reference", ProblemCode.InvalidValue, $"'{reference}' is not a Patient reference", "write it as Patient/<id>, or leave it out and let the server find the patient by identifier");
            reference = null;
        }
        if (c.Object(patient, at, "identifier", required: true) is not { } identifier)
            return null;
        const string idAt = "$.patient.identifier";
        c.OnlyKnown(identifier, idAt, "system", "value");
        var system = c.String(identifier, idAt, "system", required: true);
        var value = c.String(identifier, idAt, "value", required: true);
        if (system is not null && !(Uri.TryCreate(system, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "urn" or "oid"))
        {
            c.Error("$.patient.identifier.system", ProblemCode.InvalidValue, $"'{system}' is not an absolute URI", "use the identifier system's URI, e.g. urn:oid:… or https://…");
            system = null;
        }
        if (value is not null && value.Any(char.IsControl))
        {
            c.Error("$.patient.identifier.value", ProblemCode.InvalidValue, "the identifier value contains control characters");
            value = null;
        }
        return system is null || value is null ? null : new PatientRef(system, value, reference);
    }

    [GeneratedRegex(@"^Patient/[A-Za-z0-9.-]{1,64}\z")]
    private static partial Regex ReferencePattern();

    private static Diagnosis? ReadDiagnosis(JsonElement e, string at, JsonCursor c)
    {
        c.OnlyKnown(e, at, "icd10cm", "onset");
        var icd = c.String(e, at, "icd10cm", required: false);
        if (icd is not null && !ProtocolChecks.Icd10CmCodes.Contains(icd))
        {
            c.Error(JsonCursor.Child(at, "icd10cm"), ProblemCode.UnknownCode, $"'{icd}' is not a supported ICD-10-CM depressive-disorder code", $"use one of: {string.Join(", ", ProtocolChecks.Icd10CmCodes)} (with the dot)");
            icd = null;
        }
        return new Diagnosis(icd, c.Date(e, at, "onset", required: false));
    }

    private static PriorTrial? ReadTrial(JsonElement e, string at, JsonCursor c)
    {
        if (!IsObject(e, at, c))
            return null;
        c.OnlyKnown(e, at, "drug", "dailyDoseMg", "weeks", "outcome");
        var drug = ReadDrug(e, at, c);
        var dose = c.Decimal(e, at, "dailyDoseMg", required: false, 0.001m, 10_000m);
        var weeks = c.Int(e, at, "weeks", required: true, 0, 520);
        var outcome = c.Enum<TrialOutcome>(e, at, "outcome", required: true);
        return drug is null || weeks is null || outcome is null ? null : new PriorTrial(drug, dose, weeks.Value, outcome.Value);
    }

    private static string? ReadDrug(JsonElement e, string at, JsonCursor c)
    {
        var drug = c.String(e, at, "drug", required: true);
        if (drug is null || Drugs.Find(drug) is not null)
            return drug;
        c.Error(JsonCursor.Child(at, "drug"), ProblemCode.UnknownCode, $"unknown drug '{drug}'", $"use one of: {string.Join(", ", Drugs.All.Select(d => d.Key))}");
        return null;
    }

    private static CareTeamMember? ReadMember(JsonElement e, string at, JsonCursor c)
    {
        if (!IsObject(e, at, c))
            return null;
        c.OnlyKnown(e, at, "role", "name");
        var role = c.Enum<CareTeamRole>(e, at, "role", required: true);
        var name = c.String(e, at, "name", required: false);
        return role is null ? null : new CareTeamMember(role.Value, name);
    }

    private static Phase? ReadPhase(JsonElement e, string at, JsonCursor c)
    {
        if (!IsObject(e, at, c))
            return null;
        c.OnlyKnown(e, at, "number", "status", "planned", "actual", "minimumDuration", "interventions");
        var number = c.Int(e, at, "number", required: true, 1, 3);
        var status = c.Enum<PhaseStatus>(e, at, "status", required: true);
        var planned = c.Object(e, at, "planned", required: true) is { } p ? ReadPeriod(p, JsonCursor.Child(at, "planned"), c, startRequired: true) : null;
        var actual = c.Object(e, at, "actual", required: false) is { } a ? ReadPeriod(a, JsonCursor.Child(at, "actual"), c, startRequired: false) : null;
        MinimumDuration? minimum = null;
        if (c.Object(e, at, "minimumDuration", required: false) is { } m)
        {
            var mAt = JsonCursor.Child(at, "minimumDuration");
            c.OnlyKnown(m, mAt, "value", "unit");
            var value = c.Int(m, mAt, "value", required: true, 1, 520);
            var unit = c.Enum<DurationUnit>(m, mAt, "unit", required: true);
            minimum = value is null || unit is null ? null : new MinimumDuration(value.Value, unit.Value);
        }
        var interventions = c.Array(e, at, "interventions", required: false)
            .Select(i => ReadIntervention(i.Element, i.Path, c, status ?? PhaseStatus.Planned)).ToArray();
        if (number is null || status is null || planned is null || interventions.Contains(null))
            return null;
        return new Phase(number.Value, status.Value, planned, actual, minimum, interventions!);
    }

    private static DatePeriod? ReadPeriod(JsonElement e, string at, JsonCursor c, bool startRequired)
    {
        c.OnlyKnown(e, at, "start", "end");
        var start = c.Date(e, at, "start", startRequired);
        var end = c.Date(e, at, "end", required: false);
        if (start is { } s && end is { } en && en < s)
        {
            c.Error(JsonCursor.Child(at, "end"), ProblemCode.DateOrder, $"end {en:yyyy-MM-dd} is before start {s:yyyy-MM-dd}", "swap the dates or correct the end date");
            return null;
        }
        return startRequired && start is null ? null : new DatePeriod(start, end);
    }

    private static Intervention? ReadIntervention(JsonElement e, string at, JsonCursor c, PhaseStatus phaseStatus)
    {
        if (!IsObject(e, at, c))
            return null;
        var kind = c.Enum<InterventionKind>(e, at, "kind", required: true);
        var id = c.String(e, at, "id", required: true);
        if (id is not null && !ProtocolReader.IdPattern().IsMatch(id))
        {
            c.Error(JsonCursor.Child(at, "id"), ProblemCode.InvalidValue, $"'{id}' is not a valid intervention id", "use 1–64 letters, digits, '-' or '.'");
            id = null;
        }
        var status = c.Enum<InterventionStatus>(e, at, "status", required: false) ?? DefaultStatus(phaseStatus);
        string[] common = ["id", "kind", "status"];
        switch (kind)
        {
            case InterventionKind.Medication:
            {
                c.OnlyKnown(e, at, [.. common, "drug", "role", "doseMg", "schedule", "supervised"]);
                var drug = ReadDrug(e, at, c);
                var role = c.Enum<MedicationRole>(e, at, "role", required: true);
                var dose = c.Decimal(e, at, "doseMg", required: true, 0.001m, 10_000m);
                var schedule = ReadSchedule(e, at, "schedule", c, required: true);
                var supervised = c.Bool(e, at, "supervised", required: false) ?? false;
                return id is null || drug is null || role is null || dose is null || schedule is null ? null
                    : new MedicationIntervention(id, status, drug, role.Value, dose.Value, schedule, supervised);
            }
            case InterventionKind.Psychotherapy:
            {
                c.OnlyKnown(e, at, [.. common, "modality", "schedule"]);
                var modality = c.Enum<PsychotherapyModality>(e, at, "modality", required: true);
                var schedule = ReadSchedule(e, at, "schedule", c, required: true);
                return id is null || modality is null || schedule is null ? null : new PsychotherapyIntervention(id, status, modality.Value, schedule);
            }
            case InterventionKind.Tms:
            {
                c.OnlyKnown(e, at, [.. common, "acute", "maintenance", "parameters"]);
                var acute = ReadSchedule(e, at, "acute", c, required: true);
                var maintenance = ReadSchedule(e, at, "maintenance", c, required: false);
                var parameters = c.Object(e, at, "parameters", required: false) is { } p ? ReadTmsParameters(p, JsonCursor.Child(at, "parameters"), c) : null;
                return id is null || acute is null ? null : new TmsIntervention(id, status, acute, maintenance, parameters);
            }
            case InterventionKind.Ect:
            {
                c.OnlyKnown(e, at, [.. common, "indications", "placement", "schedule"]);
                var indications = ReadEnumList<EctIndication>(e, at, "indications", c);
                var placement = c.Enum<ElectrodePlacement>(e, at, "placement", required: false);
                var schedule = ReadSchedule(e, at, "schedule", c, required: true);
                return id is null || schedule is null || indications.Any(i => i is null) ? null
                    : new EctIntervention(id, status, indications.Select(i => i!.Value).ToArray(), placement, schedule);
            }
            case InterventionKind.HrvBiofeedback:
            {
                c.OnlyKnown(e, at, [.. common, "practice", "review"]);
                var practice = ReadSchedule(e, at, "practice", c, required: true);
                var review = ReadSchedule(e, at, "review", c, required: true);
                return id is null || practice is null || review is null ? null : new HrvBiofeedbackIntervention(id, status, practice, review);
            }
            case InterventionKind.SleepChronotherapy:
            {
                c.OnlyKnown(e, at, [.. common, "components", "description"]);
                var components = ReadEnumList<SleepComponent>(e, at, "components", c);
                var description = c.String(e, at, "description", required: false);
                return id is null || components.Any(x => x is null) ? null
                    : new SleepIntervention(id, status, components.Select(x => x!.Value).ToArray(), description);
            }
            case InterventionKind.Phq9Monitoring:
            {
                c.OnlyKnown(e, at, [.. common, "schedule"]);
                var schedule = ReadSchedule(e, at, "schedule", c, required: true);
                return id is null || schedule is null ? null : new Phq9MonitoringIntervention(id, status, schedule);
            }
            default:
                return null;
        }
    }

    /// <summary>A required array of enum names; each item null (and reported) when it is not one of them.</summary>
    private static T?[] ReadEnumList<T>(JsonElement parent, string at, string name, JsonCursor c) where T : struct, Enum =>
        c.Array(parent, at, name, required: true).Select(i =>
        {
            if (i.Element.ValueKind == JsonValueKind.String)
                return c.EnumValue<T>(i.Element.GetString()!, i.Path);
            c.Error(i.Path, ProblemCode.WrongType, "expected a string", $"use one of: {string.Join(", ", Kebab.Names<T>())}");
            return null;
        }).ToArray();

    private static InterventionStatus DefaultStatus(PhaseStatus phase) => phase switch
    {
        PhaseStatus.Active => InterventionStatus.Active,
        PhaseStatus.Completed => InterventionStatus.Completed,
        PhaseStatus.Stopped => InterventionStatus.Stopped,
        _ => InterventionStatus.Planned,
    };

    private static Schedule? ReadSchedule(JsonElement parent, string parentAt, string name, JsonCursor c, bool required)
    {
        if (c.Object(parent, parentAt, name, required) is not { } e)
            return null;
        var at = JsonCursor.Child(parentAt, name);
        c.OnlyKnown(e, at, "times", "timesMax", "every", "unit", "minutes", "weeks", "sessions");
        var times = c.Int(e, at, "times", required: true, 1, 24);
        var timesMax = c.Int(e, at, "timesMax", required: false, 1, 24);
        var every = c.Int(e, at, "every", required: false, 1, 52) ?? 1;
        var unit = c.Enum<ScheduleUnit>(e, at, "unit", required: true);
        var minutes = c.Int(e, at, "minutes", required: false, 1, 600);
        var weeks = ReadRange(e, at, "weeks", c, 1, 520);
        var sessions = ReadRange(e, at, "sessions", c, 1, 1000);
        if (times is { } t && timesMax is { } tm && tm < t)
        {
            c.Error(JsonCursor.Child(at, "timesMax"), ProblemCode.Inconsistent, $"timesMax {tm} is below times {t}", "timesMax is the upper end of a range such as 1–2 times a week");
            return null;
        }
        return times is null || unit is null ? null : new Schedule(times.Value, timesMax, every, unit.Value, minutes, weeks, sessions);
    }

    /// <summary>A range written either as a number (exact) or as <c>{ "min": 4, "max": 6 }</c>.</summary>
    private static IntRange? ReadRange(JsonElement parent, string parentAt, string name, JsonCursor c, int min, int max)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        var at = JsonCursor.Child(parentAt, name);
        if (value.ValueKind == JsonValueKind.Number)
            return c.IntValue(value, at, min, max) is { } exact ? IntRange.Exactly(exact) : null;
        if (value.ValueKind != JsonValueKind.Object)
        {
            c.Error(at, ProblemCode.WrongType, $"expected a number or {{ \"min\": …, \"max\": … }}", $"e.g. \"{name}\": {{ \"min\": 4, \"max\": 6 }}");
            return null;
        }
        c.OnlyKnown(value, at, "min", "max");
        var low = c.Int(value, at, "min", required: true, min, max);
        var high = c.Int(value, at, "max", required: true, min, max);
        if (low is { } l && high is { } h && h < l)
        {
            c.Error(JsonCursor.Child(at, "max"), ProblemCode.Inconsistent, $"max {h} is below min {l}", "swap min and max");
            return null;
        }
        return low is null || high is null ? null : new IntRange(low.Value, high.Value);
    }

    private static TmsParameters ReadTmsParameters(JsonElement e, string at, JsonCursor c)
    {
        c.OnlyKnown(e, at, "target", "frequencyHz", "motorThresholdPercent", "pulses");
        return new TmsParameters(
            c.Enum<TmsTarget>(e, at, "target", required: false),
            c.Decimal(e, at, "frequencyHz", required: false, 0.1m, 50m),
            c.Int(e, at, "motorThresholdPercent", required: false, 50, 150),
            c.Int(e, at, "pulses", required: false, 1, 10_000));
    }

    private static DeliveredSession? ReadSession(JsonElement e, string at, JsonCursor c)
    {
        if (!IsObject(e, at, c))
            return null;
        c.OnlyKnown(e, at, "id", "intervention", "stage", "date", "status", "tms", "ect", "doseMg");
        var id = c.String(e, at, "id", required: false);
        if (id is not null && !ProtocolReader.IdPattern().IsMatch(id))
        {
            c.Error(JsonCursor.Child(at, "id"), ProblemCode.InvalidValue, $"'{id}' is not a valid session id", "use 1–64 letters, digits, '-' or '.'");
            return null;
        }
        var intervention = c.String(e, at, "intervention", required: true);
        var stage = c.Enum<TmsStage>(e, at, "stage", required: false);
        var date = c.Date(e, at, "date", required: true);
        var status = c.Enum<SessionStatus>(e, at, "status", required: true);
        var tms = c.Object(e, at, "tms", required: false) is { } t ? ReadTmsParameters(t, JsonCursor.Child(at, "tms"), c) : null;
        EctSessionParameters? ect = null;
        if (c.Object(e, at, "ect", required: false) is { } x)
        {
            var xAt = JsonCursor.Child(at, "ect");
            c.OnlyKnown(x, xAt, "placement", "chargeMillicoulombs", "seizureSeconds");
            ect = new EctSessionParameters(
                c.Enum<ElectrodePlacement>(x, xAt, "placement", required: false),
                c.Decimal(x, xAt, "chargeMillicoulombs", required: false, 1m, 1008m),
                c.Int(x, xAt, "seizureSeconds", required: false, 0, 600));
        }
        var dose = c.Decimal(e, at, "doseMg", required: false, 0.001m, 1000m);
        return intervention is null || date is null || status is null ? null
            : new DeliveredSession(id, intervention, stage, date.Value, status.Value, tms, ect, dose);
    }

    private static Phq9Assessment? ReadPhq9(JsonElement e, string at, JsonCursor c)
    {
        if (!IsObject(e, at, c))
            return null;
        c.OnlyKnown(e, at, "date", "items", "difficulty", "total");
        var date = c.Date(e, at, "date", required: true);
        int?[]? items = null;
        if (e.TryGetProperty("items", out var itemsElement) && itemsElement.ValueKind != JsonValueKind.Null)
        {
            var itemsAt = JsonCursor.Child(at, "items");
            if (itemsElement.ValueKind != JsonValueKind.Array)
                c.Error(itemsAt, ProblemCode.WrongType, "expected an array of nine item scores", "e.g. \"items\": [2, 3, 1, 2, 2, 1, 1, 0, 0]");
            else if (itemsElement.GetArrayLength() != 9)
                c.Error(itemsAt, ProblemCode.InvalidValue, $"PHQ-9 has nine items; found {itemsElement.GetArrayLength()}", "give the nine item scores (0–3) in questionnaire order");
            else
                items = itemsElement.EnumerateArray().Select((item, i) => c.IntValue(item, JsonCursor.Index(itemsAt, i), 0, 3)).ToArray();
        }
        var difficulty = c.Enum<Phq9Difficulty>(e, at, "difficulty", required: false);
        var stated = c.Int(e, at, "total", required: false, 0, 27);
        if (items is null && stated is null && !HasValue(e, "items") && !HasValue(e, "total"))
        {
            c.Error(at, ProblemCode.MissingProperty, "a PHQ-9 assessment needs its item scores or its total", "add \"items\": [nine scores 0–3] (preferred) or \"total\": 0–27");
            return null;
        }
        if (date is null || items?.Any(i => i is null) == true || (items is null && stated is null))
            return null;
        var scores = items?.Select(i => i!.Value).ToArray();
        var sum = scores?.Sum();
        if (sum is { } s && stated is { } st && s != st)
        {
            c.Error(JsonCursor.Child(at, "total"), ProblemCode.TotalMismatch, $"stated total {st} is not the sum of the items ({s})", $"correct the item scores, or set total to {s} (or leave it out)");
            return null;
        }
        return new Phq9Assessment(date.Value, scores, difficulty, sum ?? stated!.Value);
    }

    private static bool HasValue(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    private static bool IsObject(JsonElement e, string at, JsonCursor c)
    {
        if (e.ValueKind == JsonValueKind.Object)
            return true;
        c.Error(at, ProblemCode.WrongType, $"expected an object, found {e.ValueKind.ToString().ToLowerInvariant()}");
        return false;
    }
}
