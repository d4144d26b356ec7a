using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>Where a FHIRPath issue expression points in the JSON text.</summary>
public sealed class IssueLocationTests
{
    private const string Json = """
        {
          "resourceType": "Bundle",
          "entry": [
            { "resource": { "resourceType": "Goal" } },
            {
              "resource": {
                "resourceType": "Observation",
                "valueQuantity": { "value": 30 }
              }
            }
          ]
        }
        """;

    private static (int Line, int Column)? Locate(string expression) =>
        IssueLocation.Locate(JsonLineIndex.Build(System.Text.Encoding.UTF8.GetBytes(Json)), expression);

    [Fact]
    public void Locate_ChoiceElementInTheSecondEntry_AtItsTypedName()
    {
        Assert.Equal((8, 9), Locate("Bundle.entry[1].resource.value"));
    }

    [Fact]
    public void Locate_ElementThatIsNotThere_NearestLocatedAncestor()
    {
        Assert.Equal(Locate("Bundle.entry[0].resource"), Locate("Bundle.entry[0].resource.lifecycleStatus"));
        Assert.NotNull(Locate("Bundle.entry[0].resource"));
    }

    [Fact]
    public void Locate_FunctionInTheExpression_StopsBeforeIt()
    {
        Assert.Equal(Locate("Bundle.entry[1].resource"), Locate("Bundle.entry[1].resource.where(true).value"));
    }

    [Fact]
    public void OurResourceProfiles_ConditionHasExactlyOne_ObservationSeveral()
    {
        var profiles = IssueLocation.OurResourceProfiles().ToDictionary(p => p.Type, p => p.Urls);

        Assert.Single(profiles["Condition"]);
        Assert.True(profiles["Observation"].Count > 1);
    }
}
