using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Mapping.ReadContext;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// PHQ-9 family, FHIR → protocol: the one place where PHQ-9 shapes are read, and where a new one is added. Read today:
/// QuestionnaireResponses of the PHQ-9 form (Phq9Reader.Questionnaire.cs); panels with hasMember or components; loose items
/// and totals grouped by day; totals as valueInteger, valueQuantity (unit <c>{score}</c>, <c>1</c> or none) or valueString;
/// items as LA-coded CodeableConcepts, ordinal-valued codings or numbers. Observations <c>derivedFrom</c> a
/// QuestionnaireResponse that is read are linked to it, not counted twice. Every item 9 ≥ 1 becomes a
/// <see cref="Phq9SafetySignal"/>, also when the rest of its assessment cannot be used; an item 9 that cannot be read is
/// reported as such.
/// </summary>
internal sealed partial class Phq9Reader(ReadContext r)
{
    private readonly List<Phq9SafetySignal> _signals = [];

    private sealed class Draft(DateOnly date, string location, string source)
    {
        public DateOnly Date { get; } = date;
        public string Location { get; } = location;
        public string Source { get; } = source;
        public int?[] Items { get; } = new int?[9];
        public int? Total { get; set; }
        public Phq9Difficulty? Difficulty { get; set; }
    }

    /// <summary>Every PHQ-9 with item 9 ≥ 1 met while reading (after <see cref="ReadPhq9"/>), oldest first.</summary>
    public IReadOnlyList<Phq9SafetySignal> SafetySignals => _signals;

    public IReadOnlyList<Phq9Assessment> ReadPhq9()
    {
        var observations = r.OfType<Observation>().Where(o => o.Resource.Status is not (ObservationStatus.EnteredInError or ObservationStatus.Cancelled)).ToArray();
        foreach (var (skipped, at) in r.OfType<Observation>().Except(observations))
        {
            r.Use(skipped);
            r.Warn(at, ProblemCode.NotInterpretable, $"Observation with status {Kebab.ToKebab(skipped.Status.ToString()!)} skipped");
        }
        var drafts = new List<Draft>();
        // 0. QuestionnaireResponses of the PHQ-9 form; Observations derived from one that is read are linked, not counted again
        var responses = ReadResponses(drafts);
        foreach (var (o, at) in observations.Where(o => o.Resource.DerivedFrom.Any(d => r.Resolve(d) is { Resource: QuestionnaireResponse qr } && responses.Contains(qr))))
            r.Use(o);
        // 1. panels: members through hasMember, or components on the panel itself
        foreach (var (panel, at) in observations.Where(o => !r.IsUsed(o.Resource) && Has(o.Resource.Code, Codes.Loinc, Codes.Phq9Panel)))
        {
            if (Date(panel.Effective, at) is not { } date)
            {
                r.Warn(at, ProblemCode.NotInterpretable, "PHQ-9 panel has no effective date; left out");
                continue;
            }
            r.Use(panel);
            var draft = new Draft(date, at, "Observation panel");
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
            if (Date(o.Effective, at) is not { } date)
            {
                r.Use(o);
                r.Warn(at, ProblemCode.NotInterpretable, "PHQ-9 observation has no effective date; left out");
                continue;
            }
            var draft = drafts.FirstOrDefault(d => d.Date == date && d.Source != QrSource && (d.Total is null || !Has(o.Code, Codes.Loinc, Codes.Phq9Total)));
            if (draft is null)
                drafts.Add(draft = new Draft(date, at, "Observations"));
            Absorb(draft, o.Code, o.Value, at, o);
        }
        return Finish(drafts);
    }

    /// <summary>
    /// The date of an effective[x] or authored value at its precision: a full date as is; a month (<c>2025-03</c>) or a year
    /// is read as its first day and reported; a Period with only an end is read at its end.
    /// </summary>
    private DateOnly? Date(DataType? effective, string at)
    {
        var text = effective switch
        {
            FhirDateTime dt => dt.Value,
            Period p => p.Start ?? p.End,
            _ => null,
        };
        if (effective is Instant { Value: { } instant })
            return DateOnly.FromDateTime(instant.UtcDateTime);
        if (text is null)
            return null;
        if (ToDate(text) is { } day)
            return day;
        if (PartialDate(text) is not { } partial)
            return null;
        r.Warn(at, ProblemCode.InvalidValue, $"the PHQ-9 date '{text}' is only known to the {(text.Length == 7 ? "month" : "year")}; read as {partial:yyyy-MM-dd}, so its age and order are only that precise", "record the day of the assessment");
        return partial;
    }

