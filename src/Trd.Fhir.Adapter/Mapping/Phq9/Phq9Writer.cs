using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// PHQ-9 family, protocol → FHIR Observations: a panel (44249-1) <c>hasMember</c> the nine LA-coded items, the difficulty
/// item and the total (44261-6) with its severity band; item 9 ≥ 1 carries the suicidal-ideation interpretation. Or, by
/// <see cref="Phq9Channel"/>, a QuestionnaireResponse (<see cref="Phq9QuestionnaireResponse"/>), or both.
/// </summary>
public static class Phq9Writer
{
    /// <summary>The severity interpretation of a total (project CodeSystem trd-phq9-severity; bands from <see cref="Phq9Scoring"/>).</summary>
    public static Coding Severity(int total)
    {
        var band = Phq9Scoring.Band(total);
        return new Coding(Codes.Phq9Severity, Kebab.Name(band), Phq9Scoring.LabelWithRange(band));
    }

    /// <remarks>An assessment known only by its total cannot be a completed QuestionnaireResponse (the nine items are
    /// required by the Questionnaire): it is written as Observations whatever the channel, and a server that takes PHQ-9
    /// only as QuestionnaireResponses reports them as not writable.</remarks>
    internal static void Write(BundleWriter w, Phq9Assessment a, Phq9Channel channel)
    {
        if (a.Items is null)
            channel = Phq9Channel.Observation;
        var response = channel is Phq9Channel.QuestionnaireResponse or Phq9Channel.Both
            ? w.Add(Phq9QuestionnaireResponse.Write(a, w.Subject), $"phq9-{BundleWriter.Date(a.Date)}/response", null)
            : null;
        if (channel is Phq9Channel.Observation or Phq9Channel.Both)
            WriteObservations(w, a, response);
    }

    private static void WriteObservations(BundleWriter w, Phq9Assessment a, ResourceReference? response)
    {
        var local = $"phq9-{BundleWriter.Date(a.Date)}";
        var members = new List<ResourceReference>();
        if (a.Items is { } items)
        {
            for (var i = 0; i < 9; i++)
            {
                var (code, display) = Codes.Phq9Items[i];
                var (answer, answerDisplay) = Codes.Phq9Answers[items[i]];
                var item = Survey(w, a.Date, new CodeableConcept(Codes.Loinc, code, display), response);
                item.Value = new CodeableConcept(Codes.Loinc, answer, answerDisplay);
                if (i == Phq9Assessment.SuicidalityItemIndex && Phq9Scoring.IsSafetySignal(items[i]))
                    item.Interpretation = [SuicidalIdeation()];
                members.Add(w.Add(item, $"{local}/item-{i + 1}", ProfileUrls.Phq9Item));
            }
        }
        if (a.Difficulty is { } difficulty)
        {
            var (answer, answerDisplay) = Codes.DifficultyAnswers[(int)difficulty];
            var item = Survey(w, a.Date, new CodeableConcept(Codes.Loinc, Codes.Phq9DifficultyItem, Phq9Questionnaire.DifficultyText), response);
            item.Value = new CodeableConcept(Codes.Loinc, answer, answerDisplay);
            members.Add(w.Add(item, $"{local}/difficulty", ProfileUrls.Phq9Difficulty));
        }
        var total = Survey(w, a.Date, new CodeableConcept(Codes.Loinc, Codes.Phq9Total, Phq9Questionnaire.TotalText), response);
        total.Value = Codes.Score(a.Total);
        total.Interpretation = [new CodeableConcept { Coding = [Severity(a.Total)] }];
        members.Add(w.Add(total, $"{local}/total", ProfileUrls.Phq9Total));

        var panel = Survey(w, a.Date, new CodeableConcept(Codes.Loinc, Codes.Phq9Panel, "PHQ-9 quick depression assessment panel [Reported.PHQ]"), response);
        panel.HasMember = members;
        w.Add(panel, local, ProfileUrls.Phq9Panel);
    }

    internal static CodeableConcept SuicidalIdeation() =>
        new(Codes.Phq9Flag, "suicidal-ideation", "Suicidal ideation reported", "PHQ-9 item 9 positive: clinician review of suicide risk required");

    private static Observation Survey(BundleWriter w, DateOnly date, CodeableConcept code, ResourceReference? response = null) => new()
    {
        DerivedFrom = response is null ? [] : [new ResourceReference(response.Reference)],
        Status = ObservationStatus.Final,
        Category = [new CodeableConcept(Codes.ObservationCategory, "survey", "Survey")],
        Code = code,
        Subject = w.Subject,
        Effective = new FhirDateTime(BundleWriter.Date(date)),
    };
}
