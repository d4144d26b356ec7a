using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Tests.Mapping;

/// <summary>Issue 11 items 2, 3 and 5: PHQ-9 as QuestionnaireResponse both ways, safety signals, edge values.</summary>
public class Phq9QuestionnaireResponseTests
{
    private const string Mrn = "https://hospital.example.org/fhir/sid/mrn";
    private static readonly ResourceReference ByIdentifier = new() { Identifier = new Identifier(Mrn, "Q-1") };

    private static SourcedResource[] Sourced(params Resource[] resources) =>
        resources.Select((r, i) => new SourcedResource(r, $"Bundle.entry[{i}]", r.Id is null ? null : $"http://ehr.example/fhir/{r.TypeName}/{r.Id}")).ToArray();

    /// <summary>A foreign QR of LOINC's form: path-style linkIds, LA-coded answers, a group, no total.</summary>
    private static QuestionnaireResponse LoincFormResponse(int[] scores, string authored = "2026-04-02T10:00:00Z")
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
            Id = "qr1",
            Questionnaire = Phq9QuestionnaireResponse.LoincForm,
            Status = QuestionnaireResponse.QuestionnaireResponseStatus.Completed,
            Subject = ByIdentifier,
            Authored = authored,
            Item = [group],
        };
    }

    [Fact]
    public void Read_QuestionnaireResponseAlone_GivesItsTotalAndItem9Signal()
    {
        int[] scores = [2, 2, 1, 1, 1, 1, 1, 1, 2];

        var result = FhirToProtocol.Default.Read(Sourced(LoincFormResponse(scores)));

        var assessment = Assert.Single(result.Protocol!.Phq9);
        Assert.Equal(12, assessment.Total);
        Assert.Equal(scores, assessment.Items);
        Assert.Equal(new PatientRef(Mrn, "Q-1", null), result.Protocol.Patient);
        var signal = Assert.Single(result.SafetySignals);
        Assert.Equal((new DateOnly(2026, 4, 2), 2), (signal.Date, signal.Item9));
        Assert.Contains(result.Notices, n => n.Code == ProblemCode.SafetySignal && n.Message.Contains("scored 2 on 2026-04-02", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_QuestionnaireResponseWithDerivedObservations_CountsTheAssessmentOnce()
    {
        var qr = LoincFormResponse([1, 1, 1, 1, 1, 1, 1, 1, 1]);
        var total = new Observation
        {
            Id = "t",
            Status = ObservationStatus.Final,
            Code = new CodeableConcept(Codes.Loinc, Codes.Phq9Total),
            Subject = ByIdentifier,
            Effective = new FhirDateTime("2026-04-02"),
            Value = new Quantity { Value = 9, System = Codes.UcumSystem, Code = "{score}" },
            DerivedFrom = [new ResourceReference("QuestionnaireResponse/qr1")],
        };

        var result = FhirToProtocol.Default.Read(Sourced(qr, total));

        Assert.Empty(result.Problems);
        Assert.Equal(9, Assert.Single(result.Protocol!.Phq9).Total);
    }

    [Fact]
    public void Read_QuestionnaireResponseWithIntegerAndOrdinalAnswers_ReadsBoth()
    {
        var qr = LoincFormResponse([0, 0, 0, 0, 0, 0, 0, 0, 0]);
        var items = qr.Item[0].Item;
        items[0].Answer[0].Value = new Integer(3);
        var ordinal = new Coding("http://example.org/local-answers", "often");
        ordinal.Extension.Add(new Extension("http://hl7.org/fhir/StructureDefinition/ordinalValue", new FhirDecimal(2)));
        items[8].Answer[0].Value = ordinal;

        var result = FhirToProtocol.Default.Read(Sourced(qr));

        Assert.Equal([3, 0, 0, 0, 0, 0, 0, 0, 2], result.Protocol!.Phq9.Single().Items);
        Assert.Single(result.SafetySignals);
    }

    [Fact]
    public void Read_Item9Unreadable_IsSaidNotDropped()
    {
        var qr = LoincFormResponse([1, 1, 1, 1, 1, 1, 1, 1, 1]);
        qr.Item[0].Item[8].Answer[0].Value = new Coding(Codes.Loinc, "LA9999-9");

        var result = FhirToProtocol.Default.Read(Sourced(qr));

        Assert.Contains(result.Problems, p => p.Code == ProblemCode.SafetySignal && p.Message.Contains("cannot be told", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_IncompleteItemsWithItem9_StillGivesTheSafetySignal()
    {
        var qr = LoincFormResponse([1, 1, 1, 1, 1, 1, 1, 1, 3]);
        qr.Item[0].Item.RemoveAt(0);

        var result = FhirToProtocol.Default.Read(Sourced(qr));

        Assert.Equal(3, Assert.Single(result.SafetySignals).Item9);
    }

    [Theory]
    [InlineData(Phq9Channel.QuestionnaireResponse)]
    [InlineData(Phq9Channel.Both)]
    public void RoundTrip_Phq9AsQuestionnaireResponse_GivesTheSameProtocol(Phq9Channel channel)
    {
        foreach (var name in new[] { "phase1-augmentation", "phase3-ect-esketamine" })
        {
            var protocol = ProtocolToFhirTests.Example(name);
            var bundle = new ProtocolToFhir(Identity.Default, channel).Map(protocol);
            var json = FhirJson.Serialize(bundle);
            var parsed = (Bundle)FhirJson.Parse(System.Text.Encoding.UTF8.GetBytes(json), out _)!;

            var result = FhirToProtocol.Default.Read(FhirToProtocol.Entries(parsed));

            Assert.Equal(protocol.Phq9.Count, bundle.Entry.Count(e => e.Resource is QuestionnaireResponse));
            Assert.Equal(channel == Phq9Channel.Both, bundle.Entry.Any(e => e.Resource is Observation o && o.DerivedFrom.Count == 1));
            Assert.Empty(result.Problems);
            Assert.Equal(ProtocolWriter.Write(protocol), ProtocolWriter.Write(result.Protocol!));
        }
    }

    [Fact]
    public void Write_Assessment_IsValidAgainstTheQuestionnaire()
    {
        var qr = Phq9QuestionnaireResponse.Write(new Phq9Assessment(new DateOnly(2026, 4, 2), [1, 2, 0, 1, 1, 0, 2, 1, 1], Phq9Difficulty.SomewhatDifficult, 9), ByIdentifier);

        Assert.Empty(Phq9Questionnaire.Check(qr));
        Assert.Equal("44260-8", qr.Item[8].LinkId);
        Assert.Equal("LA6569-3", ((Coding)qr.Item[8].Answer[0].Value).Code);
    }

    [Fact]
    public void Check_WrongAnswerCodeAndMissingRequiredItem_NameTheLinkIds()
    {
        var qr = Phq9QuestionnaireResponse.Write(new Phq9Assessment(new DateOnly(2026, 4, 2), [1, 1, 1, 1, 1, 1, 1, 1, 1], null, 9), ByIdentifier);
        qr.Item[2].Answer[0].Value = new Coding(Codes.Loinc, "LA6572-7");   // a difficulty answer on item 3
        qr.Item.RemoveAt(4);                                                  // item 5 (44251-7) missing

        var problems = Phq9Questionnaire.Check(qr);

        Assert.Contains(problems, p => p.IsError && p.Message.Contains("linkId '44259-0'", StringComparison.Ordinal) && p.Message.Contains("not one of the item's answer options", StringComparison.Ordinal) && p.Path == "QuestionnaireResponse.item[2]");
        Assert.Contains(problems, p => p.IsError && p.Message.Contains("required linkId '44251-7'", StringComparison.Ordinal));
    }

    [Fact]
    public void Check_WrongTotalWrongTypeUnknownLinkIdAndDisabledItem_AreEachReported()
    {
        var qr = Phq9QuestionnaireResponse.Write(new Phq9Assessment(new DateOnly(2026, 4, 2), [0, 0, 0, 0, 0, 0, 0, 0, 0], Phq9Difficulty.VeryDifficult, 0), ByIdentifier);
        qr.Item[^1].Answer[0].Value = new Integer(4);
        qr.Item[1].Answer[0].Value = new FhirString("0");
        qr.Item.Add(new QuestionnaireResponse.ItemComponent { LinkId = "mood", Answer = [new() { Value = new Integer(1) }] });

        var messages = Phq9Questionnaire.Check(qr).Select(p => p.Message).ToArray();

        Assert.Contains(messages, m => m.Contains("linkId '44255-8' takes a valueCoding", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("linkId 'mood' is not an item", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("linkId '69722-7' is answered but not enabled", StringComparison.Ordinal) || m.Contains("'44255-8'", StringComparison.Ordinal));
    }

    [Fact]
    public void Questionnaire_ShippedArtefact_IsTheOneTheCodeBuilds()
    {
        var shipped = File.ReadAllText(Repo.Path("profiles", "Questionnaire-trd-phq9.json"));
        var built = FhirJson.Serialize(Phq9Questionnaire.Build());

        Assert.Equal(built.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd(), shipped.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd());
    }

    [Fact]
    public void Questionnaire_UsesOnlyConfirmedLoincCodes()
    {
        var confirmed = new HashSet<string>(Codes.Phq9Items.Select(i => i.Code).Concat([Codes.Phq9Panel, Codes.Phq9Total, Codes.Phq9DifficultyItem])
            .Concat(Codes.Phq9Answers.Select(a => a.Code)).Concat(Codes.DifficultyAnswers.Select(a => a.Code)), StringComparer.Ordinal);
        var q = Phq9Questionnaire.Build();

        var used = q.Code.Select(c => c.Code).Concat(q.Item.SelectMany(i => i.Code.Select(c => c.Code)))
            .Concat(q.Item.SelectMany(i => i.AnswerOption.Select(o => ((Coding)o.Value).Code))).ToArray();

        Assert.Equal(9 + 1 + 1, q.Item.Count);
        Assert.All(used, c => Assert.Contains(c, confirmed));
    }

    private static Observation TotalObs(DataType value, DataType effective) => new()
    {
        Status = ObservationStatus.Final,
        Code = new CodeableConcept(Codes.Loinc, Codes.Phq9Total),
        Subject = ByIdentifier,
        Effective = effective,
        Value = value,
    };

    [Fact]
    public void Read_ComparatorTotal_IsReportedNotRounded()
    {
        var result = FhirToProtocol.Default.Read(Sourced(
            TotalObs(new Quantity { Value = 8, Comparator = Quantity.QuantityComparator.GreaterThan, System = Codes.UcumSystem, Code = "{score}" }, new FhirDateTime("2026-02-01")),
            TotalObs(new Integer(6), new FhirDateTime("2026-03-01"))));

        Assert.Equal([6], result.Protocol!.Phq9.Select(a => a.Total));
        Assert.Contains(result.Problems, p => p.Path == "Bundle.entry[0]" && p.Message.Contains("'>8'", StringComparison.Ordinal) && p.Message.Contains("not used as a total", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_PercentUnit_IsRefusedWithAMessage()
    {
        var result = FhirToProtocol.Default.Read(Sourced(
            TotalObs(new Quantity { Value = 12, System = Codes.UcumSystem, Code = "%" }, new FhirDateTime("2026-02-01")),
            TotalObs(new Quantity { Value = 7, System = Codes.UcumSystem, Code = "1" }, new FhirDateTime("2026-03-01"))));

        Assert.Equal([7], result.Protocol!.Phq9.Select(a => a.Total));
        Assert.Contains(result.Problems, p => p.Message.Contains("unit '%'", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_ScoreUnitsOtherSystemsSend_AreReadAndOtherUnitsRefused()
    {
        var result = FhirToProtocol.Default.Read(Sourced(
            TotalObs(new Quantity { Value = 14, Unit = "score" }, new FhirDateTime("2026-02-01")),
            TotalObs(new Quantity { Value = 12, System = Codes.UcumSystem, Code = "{points}", Unit = "points" }, new FhirDateTime("2026-03-01")),
            TotalObs(new Quantity { Value = 10, Unit = "mg" }, new FhirDateTime("2026-04-01")),
            TotalObs(new Quantity { Value = 9, System = "urn:oid:1.2.3.4", Code = "score" }, new FhirDateTime("2026-05-01"))));

        Assert.Equal([14, 12], result.Protocol!.Phq9.Select(a => a.Total));
        Assert.Contains(result.Problems, p => p.Path == "Bundle.entry[2]" && p.Message.Contains("unit 'mg', which is not a score", StringComparison.Ordinal));
        Assert.Contains(result.Problems, p => p.Path == "Bundle.entry[3]" && p.Message.Contains("which is not a score", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_PartialDateAndEndOnlyPeriod_AreReadAtTheirPrecision()
    {
        var result = FhirToProtocol.Default.Read(Sourced(
            TotalObs(new Integer(14), new FhirDateTime("2025-03")),
            TotalObs(new Integer(9), new Period { End = "2025-05-20" })));

        Assert.Equal([(new DateOnly(2025, 3, 1), 14), (new DateOnly(2025, 5, 20), 9)], result.Protocol!.Phq9.Select(a => (a.Date, a.Total)));
        Assert.Contains(result.Problems, p => p.Message.Contains("'2025-03' is only known to the month", StringComparison.Ordinal));
    }
}