    private static DateOnly? PartialDate(string text) =>
        text.Length == 7 && DateOnly.TryParseExact(text + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var month) ? month
        : text.Length == 4 && DateOnly.TryParseExact(text + "-01-01", "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var year) ? year
        : null;

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
            AbsorbItem(draft, item.i, value, at);
            return;
        }
        if (Has(code, Codes.Loinc, Codes.Phq9Total))
        {
            AbsorbTotal(draft, value, at);
            return;
        }
        if (Has(code, Codes.Loinc, Codes.Phq9DifficultyItem) || Has(code, Codes.Loinc, "44256-6"))
        {
            AbsorbDifficulty(draft, (value as CodeableConcept)?.Coding ?? (value is Coding c ? [c] : []), at);
            return;
        }
        r.Warn(at, ProblemCode.NotInterpretable, $"'{code?.Coding.FirstOrDefault()?.Code}' is not a PHQ-9 item; left out");
    }

    private void AbsorbItem(Draft draft, int index, DataType? value, string at)
    {
        var score = Score(value);
        if (score is not null)
        {
            draft.Items[index] = score;
            return;
        }
        var code = Codes.Phq9Items[index].Code;
        if (index == Phq9Assessment.SuicidalityItemIndex)
            r.Warn(at, ProblemCode.SafetySignal, $"PHQ-9 item 9 ({code}, thoughts of self-harm) on {draft.Date:yyyy-MM-dd} has no score Trd.Fhir can read: whether there is a safety signal cannot be told", "a clinician must check item 9 in the source record");
        else
            r.Warn(at, ProblemCode.NotInterpretable, $"PHQ-9 item {index + 1} ({code}) has no score Trd.Fhir can read (LA6568-5…LA6571-9, or 0–3)");
    }

    private void AbsorbTotal(Draft draft, DataType? value, string at)
    {
        if (value is Quantity { Comparator: { } comparator } q)
        {
            r.Warn(at, ProblemCode.InvalidValue, $"the PHQ-9 total on {draft.Date:yyyy-MM-dd} is '{Comparators.Symbol(comparator)}{q.Value?.ToString(CultureInfo.InvariantCulture)}', a bound, not a score: it is reported here and not used as a total", "record the exact total (or the nine items)");
            return;
        }
        if (value is Quantity quantity && !IsScoreUnit(quantity))
        {
            r.Warn(at, ProblemCode.InvalidValue, $"the PHQ-9 total on {draft.Date:yyyy-MM-dd} has the unit '{quantity.Code ?? quantity.Unit}', which is not a score; left out", "a PHQ-9 total has the UCUM unit {score} or 1 (or the unit text score/points), or no unit");
            return;
        }
        var total = Total(value);
        if (total is null)
            r.Warn(at, ProblemCode.NotInterpretable, $"PHQ-9 total (44261-6) has no value Trd.Fhir can read (an integer 0–{Phq9Scoring.MaxTotal} as valueInteger, valueQuantity or valueString)");
        else
            draft.Total = total;
    }

    private void AbsorbDifficulty(Draft draft, IEnumerable<Coding> codings, string at)
    {
        var answer = codings.Select(c => Codes.DifficultyAnswers.Select((a, i) => (a.Code, i)).FirstOrDefault(a => a.Code == c.Code)).FirstOrDefault(a => a.Code is not null);
        if (answer.Code is null)
            r.Warn(at, ProblemCode.NotInterpretable, "PHQ-9 difficulty item has no LL359-1 answer Trd.Fhir can read");
        else
            draft.Difficulty = (Phq9Difficulty)answer.i;
    }

    /// <summary>A score unit: UCUM <c>{score}</c> or <c>1</c>, or no unit at all.</summary>
    /// <summary>A unit a score can have: UCUM unity (<c>1</c>) or any UCUM annotation (<c>{score}</c>, <c>{points}</c>: curly
    /// braces are dimensionless in UCUM); without a code, no unit or the unit text other systems send for a score
    /// (<c>score</c>, <c>points</c>). Anything else — <c>%</c>, <c>mg</c>, a non-UCUM system — is not a score.</summary>
    private static bool IsScoreUnit(Quantity q)
    {
        if (q.System is { Length: > 0 } system && system != Codes.UcumSystem)
            return false;
        if (q.Code is { Length: > 0 } code)
            return IsUnity(code);
        return q.Unit is null || IsUnity(q.Unit.Trim()) || ScoreUnitTexts.Contains(q.Unit.Trim());
    }

    private static bool IsUnity(string ucum) =>
        ucum is "" or "1" || (ucum.Length > 2 && ucum[0] == '{' && ucum[^1] == '}' && ucum.IndexOfAny(['{', '}'], 1, ucum.Length - 2) < 0);

    private static readonly HashSet<string> ScoreUnitTexts = new(StringComparer.OrdinalIgnoreCase) { "score", "scores", "point", "points", "pts" };

    private static int? Score(DataType? value)
    {
        switch (value)
        {
            case CodeableConcept concept:
                return concept.Coding.Select(ScoreOf).FirstOrDefault(s => s is not null);
            case Coding coding:
                return ScoreOf(coding);
            case Quantity q when !IsScoreUnit(q) || q.Comparator is not null:
                return null;
            default:
                return Total(value) is { } n && n <= Phq9Scoring.MaxItemScore ? n : null;
        }
    }

    private static int? ScoreOf(Coding coding)
    {
        var index = Codes.Phq9Answers.Select((a, i) => (a.Code, i)).FirstOrDefault(a => a.Code == coding.Code);
        if (index.Code is not null)
            return index.i;
        var ordinal = coding.GetExtensionValue<FhirDecimal>("http://hl7.org/fhir/StructureDefinition/ordinalValue")?.Value
            ?? coding.GetExtensionValue<FhirDecimal>("http://hl7.org/fhir/StructureDefinition/itemWeight")?.Value;
        return ordinal is >= 0 and <= Phq9Scoring.MaxItemScore && ordinal == Math.Floor(ordinal.Value) ? (int)ordinal.Value : null;
    }

    private static int? Total(DataType? value)
    {
        decimal? number = value switch
        {
            Integer i => i.Value,
            FhirDecimal d => d.Value,
            Quantity { Comparator: null } q => q.Value,
            FhirString s when decimal.TryParse(s.Value?.Trim(), NumberStyles.Number, CultureInfo.InvariantCulture, out var d) => d,
            _ => null,
        };
        return number is >= 0 and <= Phq9Scoring.MaxTotal && number == Math.Floor(number.Value) ? (int)number.Value : null;
    }

    private List<Phq9Assessment> Finish(List<Draft> drafts)
    {
        var assessments = new List<Phq9Assessment>();
        foreach (var draft in drafts.OrderBy(d => d.Date))
        {
            if (draft.Items[Phq9Assessment.SuicidalityItemIndex] is { } item9 && Phq9Scoring.IsSafetySignal(item9))
                _signals.Add(new Phq9SafetySignal(draft.Date, item9, draft.Items.All(i => i is not null) ? draft.Items.Sum() : draft.Total, draft.Location));
            if (assessments.Any(a => a.Date == draft.Date))
            {
                r.Warn(draft.Location, ProblemCode.Duplicate, $"a second PHQ-9 on {draft.Date:yyyy-MM-dd}; the first one is kept");
                continue;
            }
            var complete = draft.Items.All(i => i is not null);
            if (!complete && draft.Items.Any(i => i is not null))
                r.Warn(draft.Location, ProblemCode.NotInterpretable, $"PHQ-9 on {draft.Date:yyyy-MM-dd} has {draft.Items.Count(i => i is not null)} of 9 item scores; items left out" + (draft.Total is null ? "" : ", total kept"));
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
