using Hl7.Fhir.Model;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Tests;

public class ValidateBundleTests(ValidatorFixture fixture) : IClassFixture<ValidatorFixture>
{
    private readonly TrdValidator _sut = fixture.Validator;

    private static Bundle Load(string name) => (Bundle)TrdFhirParser.ParseJson(TestData.Instance(name)).Resource!;

    [Fact]
    public void ValidateBundle_EntryBreaksItsMetaProfile_ReportedAtThatEntry()
    {
        var oo = _sut.ValidateBundle(Load("bundle-transaction.json"));

        var issue = Assert.Single(oo.Issue);
        Assert.Equal(IssueSeverity.Error, issue.Severity);
        Assert.Equal(["Bundle.entry[2].resource"], issue.Expression);
        Assert.Contains("test-phq9-1", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateBundle_AllEntriesValid_NoIssues()
    {
        var bundle = Load("bundle-transaction.json");
        ((Observation)bundle.Entry[2].Resource).Value = new Integer(3);

        Assert.Empty(_sut.ValidateBundle(bundle).Issue);
    }

    [Fact]
    public void ValidateBundle_UnknownProfileOnAnEntry_ErrorAtThatEntry()
    {
        var bundle = Load("bundle-transaction.json");
        ((Observation)bundle.Entry[2].Resource).Value = new Integer(3);
        bundle.Entry[3].Resource.Meta = new Meta { Profile = ["https://example.org/fhir/StructureDefinition/nope"] };

        var issue = Assert.Single(_sut.ValidateBundle(bundle).Issue);

        Assert.Equal(["Bundle.entry[3].resource"], issue.Expression);
        Assert.Equal(IssueType.Incomplete, issue.Code);
    }

    [Fact]
    public void ValidateBundle_ReferenceTargetProfile_EnforcedOnTheBundledTarget()
    {
        // The CarePlan (test-careplan) points at an Observation with no meta.profile and a score of 30: the target
        // profile test-phq9-total applies through the reference.
        var issue = Assert.Single(_sut.ValidateBundle(Load("bundle-target-profile.json")).Issue);

        Assert.Equal(["Bundle.entry[1].resource"], issue.Expression);
        Assert.Contains("test-phq9-1", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateBundle_ProfileByKind_AlsoAppliesTheMappedProfile()
    {
        var bundle = Load("bundle-transaction.json");
        ((Observation)bundle.Entry[2].Resource).Value = new Integer(3);
        ((Observation)bundle.Entry[3].Resource).Value = new Integer(28); // no meta.profile

        var byMeta = _sut.ValidateBundle(bundle, ProfilePolicy.MetaProfile);
        var byKind = _sut.ValidateBundle(bundle, ProfilePolicy.MetaProfileAndKind);

        Assert.Empty(byMeta.Issue);
        var issue = Assert.Single(byKind.Issue);
        Assert.Equal(["Bundle.entry[3].resource"], issue.Expression);
        Assert.Contains("test-phq9-1", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateBundle_ProfileByKindThenMetaProfile_PolicyDoesNotLeak()
    {
        var bundle = Load("bundle-transaction.json");
        ((Observation)bundle.Entry[2].Resource).Value = new Integer(3);
        ((Observation)bundle.Entry[3].Resource).Value = new Integer(28);

        _sut.ValidateBundle(bundle, ProfilePolicy.MetaProfileAndKind);

        Assert.Empty(_sut.ValidateBundle(bundle).Issue);
        Assert.Empty(_sut.Validate(bundle.Entry[3].Resource).Issue);
    }

    [Fact]
    public void ValidateBundle_TransactionEntryWithoutRequest_ReportsBdl3()
    {
        var bundle = Load("bundle-transaction.json");
        ((Observation)bundle.Entry[2].Resource).Value = new Integer(3);
        bundle.Entry[0].Request = null;

        var oo = _sut.ValidateBundle(bundle);

        Assert.Contains(oo.Issue, i => i.Details.Text.Contains("bdl-3", StringComparison.Ordinal) && i.Expression.SequenceEqual(["Bundle"]));
    }
}
