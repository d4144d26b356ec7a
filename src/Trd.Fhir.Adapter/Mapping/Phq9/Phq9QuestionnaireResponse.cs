using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Canonical = Trd.Fhir.Profiles.Canonical;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// The PHQ-9 as a QuestionnaireResponse, both ways: the write channel for servers that take PHQ-9 only as a
/// QuestionnaireResponse (Epic's QuestionnaireResponse.Create), and the helpers the reader uses. Written against the
/// project's Questionnaire (<see cref="Phq9Questionnaire"/>, shipped as profiles/Questionnaire-trd-phq9.json): linkIds are
/// the LOINC item codes, answers LL358-3 / LL359-1 LA codes, the total (44261-6) an integer.
/// </summary>
public static class Phq9QuestionnaireResponse
{
    /// <summary>LOINC's own FHIR Questionnaire of the PHQ-9 form (terminology.md §1b).</summary>
    public const string LoincForm = "http://loinc.org/q/44249-1";

    /// <summary>The canonical of the project's PHQ-9 Questionnaire.</summary>
    public static readonly string Questionnaire = $"{Canonical.Base}/Questionnaire/trd-phq9";

    /// <summary>The QuestionnaireResponse of one assessment for <paramref name="subject"/> (status completed, authored on its date).</summary>
    public static QuestionnaireResponse Write(Phq9Assessment assessment, ResourceReference subject)
    {
        ArgumentNullException.ThrowIfNull(assessment);
        var qr = new QuestionnaireResponse
        {
            Questionnaire = Questionnaire,
            Status = QuestionnaireResponse.QuestionnaireResponseStatus.Completed,
            Subject = (ResourceReference)subject.DeepCopy(),
            Authored = BundleWriter.Date(assessment.Date),
        };
        if (assessment.Items is { } items)
        {
            for (var i = 0; i < 9; i++)
            {
                var (answer, display) = Codes.Phq9Answers[items[i]];
                qr.Item.Add(Answered(Codes.Phq9Items[i].Code, Codes.Phq9Items[i].Display, new Coding(Codes.Loinc, answer, display)));
            }
        }
        if (assessment.Difficulty is { } difficulty)
        {
            var (answer, display) = Codes.DifficultyAnswers[(int)difficulty];
            qr.Item.Add(Answered(Codes.Phq9DifficultyItem, Phq9Questionnaire.DifficultyText, new Coding(Codes.Loinc, answer, display)));
        }
        qr.Item.Add(Answered(Codes.Phq9Total, Phq9Questionnaire.TotalText, new Integer(assessment.Total)));
        return qr;
    }

    private static QuestionnaireResponse.ItemComponent Answered(string linkId, string text, DataType value) => new()
    {
        LinkId = linkId,
        Text = text,
        Answer = [new QuestionnaireResponse.AnswerComponent { Value = value }],
    };

    /// <summary>Every item of a response, groups and nested answers included, with its path (<c>item[2].item[0]</c>).</summary>
    public static IEnumerable<(QuestionnaireResponse.ItemComponent Item, string Path)> Flatten(IEnumerable<QuestionnaireResponse.ItemComponent> items, string prefix = "")
    {
        var i = 0;
        foreach (var item in items)
        {
            var path = $"{prefix}item[{i++}]";
            yield return (item, path);
            foreach (var nested in Flatten(item.Item, path + "."))
                yield return nested;
            for (var a = 0; a < item.Answer.Count; a++)
            {
                foreach (var nested in Flatten(item.Answer[a].Item, $"{path}.answer[{a}]."))
                    yield return nested;
            }
        }
    }

    /// <summary>The LOINC code a linkId stands for: the code itself (<c>44250-9</c>) or a form's path-style linkId (<c>/44250-9</c>,
    /// <c>/44249-1/44250-9</c>); null when it is none of the PHQ-9's items, difficulty or total.</summary>
    public static string? LoincCodeOf(string? linkId)
    {
        if (string.IsNullOrEmpty(linkId))
            return null;
        var last = linkId.TrimEnd('/').Split('/')[^1];
        return Codes.Phq9Items.Any(i => i.Code == last) || last is Codes.Phq9Total or Codes.Phq9DifficultyItem or "44256-6" ? last : null;
    }

    /// <summary>Whether a response is a PHQ-9: it names the LOINC form or ours, or its linkIds are PHQ-9 item codes.</summary>
    public static bool IsPhq9(QuestionnaireResponse qr, IEnumerable<string?> linkIds)
    {
        ArgumentNullException.ThrowIfNull(qr);
        var form = qr.Questionnaire?.Split('|')[0];
        if (form == LoincForm || form == Questionnaire)
            return true;
        return linkIds.Count(l => LoincCodeOf(l) is { } code && Codes.Phq9Items.Any(i => i.Code == code)) >= 2;
    }
}

/// <summary>Quantity comparators as written in text (<c>&gt;8</c>).</summary>
internal static class Comparators
{
    public static string Symbol(Quantity.QuantityComparator comparator) => comparator switch
    {
        Quantity.QuantityComparator.LessThan => "<",
        Quantity.QuantityComparator.LessOrEqual => "<=",
        Quantity.QuantityComparator.GreaterOrEqual => ">=",
        _ => ">",
    };
}
