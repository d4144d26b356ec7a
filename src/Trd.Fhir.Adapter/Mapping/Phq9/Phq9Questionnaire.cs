using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// The project's PHQ-9 Questionnaire (profiles/Questionnaire-trd-phq9.json is this, serialized; a test keeps the two equal)
/// and the check of a QuestionnaireResponse against it: linkIds, answer types and options, required items, enableWhen,
/// total consistent with the items. Items and answers only from CONFIRMED LOINC codes (terminology.md §1a–1b).
/// </summary>
public static class Phq9Questionnaire
{
    public const string DifficultyText = "How difficult have these problems made it for you to do your work, take care of things at home, or get along with other people";
    public const string TotalText = "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]";
    private const string OrdinalValue = "http://hl7.org/fhir/StructureDefinition/ordinalValue";

    public static Questionnaire Build()
    {
        var q = new Questionnaire
        {
            Id = "trd-phq9",
            Url = Phq9QuestionnaireResponse.Questionnaire,
            Name = "TrdPhq9",
            Title = "PHQ-9 quick depression assessment (Trd.Fhir)",
            Status = PublicationStatus.Active,
            DerivedFrom = [Phq9QuestionnaireResponse.LoincForm],
            SubjectType = [ResourceType.Patient],
            Code = [new Coding(Codes.Loinc, Codes.Phq9Panel, "PHQ-9 quick depression assessment panel [Reported.PHQ]")],
            Description = "The nine PHQ-9 items (LL358-3 answers, scored 0–3 by ordinalValue), the difficulty item (LL359-1, asked when any item is above 'Not at all') and the total (0–27, the sum of the nine items). linkIds are the LOINC item codes.",
        };
        foreach (var (code, display) in Codes.Phq9Items)
        {
            q.Item.Add(new Questionnaire.ItemComponent
            {
                LinkId = code,
                Code = [new Coding(Codes.Loinc, code, display)],
                Text = display,
                Type = Questionnaire.QuestionnaireItemType.Choice,
                Required = true,
                AnswerOption = Codes.Phq9Answers.Select((a, i) => Option(a.Code, a.Display, i)).ToList(),
            });
        }
        q.Item.Add(new Questionnaire.ItemComponent
        {
            LinkId = Codes.Phq9DifficultyItem,
            Code = [new Coding(Codes.Loinc, Codes.Phq9DifficultyItem, DifficultyText)],
            Text = DifficultyText,
            Type = Questionnaire.QuestionnaireItemType.Choice,
            Required = false,
            EnableBehavior = Questionnaire.EnableWhenBehavior.Any,
            EnableWhen = Codes.Phq9Items.Select(i => new Questionnaire.EnableWhenComponent
            {
                Question = i.Code,
                Operator = Questionnaire.QuestionnaireItemOperator.NotEqual,
                Answer = new Coding(Codes.Loinc, Codes.Phq9Answers[0].Code, Codes.Phq9Answers[0].Display),
            }).ToList(),
            AnswerOption = Codes.DifficultyAnswers.Select(a => new Questionnaire.AnswerOptionComponent { Value = new Coding(Codes.Loinc, a.Code, a.Display) }).ToList(),
        });
        q.Item.Add(new Questionnaire.ItemComponent
        {
            LinkId = Codes.Phq9Total,
            Code = [new Coding(Codes.Loinc, Codes.Phq9Total, TotalText)],
            Text = TotalText,
            Type = Questionnaire.QuestionnaireItemType.Integer,
            Required = false,
            ReadOnly = true,
        });
        return q;
    }

    private static Questionnaire.AnswerOptionComponent Option(string code, string display, int score)
    {
        var coding = new Coding(Codes.Loinc, code, display);
        coding.Extension.Add(new Extension(OrdinalValue, new FhirDecimal(score)));
        return new Questionnaire.AnswerOptionComponent { Value = coding };
    }

    /// <summary>Checks <paramref name="qr"/> against the project's Questionnaire; each problem names the linkId and its path.</summary>
    public static IReadOnlyList<Problem> Check(QuestionnaireResponse qr, string at = "QuestionnaireResponse")
    {
        ArgumentNullException.ThrowIfNull(qr);
        var problems = new List<Problem>();
        void Error(string path, string message, string hint) => problems.Add(new Problem(ProblemSeverity.Error, ProblemCode.InvalidValue, $"{at}.{path}", message, hint));
        var questionnaire = Build();
        var defined = questionnaire.Item.ToDictionary(i => i.LinkId!, StringComparer.Ordinal);
        var answers = new Dictionary<string, (DataType? Value, string Path)>(StringComparer.Ordinal);
        foreach (var (item, path) in Phq9QuestionnaireResponse.Flatten(qr.Item))
        {
            if (!defined.TryGetValue(item.LinkId ?? "", out var def))
            {
                Error(path, $"linkId '{item.LinkId}' is not an item of the PHQ-9 Questionnaire", "use the LOINC item codes as linkIds (profiles/Questionnaire-trd-phq9.json)");
                continue;
            }
            if (item.Answer.Count > 1)
                Error(path, $"linkId '{item.LinkId}' has {item.Answer.Count} answers; it takes one", "give one answer");
            var value = item.Answer.FirstOrDefault()?.Value;
            answers[item.LinkId!] = (value, path);
            if (value is null)
                continue;
            if (def.Type == Questionnaire.QuestionnaireItemType.Choice)
            {
                if (value is not Coding coding)
                    Error(path, $"linkId '{item.LinkId}' takes a valueCoding, not {value.TypeName}", "answer with one of the item's LA codes");
                else if (!def.AnswerOption.Any(o => o.Value is Coding c && c.System == coding.System && c.Code == coding.Code))
                    Error(path, $"linkId '{item.LinkId}': answer {coding.System}|{coding.Code} is not one of the item's answer options", $"one of {string.Join(", ", def.AnswerOption.Select(o => ((Coding)o.Value).Code))}");
            }
            else if (value is not Integer)
                Error(path, $"linkId '{item.LinkId}' takes a valueInteger, not {value.TypeName}", "give the total as an integer");
        }
        var scores = Codes.Phq9Items.Select(i => answers.TryGetValue(i.Code, out var a) && a.Value is Coding c ? Codes.Phq9Answers.Select((x, n) => (x.Code, n)).FirstOrDefault(x => x.Code == c.Code) : default).ToArray();
        foreach (var def in questionnaire.Item.Where(i => i.Required == true && !(answers.TryGetValue(i.LinkId!, out var a) && a.Value is not null)))
            Error("item", $"required linkId '{def.LinkId}' ({def.Text}) has no answer", "answer every one of the nine PHQ-9 items");
        var enabled = scores.Any(s => s.Code is not null && s.n > 0);
        if (answers.TryGetValue(Codes.Phq9DifficultyItem, out var difficulty) && difficulty.Value is not null && !enabled && scores.All(s => s.Code is not null))
            Error(difficulty.Path, $"linkId '{Codes.Phq9DifficultyItem}' is answered but not enabled: every item is 'Not at all' (enableWhen)", "leave the difficulty item out when no problem was checked");
        if (answers.TryGetValue(Codes.Phq9Total, out var total) && total.Value is Integer { Value: { } stated } && scores.All(s => s.Code is not null) && stated != scores.Sum(s => s.n))
            Error(total.Path, $"linkId '{Codes.Phq9Total}': the total {stated} is not the sum of the nine items ({scores.Sum(s => s.n)})", "correct the total or the items");
        return problems;
    }
}
