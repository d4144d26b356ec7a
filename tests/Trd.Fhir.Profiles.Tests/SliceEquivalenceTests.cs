using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>The trimmed core slice must give exactly the outcomes of the untrimmed specification.zip.</summary>
public class SliceEquivalenceTests
{
    [Fact]
    public void Validate_SliceVersusZip_IdenticalOutcomes()
    {
        var zipOptions = TestData.Options();
        zipOptions.UseCoreSlice = false;
        using var slice = TrdValidator.Create(TestData.Options());
        using var zip = TrdValidator.Create(zipOptions);

        foreach (var data in TrdValidatorTests.PlantedErrors.Select(row => (string)row[0]).Prepend("valid"))
        {
            var instance = data == "valid" ? TestData.Phq9() : TrdValidatorTests.Mutate(data);
            Assert.Equal(ConcurrencyTests.Render(zip.Validate(instance)), ConcurrencyTests.Render(slice.Validate(instance)));
        }
        foreach (var name in new[] { "bundle-transaction.json", "bundle-target-profile.json" })
        {
            var bundle = (Bundle)TrdFhirParser.ParseJson(TestData.Instance(name)).Resource!;
            Assert.Equal(ConcurrencyTests.Render(zip.ValidateBundle(bundle)), ConcurrencyTests.Render(slice.ValidateBundle(bundle)));
        }
        var patient = new Patient { Gender = AdministrativeGender.Unknown, BirthDate = "1980", Name = [new HumanName { Family = "X", Use = HumanName.NameUse.Official }] };
        Assert.Equal(ConcurrencyTests.Render(zip.Validate(patient)), ConcurrencyTests.Render(slice.Validate(patient)));

        Assert.Equal(0, zip.Resolver.Core.LoadCounts.Slice);
        Assert.Equal(0, slice.Resolver.Core.LoadCounts.Zip);
    }

    [Fact]
    public void Validate_WithAndWithoutPrefetch_IdenticalOutcomes()
    {
        var noPrefetch = TestData.Options();
        noPrefetch.Prefetch = false;
        using var with = TrdValidator.Create(TestData.Options());
        using var without = TrdValidator.Create(noPrefetch);

        foreach (var data in TrdValidatorTests.PlantedErrors.Select(row => (string)row[0]))
        {
            var instance = TrdValidatorTests.Mutate(data);
            Assert.Equal(ConcurrencyTests.Render(without.Validate(instance)), ConcurrencyTests.Render(with.Validate(instance)));
        }
        var bundle = (Bundle)TrdFhirParser.ParseJson(TestData.Instance("bundle-transaction.json")).Resource!;
        Assert.Equal(ConcurrencyTests.Render(without.ValidateBundle(bundle)), ConcurrencyTests.Render(with.ValidateBundle(bundle)));
    }
}
