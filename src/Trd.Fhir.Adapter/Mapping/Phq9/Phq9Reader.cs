using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Mapping.ReadContext;
using FhirDuration = Hl7.Fhir.Model.Duration;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// PHQ-9 family, FHIR → protocol: the one place where PHQ-9 shapes are read (and where new ones are added). Panels with
/// hasMember or components, loose items and totals grouped by day; totals as valueInteger, valueQuantity or valueString;
/// items as LA-coded CodeableConcepts, ordinal-valued codings or numbers.
/// </summary>
internal sealed class Phq9Reader(ReadContext r)
{
    private sealed class Draft(DateOnly date, string location)
    {
        public DateOnly Date { get; } = date;
        public string Location { get; } = location;
        public int?[] Items { get; } = new int?[9];
        public int? Total { get; set; }
        public Phq9Difficulty? Difficulty { get; set; }
    }

    public IReadOnlyList<Phq9Assessment> ReadPhq9()
    {
        var observations = r.OfType<Observation>().Where(o => o.Resource.Status is not (ObservationStatus.EnteredInError or ObservationStatus.Cancelled)).ToArray();
        foreach (var (skipped, at) in r.OfType<Observation>().Except(observations))
        {
            r.Use(skipped);
            r.Warn(at, ProblemCode.NotInterpretable, $"Observation with status {Kebab.ToKebab(skipped.Status.ToString()!)} skipped");
        }
        var drafts = new List<Draft>();
        // 1. panels: members through hasMember, or components on the panel itself
        foreach (var (panel, at) in observations.Where(o => Has(o.Resource.Code, Codes.Loinc, Codes.Phq9Panel)))
        {
            if (EffectiveDate(panel.Effective) is not { } date)
            {
                r.Warn(at, ProblemCode.NotInterpretable, "PHQ-9 panel has no effective date; left out");
                continue;
            }
            r.Use(panel);
            var draft = new Draft(date, at);
            foreach (var member in panel.HasMember)
            {
                if (r.Resolve(member) is { Resource: Observation o } found)
                    Absorb(draft, o.Code, o.Value, found.Location, o);
                else
                    r.Warn(at, ProblemCode.UnknownReference, $"PHQ-9 panel member '{member.Reference}' is not among the resources read", "include the panel's member Observations");
            }
            for (var i = 0; i < panel.Component.Count; i++)
                Absorb(draft, panel.Component[i].Code, panel.Component[i].Value, $"{at}.resource.component[{i}]", null);
            if (panel.Value is not null)
                Absorb(draft, new CodeableConcept(Codes.Loinc, Codes.Phq9Total), panel.Value, at, null);
            drafts.Add(draft);
        }
        // 2. loose items and totals (no panel, or a panel without hasMember): grouped by day
        foreach (var (o, at) in observations.Where(o => !r.IsUsed(o.Resource) && IsPhq9Part(o.Resource.Code)))
        {
            if (EffectiveDate(o.Effective) is not { } date)
            {
                r.Use(o);
                r.Warn(at, ProblemCode.NotInterpretable, "PHQ-9 observation has no effective date; left out");
                continue;
            }
            var draft = drafts.FirstOrDefault(d => d.Date == date && (d.Total is null || !Has(o.Code, Codes.Loinc, Codes.Phq9Total)));
            if (draft is null)
                drafts.Add(draft = new Draft(date, at));
            Absorb(draft, o.Code, o.Value, at, o);
        }
        return Finish(drafts);
    }

    private static bool IsPhq9Part(CodeableConcept? code) =>
        Has(code, Codes.Loinc, Codes.Phq9Total) || Has(code, Codes.Loinc, Codes.Phq9DifficultyItem) || Has(code, Codes.Loinc, "44256-6")
        || Codes.Phq9Items.Any(i => Has(code, Codes.Loinc, i.Code));

