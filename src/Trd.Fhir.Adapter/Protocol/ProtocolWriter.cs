using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Trd.Fhir.Adapter.Protocol;

/// <summary>
/// Writes a protocol document in its canonical form (fixed property order, defaults spelled out, totals stated), so two
/// equal protocols give byte-identical JSON. The reverse mapping's output goes through here.
/// </summary>
public static class ProtocolWriter
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Write(TrdProtocol protocol)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, Options))
        {
            w.WriteStartObject();
            w.WriteString("id", protocol.Id);
            w.WriteStartObject("patient");
            w.WriteStartObject("identifier");
            w.WriteString("system", protocol.Patient.System);
            w.WriteString("value", protocol.Patient.Value);
            w.WriteEndObject();
            if (protocol.Patient.Reference is { } reference)
                w.WriteString("reference", reference);
            w.WriteEndObject();
            if (protocol.Diagnosis is { } diagnosis)
            {
                w.WriteStartObject("diagnosis");
                if (diagnosis.Icd10Cm is { } icd)
                    w.WriteString("icd10cm", icd);
                WriteDate(w, "onset", diagnosis.Onset);
                w.WriteEndObject();
            }
            WriteArray(w, "priorTrials", protocol.PriorTrials, WriteTrial);
            WriteArray(w, "careTeam", protocol.CareTeam, (w2, m) =>
            {
                w2.WriteString("role", Kebab.Name(m.Role));
                if (m.Name is { } name)
                    w2.WriteString("name", name);
            });
            WriteArray(w, "phases", protocol.Phases, WritePhase);
            WriteArray(w, "sessions", CanonicalOrder(protocol.Sessions), WriteSession);
            WriteArray(w, "phq9", protocol.Phq9.OrderBy(a => a.Date).ToArray(), WritePhq9);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteArray<T>(Utf8JsonWriter w, string name, IReadOnlyList<T> items, Action<Utf8JsonWriter, T> writeBody)
    {
        if (items.Count == 0)
            return;
        w.WriteStartArray(name);
        foreach (var item in items)
        {
            w.WriteStartObject();
            writeBody(w, item);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>Sessions by date, then intervention, then key: the order a server returns them in does not matter.</summary>
    public static DeliveredSession[] CanonicalOrder(IEnumerable<DeliveredSession> sessions) =>
        sessions.OrderBy(s => s.Date).ThenBy(s => s.Intervention, StringComparer.Ordinal).ThenBy(s => s.Key, StringComparer.Ordinal).ToArray();

    /// <summary>Drops trailing zeros (150.0 → 150) so a value's written form does not depend on where it came from.</summary>
    public static decimal Normalize(decimal value) => value / 1.0000000000000000000000000000m;

    private static void WriteDate(Utf8JsonWriter w, string name, DateOnly? date)
    {
        if (date is { } d)
            w.WriteString(name, d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
    }

    private static void WriteTrial(Utf8JsonWriter w, PriorTrial t)
    {
        w.WriteString("drug", t.Drug);
        if (t.DailyDoseMg is { } dose)
            w.WriteNumber("dailyDoseMg", Normalize(dose));
        w.WriteNumber("weeks", t.Weeks);
        w.WriteString("outcome", Kebab.Name(t.Outcome));
    }

    private static void WritePhase(Utf8JsonWriter w, Phase p)
    {
        w.WriteNumber("number", p.Number);
        w.WriteString("status", Kebab.Name(p.Status));
        WritePeriod(w, "planned", p.Planned);
        if (p.Actual is { } actual)
            WritePeriod(w, "actual", actual);
        if (p.MinimumDuration is { } min)
        {
            w.WriteStartObject("minimumDuration");
            w.WriteNumber("value", min.Value);
            w.WriteString("unit", Kebab.Name(min.Unit));
            w.WriteEndObject();
        }
        WriteArray(w, "interventions", p.Interventions, WriteIntervention);
    }

    private static void WritePeriod(Utf8JsonWriter w, string name, DatePeriod period)
    {
        w.WriteStartObject(name);
        WriteDate(w, "start", period.Start);
        WriteDate(w, "end", period.End);
        w.WriteEndObject();
    }

    private static void WriteIntervention(Utf8JsonWriter w, Intervention i)
    {
        w.WriteString("id", i.Id);
        w.WriteString("kind", Kebab.Name(i.Kind));
        w.WriteString("status", Kebab.Name(i.Status));
        switch (i)
        {
            case MedicationIntervention m:
                w.WriteString("drug", m.Drug);
                w.WriteString("role", Kebab.Name(m.Role));
                w.WriteNumber("doseMg", Normalize(m.DoseMg));
                WriteSchedule(w, "schedule", m.Schedule);
                if (m.Supervised)
                    w.WriteBoolean("supervised", true);
                break;
            case PsychotherapyIntervention t:
                w.WriteString("modality", Kebab.Name(t.Modality));
                WriteSchedule(w, "schedule", t.Schedule);
                break;
            case TmsIntervention tms:
                WriteSchedule(w, "acute", tms.Acute);
                if (tms.Maintenance is { } maintenance)
                    WriteSchedule(w, "maintenance", maintenance);
                if (tms.Parameters is { } parameters)
                {
                    w.WriteStartObject("parameters");
                    WriteTmsParameters(w, parameters);
                    w.WriteEndObject();
                }
                break;
            case EctIntervention ect:
                WriteEnumArray(w, "indications", ect.Indications);
                if (ect.Placement is { } placement)
                    w.WriteString("placement", Kebab.Name(placement));
                WriteSchedule(w, "schedule", ect.Schedule);
                break;
            case HrvBiofeedbackIntervention hrv:
                WriteSchedule(w, "practice", hrv.Practice);
                WriteSchedule(w, "review", hrv.Review);
                break;
            case SleepIntervention sleep:
                WriteEnumArray(w, "components", sleep.Components);
                if (sleep.Description is { } description)
                    w.WriteString("description", description);
                break;
            case Phq9MonitoringIntervention monitoring:
                WriteSchedule(w, "schedule", monitoring.Schedule);
                break;
        }
    }

    private static void WriteEnumArray<T>(Utf8JsonWriter w, string name, IEnumerable<T> values) where T : struct, Enum
    {
        w.WriteStartArray(name);
        foreach (var value in values)
            w.WriteStringValue(Kebab.Name(value));
        w.WriteEndArray();
    }

    private static void WriteTmsParameters(Utf8JsonWriter w, TmsParameters p)
    {
        if (p.Target is { } target)
            w.WriteString("target", Kebab.Name(target));
        if (p.FrequencyHz is { } hz)
            w.WriteNumber("frequencyHz", Normalize(hz));
        if (p.MotorThresholdPercent is { } mt)
            w.WriteNumber("motorThresholdPercent", mt);
        if (p.Pulses is { } pulses)
            w.WriteNumber("pulses", pulses);
    }

    private static void WriteSchedule(Utf8JsonWriter w, string name, Schedule s)
    {
        w.WriteStartObject(name);
        w.WriteNumber("times", s.Times);
        if (s.TimesMax is { } max)
            w.WriteNumber("timesMax", max);
        w.WriteNumber("every", s.Every);
        w.WriteString("unit", Kebab.Name(s.Unit));
        if (s.Minutes is { } minutes)
            w.WriteNumber("minutes", minutes);
        WriteRange(w, "weeks", s.Weeks);
        WriteRange(w, "sessions", s.Sessions);
        w.WriteEndObject();
    }

    private static void WriteRange(Utf8JsonWriter w, string name, IntRange? range)
    {
        if (range is null)
            return;
        if (range.IsExact)
        {
            w.WriteNumber(name, range.Min);
            return;
        }
        w.WriteStartObject(name);
        w.WriteNumber("min", range.Min);
        w.WriteNumber("max", range.Max);
        w.WriteEndObject();
    }

    private static void WriteSession(Utf8JsonWriter w, DeliveredSession s)
    {
        if (s.Id is { } id)
            w.WriteString("id", id);
        w.WriteString("intervention", s.Intervention);
        if (s.Stage is { } stage)
            w.WriteString("stage", Kebab.Name(stage));
        WriteDate(w, "date", s.Date);
        w.WriteString("status", Kebab.Name(s.Status));
        if (s.Tms is { } tms)
        {
            w.WriteStartObject("tms");
            WriteTmsParameters(w, tms);
            w.WriteEndObject();
        }
        if (s.Ect is { } ect)
        {
            w.WriteStartObject("ect");
            if (ect.Placement is { } placement)
                w.WriteString("placement", Kebab.Name(placement));
            if (ect.ChargeMillicoulombs is { } charge)
                w.WriteNumber("chargeMillicoulombs", Normalize(charge));
            if (ect.SeizureSeconds is { } seconds)
                w.WriteNumber("seizureSeconds", seconds);
            w.WriteEndObject();
        }
        if (s.DoseMg is { } dose)
            w.WriteNumber("doseMg", Normalize(dose));
    }

    private static void WritePhq9(Utf8JsonWriter w, Phq9Assessment a)
    {
        WriteDate(w, "date", a.Date);
        if (a.Items is { } items)
        {
            w.WriteStartArray("items");
            foreach (var item in items)
                w.WriteNumberValue(item);
            w.WriteEndArray();
        }
        if (a.Difficulty is { } difficulty)
            w.WriteString("difficulty", Kebab.Name(difficulty));
        w.WriteNumber("total", a.Total);
    }
}
