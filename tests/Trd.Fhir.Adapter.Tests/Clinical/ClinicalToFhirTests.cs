using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Tests.Mapping;
using Trd.Fhir.Profiles;
using static Trd.Fhir.Adapter.Tests.Clinical.ClinicalTestData;

namespace Trd.Fhir.Adapter.Tests.Clinical;

/// <summary>One validator for the class: creating and warming one costs seconds.</summary>
public sealed class ValidatorFixture : IDisposable
{
    public TrdValidator Validator { get; } = TrdValidator.Create();

    public void Dispose() => Validator.Dispose();
}

public sealed class ClinicalToFhirTests(ValidatorFixture fixture) : IClassFixture<ValidatorFixture>
{
    private const string Today = "2026-11-27";

    private static Bundle Sut(TrdProtocol protocol, string today = Today)
    {
        var readout = ClinicalReadout.Read(protocol, Clock(today));
        return ClinicalToFhir.Default.AddTo(ProtocolToFhir.Default.Map(protocol), protocol, readout);
    }

    private static IEnumerable<T> All<T>(Bundle bundle) where T : Resource => bundle.Entry.Select(e => e.Resource).OfType<T>();

    private static T ByLocal<T>(Bundle bundle, string protocolId, string local) where T : Resource =>
        All<T>(bundle).Single(r => Identity.Default.LocalPart(r, protocolId) == local);

    private static Observation Clinical(Bundle bundle, string protocolId, string local) =>
        All<Observation>(bundle).Single(o => o.Identifier.Any(i => i.Value == $"{protocolId}/clinical/{local}"));

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void AddTo_Example_ValidatesWithoutErrors(string example)
    {
        var bundle = Sut(ProtocolToFhirTests.Example(example));

        var issues = fixture.Validator.ValidateBundle(bundle).Issue
            .Where(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal or OperationOutcome.IssueSeverity.Warning)
            .Select(i => $"{i.Severity} {string.Join(",", i.Expression)}: {i.Details?.Text ?? i.Diagnostics}").ToList();
        Assert.True(issues.Count == 0, string.Join("\n", issues));
    }

    [Fact]
    public void AddTo_Example_LeavesTheMappedBundleUnchanged()
    {
        var protocol = ProtocolToFhirTests.Example("phase2-tms-partial-response");
        var mapped = ProtocolToFhir.Default.Map(protocol);
        var before = FhirJson.Serialize(mapped);

        ClinicalToFhir.Default.AddTo(mapped, protocol, ClinicalReadout.Read(protocol, Clock(Today)));

        Assert.Equal(before, FhirJson.Serialize(mapped));
    }

    [Fact]
    public void AddTo_TmsExample_StagingObservationsWithProjectCodes()
    {
        var protocol = ProtocolToFhirTests.Example("phase2-tms-partial-response");

        var bundle = Sut(protocol);

        var thaseRush = Clinical(bundle, protocol.Id, "thase-rush-stage");
        Assert.Equal(ProfileUrls.Staging, thaseRush.Meta.Profile.Single());
        Assert.Equal(("https://trd-fhir.example.org/fhir/CodeSystem/trd-staging", "thase-rush-stage"), (thaseRush.Code.Coding[0].System, thaseRush.Code.Coding[0].Code));
        Assert.Equal(2, ((Integer)thaseRush.Value).Value);
        Assert.Equal(3, thaseRush.DerivedFrom.Count); // the three prior trials
        var maudsley = Clinical(bundle, protocol.Id, "maudsley-score");
        Assert.Equal(9, ((Integer)maudsley.Value).Value);
        Assert.Equal("2026-11-27", ((FhirDateTime)maudsley.Effective).Value);
        Assert.Contains(maudsley.DerivedFrom, r => r.Reference == Identity.FullUrl(Identity.Default.For("Observation", protocol.Id, "phq9-2026-02-02/total")));
    }

    [Fact]
    public void AddTo_TmsExample_ResponseAndRemissionStatusFromTheLatestPhq9()
    {
        // baseline 21 (2026-02-02) → 12 (2026-06-22): 42.9 %, no response, no remission
        var protocol = ProtocolToFhirTests.Example("phase2-tms-partial-response");

        var bundle = Sut(protocol);

        var response = Clinical(bundle, protocol.Id, "response-status");
        Assert.Equal(ClinicalToFhir.TreatmentOutcomeProfile, response.Meta.Profile.Single());
        Assert.Equal("response", response.Code.Coding[0].Code);
        Assert.False(((FhirBoolean)response.Value).Value);
        Assert.Equal("2026-06-22", ((FhirDateTime)response.Effective).Value);
        Assert.Contains("42.9 % improvement", response.Note[0].Text, StringComparison.Ordinal);
        Assert.False(((FhirBoolean)Clinical(bundle, protocol.Id, "remission-status").Value).Value);
    }

    [Fact]
    public void AddTo_RemissionExample_RemissionTrueAndGoalsAchieved()
    {
        // 17 → … → 4 (2026-05-04) → 3 (2026-07-06): remission held at two assessments in a row → sustaining
        var protocol = ProtocolToFhirTests.Example("phase2-remission");

        var bundle = Sut(protocol);

        Assert.True(((FhirBoolean)Clinical(bundle, protocol.Id, "remission-status").Value).Value);
        Assert.True(((FhirBoolean)Clinical(bundle, protocol.Id, "response-status").Value).Value);
        Assert.Equal("sustaining", ByLocal<Goal>(bundle, protocol.Id, "goal-remission").AchievementStatus.Coding[0].Code);
        Assert.Equal("sustaining", ByLocal<Goal>(bundle, protocol.Id, "goal-response").AchievementStatus.Coding[0].Code);
    }

