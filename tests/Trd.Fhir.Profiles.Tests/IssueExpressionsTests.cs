using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Validation;

namespace Trd.Fhir.Profiles.Tests;

public class IssueExpressionsTests
{
    private static Bundle Bundle() => new()
    {
        Type = Hl7.Fhir.Model.Bundle.BundleType.Collection,
        Entry =
        [
            new Bundle.EntryComponent { Resource = new Patient() },
            new Bundle.EntryComponent { Resource = new Patient() },
            new Bundle.EntryComponent { Resource = TestData.Phq9() },
        ],
    };

    [Theory]
    [InlineData("Bundle.entry[2].resource[0]", "Bundle.entry[2].resource")]
    [InlineData("Bundle.entry[2].resource[0].code[0]", "Bundle.entry[2].resource.code")]
    [InlineData("Bundle.entry[2].resource[0].category[0].coding[0]", "Bundle.entry[2].resource.category[0].coding[0]")]
    [InlineData("Bundle.entry[2].resource[0].effective[0]", "Bundle.entry[2].resource.effective")]
    [InlineData("Bundle.entry[2].resource[0].extension[0].value[0]", "Bundle.entry[2].resource.extension[0].value")]
    [InlineData("Bundle", "Bundle")]
    public void Normalise_NonRepeatingZeroIndex_Dropped(string raw, string expected)
    {
        Assert.Equal(expected, IssueExpressions.Normalise(raw, Bundle()));
    }

    [Theory]
    [InlineData("Bundle.entry[2].resource[0].foo[0]", "Bundle.entry[2].resource.foo[0]")]
    [InlineData("Bundle.entry[7].resource[0]", "Bundle.entry[7].resource[0]")]
    [InlineData("Bundle.entry[2].resource[0].where(code = 'x')", "Bundle.entry[2].resource[0].where(code = 'x')")]
    [InlineData("Observation.code[0]", "Observation.code[0]")]
    public void Normalise_UnfollowableStep_RestKeptVerbatim(string raw, string expected)
    {
        Assert.Equal(expected, IssueExpressions.Normalise(raw, Bundle()));
    }
}