    private void Absorb(Draft draft, CodeableConcept? code, DataType? value, string at, Observation? source)
    {
        if (source is not null)
            r.Use(source);
        var item = Codes.Phq9Items.Select((x, i) => (x.Code, i)).FirstOrDefault(x => Has(code, Codes.Loinc, x.Code));
        if (item.Code is not null)
        {
            var score = Score(value);
            if (score is null)
                r.Warn(at, ProblemCode.NotInterpretable, $"PHQ-9 item {item.i + 1} ({item.Code}) has no score Trd.Fhir can read (LA6568-5…LA6571-9, or 0–3)");
            else
                draft.Items[item.i] = score;
            return;
        }
        if (Has(code, Codes.Loinc, Codes.Phq9Total))
        {
            var total = Total(value);
            if (total is null)
                r.Warn(at, ProblemCode.NotInterpretable, "PHQ-9 total (44261-6) has no value Trd.Fhir can read (an integer 0–27 as valueInteger, valueQuantity or valueString)");
            else
                draft.Total = total;
            return;
        }
        if (Has(code, Codes.Loinc, Codes.Phq9DifficultyItem) || Has(code, Codes.Loinc, "44256-6"))
        {
            var answer = (value as CodeableConcept)?.Coding.Select(c => Codes.DifficultyAnswers.Select((a, i) => (a.Code, i)).FirstOrDefault(a => a.Code == c.Code)).FirstOrDefault(a => a.Code is not null);
            if (answer?.Code is null)
                r.Warn(at, ProblemCode.NotInterpretable, "PHQ-9 difficulty item has no LL359-1 answer Trd.Fhir can read");
            else
                draft.Difficulty = (Phq9Difficulty)answer.Value.i;
            return;
        }
        r.Warn(at, ProblemCode.NotInterpretable, $"'{code?.Coding.FirstOrDefault()?.Code}' is not a PHQ-9 item; left out");
    }

    private static int? Score(DataType? value)
    {
        switch (value)
        {
            case CodeableConcept concept:
                foreach (var coding in concept.Coding)
                {
                    var index = Codes.Phq9Answers.Select((a, i) => (a.Code, i)).FirstOrDefault(a => a.Code == coding.Code);
                    if (index.Code is not null)
                        return index.i;
                    var ordinal = coding.GetExtensionValue<FhirDecimal>("http://hl7.org/fhir/StructureDefinition/ordinalValue")?.Value
                        ?? coding.GetExtensionValue<FhirDecimal>("http://hl7.org/fhir/StructureDefinition/itemWeight")?.Value;
                    if (ordinal is >= 0 and <= 3 && ordinal == Math.Floor(ordinal.Value))
                        return (int)ordinal.Value;
                }
                return null;
            default:
                return Total(value) is { } n && n <= 3 ? n : null;
        }
    }

    private static int? Total(DataType? value)
    {
        decimal? number = value switch
        {
            Integer i => i.Value,
            Quantity q => q.Value,
            FhirString s when decimal.TryParse(s.Value?.Trim(), NumberStyles.Number, CultureInfo.InvariantCulture, out var d) => d,
            _ => null,
        };
        return number is >= 0 and <= 27 && number == Math.Floor(number.Value) ? (int)number.Value : null;
    }

    private List<Phq9Assessment> Finish(List<Draft> drafts)
    {
        var assessments = new List<Phq9Assessment>();
        foreach (var draft in drafts.OrderBy(d => d.Date))
        {
            if (assessments.Any(a => a.Date == draft.Date))
            {
                r.Warn(draft.Location, ProblemCode.Duplicate, $"a second PHQ-9 on {draft.Date:yyyy-MM-dd}; the first one is kept");
                continue;
            }
            var complete = draft.Items.All(i => i is not null);
            if (!complete && draft.Items.Any(i => i is not null))
                r.Warn(draft.Location, ProblemCode.NotInterpretable, $"PHQ-9 on {draft.Date:yyyy-MM-dd} has {draft.Items.Count(i => i is not null)} of 9 item scores; items left out, total kept");
            var items = complete ? draft.Items.Select(i => i!.Value).ToArray() : null;
            if (items is not null && draft.Total is { } stated && stated != items.Sum())
                r.Warn(draft.Location, ProblemCode.TotalMismatch, $"PHQ-9 on {draft.Date:yyyy-MM-dd}: stated total {stated} is not the item sum {items.Sum()}; the item sum is used");
            var total = items?.Sum() ?? draft.Total;
            if (total is null)
            {
                r.Warn(draft.Location, ProblemCode.NotInterpretable, $"PHQ-9 on {draft.Date:yyyy-MM-dd} has neither nine item scores nor a total; left out");
                continue;
            }
            assessments.Add(new Phq9Assessment(draft.Date, items, draft.Difficulty, total.Value));
        }
        return assessments;
    }
}