    [Fact]
    public void AddTo_TmsExample_GoalsImprovingButNotAchieved()
    {
        // 14 → 12: below the previous total, neither < 5 nor ≤ 10.5
        var protocol = ProtocolToFhirTests.Example("phase2-tms-partial-response");

        var bundle = Sut(protocol);

        var remission = ByLocal<Goal>(bundle, protocol.Id, "goal-remission").AchievementStatus.Coding[0];
        Assert.Equal((ClinicalToFhir.GoalAchievementSystem, "improving", "Improving"), (remission.System, remission.Code, remission.Display));
        Assert.Equal("improving", ByLocal<Goal>(bundle, protocol.Id, "goal-response").AchievementStatus.Coding[0].Code);
    }

    [Theory]
    [InlineData(12, 12, "no-change")]
    [InlineData(12, 14, "worsening")]
    [InlineData(14, 12, "improving")]
    [InlineData(10, 10, "sustaining")] // 10 ≤ 20 / 2 twice
    [InlineData(12, 6, "achieved")] // response goal: 6 ≤ 20 / 2
    public void AddTo_LastTwoTotals_ResponseGoalStatus(int previous, int latest, string expected)
    {
        var protocol = Build([Phq9("2026-01-05", 20), Phq9("2026-02-02", previous), Phq9("2026-03-02", latest)], [Phase(1, "2026-01-05", null)]);

        var bundle = Sut(protocol);

        Assert.Equal(expected, ByLocal<Goal>(bundle, protocol.Id, "goal-response").AchievementStatus.Coding[0].Code);
    }

    [Fact]
    public void AddTo_OnlyTheBaseline_GoalsInProgress()
    {
        var protocol = Build([Phq9("2026-01-05", 20)], [Phase(1, "2026-01-05", null)]);

        var bundle = Sut(protocol);

        Assert.Equal("in-progress", ByLocal<Goal>(bundle, protocol.Id, "goal-remission").AchievementStatus.Coding[0].Code);
        Assert.Equal("in-progress", ByLocal<Goal>(bundle, protocol.Id, "goal-response").AchievementStatus.Coding[0].Code);
    }

    [Fact]
    public void AddTo_Item9Positive_FlagPointsAtTheItem9ObservationAndEndsWhenItem9IsZero()
    {
        // tms example: item 9 = 1 on 2026-02-02, 03-02, 04-27, 06-01; 0 on 06-15 and 06-22
        var protocol = ProtocolToFhirTests.Example("phase2-tms-partial-response");

        var bundle = Sut(protocol);

        var flags = All<Flag>(bundle).ToList();
        Assert.Equal(4, flags.Count);
        var flag = flags.Single(f => f.Identifier[0].Value == $"{protocol.Id}/clinical/safety-signal/phq9-2026-06-01");
        Assert.Equal(ClinicalToFhir.SafetySignalProfile, flag.Meta.Profile.Single());
        Assert.Equal(Flag.FlagStatus.Inactive, flag.Status);
        Assert.Equal(("2026-06-01", "2026-06-15"), (flag.Period.Start, flag.Period.End));
        var detail = (ResourceReference)flag.GetExtension(ClinicalToFhir.FlagDetailExtension).Value;
        var item9 = ByLocal<Observation>(bundle, protocol.Id, "phq9-2026-06-01/item-9");
        Assert.Equal(bundle.Entry.Single(e => ReferenceEquals(e.Resource, item9)).FullUrl, detail.Reference);
        Assert.Equal("suicidal-ideation", flag.Code.Coding[0].Code);
    }

    [Fact]
    public void AddTo_LatestItem9Positive_FlagActive()
    {
        var protocol = ProtocolToFhirTests.Example("phase3-ect-esketamine");

        var bundle = Sut(protocol);

        var latest = All<Flag>(bundle).Single(f => f.Period.Start == "2026-10-19");
        Assert.Equal(Flag.FlagStatus.Active, latest.Status);
        Assert.Null(latest.Period.End);
    }

    [Fact]
    public void AddTo_Item9ZeroEverywhere_NoFlag()
    {
        var protocol = Build([Phq9("2026-01-05", 20, item9: 0), Phq9("2026-02-02", 15, item9: 0)], [Phase(1, "2026-01-05", null)]);

        Assert.Empty(All<Flag>(Sut(protocol)));
    }

    [Fact]
    public void AddTo_NewEntries_ConditionalCreatesReferencingOnlyEarlierEntries()
    {
        var bundle = Sut(ProtocolToFhirTests.Example("phase3-ect-esketamine"));

        var seen = new HashSet<string>();
        foreach (var entry in bundle.Entry)
        {
            Assert.Equal($"{Identity.DefaultBase}/{entry.Resource!.TypeName.ToLowerInvariant()}", entry.Request.IfNoneExist.Split('=', 2)[1].Split('|')[0]);
            foreach (var reference in Descendants(entry.Resource).OfType<ResourceReference>().Where(r => r.Reference?.StartsWith("urn:uuid:", StringComparison.Ordinal) == true))
                Assert.Contains(reference.Reference, seen);
            Assert.True(seen.Add(entry.FullUrl));
        }
    }

    private static IEnumerable<Base> Descendants(Base node) => new[] { node }.Concat(node.EnumerateElements().SelectMany(kv => kv.Value switch
    {
        Base child => Descendants(child),
        IEnumerable<Base> list => list.SelectMany(Descendants),
        _ => [],
    }));

    [Fact]
    public void AddTo_SameInputTwice_IsByteIdentical()
    {
        var protocol = ProtocolToFhirTests.Example("phase3-ect-esketamine");

        Assert.Equal(FhirJson.Serialize(Sut(protocol)), FhirJson.Serialize(Sut(protocol)));
    }
}
