using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>
/// Issue 11 item 2 from a real server: PHQ-9 stored the way other systems store it — a QuestionnaireResponse of LOINC's
/// PHQ-9 form (LA-coded answers, path-style linkIds) and a screening Observation that says <c>derivedFrom</c> it (as US
/// Core links them) — pulled back is one assessment with its total and item 9, never two.
/// </summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class Phq9QuestionnaireResponsePullTests(FhirServerFixture server) : IAsyncLifetime
{
    public System.Threading.Tasks.Task InitializeAsync() => server.ResetAsync();

    public System.Threading.Tasks.Task DisposeAsync() => System.Threading.Tasks.Task.CompletedTask;

    private static QuestionnaireResponse LoincFormResponse(string patientId, int[] scores, string authored)
    {
        var group = new QuestionnaireResponse.ItemComponent { LinkId = "/44249-1" };
        for (var i = 0; i < 9; i++)
        {
            group.Item.Add(new QuestionnaireResponse.ItemComponent
            {
                LinkId = "/44249-1/" + Codes.Phq9Items[i].Code,
                Answer = [new QuestionnaireResponse.AnswerComponent { Value = new Coding(Codes.Loinc, Codes.Phq9Answers[scores[i]].Code) }],
            });
        }
        return new QuestionnaireResponse
        {
            Questionnaire = Phq9QuestionnaireResponse.LoincForm,
            Status = QuestionnaireResponse.QuestionnaireResponseStatus.Completed,
            Subject = new ResourceReference($"Patient/{patientId}"),
            Authored = authored,
            Item = [group],
        };
    }

    private static Observation ScreeningTotal(string patientId, string qrId, int total, string effective) => new()
    {
        Status = ObservationStatus.Final,
        Category = [new CodeableConcept(Codes.ObservationCategory, "survey")],
        Code = new CodeableConcept(Codes.Loinc, Codes.Phq9Total),
        Subject = new ResourceReference($"Patient/{patientId}"),
        Effective = new FhirDateTime(effective),
        Value = new Quantity { Value = total, System = Codes.UcumSystem, Code = "{score}" },
        DerivedFrom = [new ResourceReference($"QuestionnaireResponse/{qrId}")],
    };

    [Fact]
    public async System.Threading.Tasks.Task Pull_QuestionnaireResponsesWithDerivedObservations_CountsEachAssessmentOnceWithItem9()
    {
        using var sync = new SyncHarness(server.BaseUrl);
        var patient = new PatientRef("https://hospital.example.org/fhir/sid/mrn", "QR-PULL-1", null);
        var patientId = await sync.RegisterPatientAsync(server, patient);
        var client = server.CreateClient();
        int[] first = [3, 3, 2, 2, 2, 2, 2, 2, 1];   // 19, item 9 = 1
        int[] second = [1, 1, 1, 1, 0, 0, 0, 0, 0];  // 4, no signal
        foreach (var (scores, date) in new[] { (first, "2026-03-02"), (second, "2026-06-01") })
        {
            var qr = await client.CreateAsync(LoincFormResponse(patientId, scores, date + "T09:30:00Z"));
            await client.CreateAsync(ScreeningTotal(patientId, qr!.Id, scores.Sum(), date));
        }

        var pulled = await sync.PullAsync(patient);

        var protocol = pulled.Result.Protocol;
        Assert.True(protocol is not null, string.Join("\n", pulled.Result.Problems) + "\n" + string.Join("\n", pulled.Notes));
        Assert.Equal(
            [(new DateOnly(2026, 3, 2), 19), (new DateOnly(2026, 6, 1), 4)],
            protocol.Phq9.Select(a => (a.Date, a.Total)).ToArray());
        Assert.Equal(first, protocol.Phq9[0].Items);
        var signal = Assert.Single(pulled.Result.SafetySignals);
        Assert.Equal((new DateOnly(2026, 3, 2), 1, (int?)19), (signal.Date, signal.Item9, signal.Total));
        Assert.DoesNotContain(pulled.Result.Problems, p => p.IsError);
    }
}
