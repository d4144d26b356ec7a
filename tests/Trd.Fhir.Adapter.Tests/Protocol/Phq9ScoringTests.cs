using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Tests.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Tests.Protocol;

public class Phq9ScoringTests
{
    [Theory]
    [InlineData(0, Phq9Band.NoneMinimal)]
    [InlineData(4, Phq9Band.NoneMinimal)]
    [InlineData(5, Phq9Band.Mild)]
    [InlineData(9, Phq9Band.Mild)]
    [InlineData(10, Phq9Band.Moderate)]
    [InlineData(14, Phq9Band.Moderate)]
    [InlineData(15, Phq9Band.ModeratelySevere)]
    [InlineData(19, Phq9Band.ModeratelySevere)]
    [InlineData(20, Phq9Band.Severe)]
    [InlineData(27, Phq9Band.Severe)]
    public void Band_BandEdge_GivesThatBand(int total, Phq9Band expected)
    {
        Assert.Equal(expected, Phq9Scoring.Band(total));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(28)]
    public void Band_OutsideZeroTo27_Throws(int total)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Phq9Scoring.Band(total));
    }

    [Fact]
    public void Band_EveryTotal_AgreesWithTheMappingsSeverityInterpretation()
    {
        // The mapping codes the same bands on each PHQ-9 total Observation: the two must never drift apart.
        var protocol = ClinicalTestData.Build([.. Enumerable.Range(0, 28).Select(t => ClinicalTestData.Phq9TotalOnly($"2026-01-{t + 1:00}", t) with { Date = new DateOnly(2026, 1, 1).AddDays(t) })]);

        var totals = ProtocolToFhir.Default.Map(protocol).Entry.Select(e => e.Resource).OfType<Observation>()
            .Where(o => o.Code.Coding[0].Code == Codes.Phq9Total).ToList();

        Assert.Equal(28, totals.Count);
        Assert.All(totals, o => Assert.Equal(Kebab.Name(Phq9Scoring.Band((int)((Quantity)o.Value).Value!.Value)), o.Interpretation[0].Coding[0].Code));
    }

    [Theory]
    [InlineData(4, true)]
    [InlineData(5, false)]
    [InlineData(0, true)]
    public void IsRemission_Total_IsBelowFive(int total, bool expected)
    {
        Assert.Equal(expected, Phq9Scoring.IsRemission(total));
    }

    [Theory]
    [InlineData(20, 10, true)]  // exactly 50 %
    [InlineData(26, 13, true)]  // exactly 50 %
    [InlineData(27, 13, true)]  // 51.9 %
    [InlineData(27, 14, false)] // 48.1 %: the closest a 0–27 score gets to 49 %
    [InlineData(21, 11, false)] // 47.6 %
    [InlineData(20, 11, false)] // 45 %
    [InlineData(0, 0, false)]   // no baseline symptoms: response is not defined
    public void IsResponse_BaselineAndCurrent_NeedsAtLeastHalfOff(int baseline, int current, bool expected)
    {
        Assert.Equal(expected, Phq9Scoring.IsResponse(baseline, current));
    }

    [Theory]
    [InlineData(27, 14, "48.1")]
    [InlineData(20, 10, "50")]
    [InlineData(21, 12, "42.9")]
    [InlineData(10, 12, "-20")]
    public void ImprovementPercent_BaselineAndCurrent_OneDecimal(int baseline, int current, string expected)
    {
        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), Phq9Scoring.ImprovementPercent(baseline, current));
    }

    [Fact]
    public void ImprovementPercent_BaselineZero_IsNull()
    {
        Assert.Null(Phq9Scoring.ImprovementPercent(0, 3));
    }
}
