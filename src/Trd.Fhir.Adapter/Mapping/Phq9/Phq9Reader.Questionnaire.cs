using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>The PHQ-9 as a QuestionnaireResponse (the LOINC form, ours, or any form whose linkIds are the LOINC item codes).</summary>
internal sealed partial class Phq9Reader
{
    private const string QrSource = "QuestionnaireResponse";

    /// <summary>Reads every PHQ-9 QuestionnaireResponse into a draft; returns the ones read (for derivedFrom links).</summary>
    private HashSet<QuestionnaireResponse> ReadResponses(List<Draft> drafts)
    {
        var read = new HashSet<QuestionnaireResponse>(ReferenceEqualityComparer.Instance);
        foreach (var (qr, at) in r.OfType<QuestionnaireResponse>())
        {
            var items = Phq9QuestionnaireResponse.Flatten(qr.Item).ToList();
            if (!Phq9QuestionnaireResponse.IsPhq9(qr, items.Select(i => i.Item.LinkId)))
                continue;
            r.Use(qr);
            if (qr.Status is not (QuestionnaireResponse.QuestionnaireResponseStatus.Completed or QuestionnaireResponse.QuestionnaireResponseStatus.Amended))
            {
                r.Warn(at, ProblemCode.NotInterpretable, $"PHQ-9 QuestionnaireResponse with status {Kebab.ToKebab(qr.Status?.ToString() ?? "none")} skipped (only completed or amended ones are read)");
                continue;
            }
            if (Date(qr.AuthoredElement, at) is not { } date)
            {
                r.Warn(at, ProblemCode.NotInterpretable, "PHQ-9 QuestionnaireResponse has no authored date; left out", "set QuestionnaireResponse.authored");
                continue;
            }
            read.Add(qr);
            if (qr.Questionnaire?.Split('|')[0] == Phq9QuestionnaireResponse.Questionnaire)
            {
                foreach (var problem in Phq9Questionnaire.Check(qr, $"{at}.resource"))
                    r.Warn(problem.Path, problem.Code, problem.Message, problem.Hint);
            }
            var draft = new Draft(date, at, QrSource);
            foreach (var (item, path) in items)
            {
                var code = Phq9QuestionnaireResponse.LoincCodeOf(item.LinkId);
                var value = item.Answer.FirstOrDefault()?.Value;
                var where = $"{at}.resource.{path}";
                if (code is null)
                {
                    if (item.Answer.Count > 0)
                        r.Warn(where, ProblemCode.NotInterpretable, $"linkId '{item.LinkId}' is not a PHQ-9 item; left out");
                    continue;
                }
                if (value is null)
                {
                    if (code == Codes.Phq9Items[Phq9Assessment.SuicidalityItemIndex].Code)
                        r.Warn(where, ProblemCode.SafetySignal, $"PHQ-9 item 9 (thoughts of self-harm) on {date:yyyy-MM-dd} has no answer: whether there is a safety signal cannot be told", "a clinician must check item 9 in the source record");
                    continue;
                }
                Absorb(draft, new CodeableConcept(Codes.Loinc, code), value, where, null);
            }
            drafts.Add(draft);
        }
        return read;
    }
}
