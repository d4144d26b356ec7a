using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using static Trd.Fhir.IntegrationTests.BundleHelpers;

namespace Trd.Fhir.IntegrationTests;

/// <summary>The same server started with <c>--no-tx-caps</c>.</summary>
public sealed class UncappedFhirServerFixture : FhirServerFixture
{
    protected override IReadOnlyList<string> ServerArguments => ["--no-tx-caps"];
}

public sealed class UncappedFhirServerTests(UncappedFhirServerFixture server) : IClassFixture<UncappedFhirServerFixture>
{
    [Fact]
    public async Task Transaction_OverConditionalEntryCap_SucceedsWhenCapsAreLifted()
    {
        await server.ResetAsync();
        using var client = server.CreateClient();

        var first = await client.TransactionAsync(FhirServerSmokeTests.ConditionalCreates("uncapped", 30));
        var second = await client.TransactionAsync(FhirServerSmokeTests.ConditionalCreates("uncapped", 30));

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Equal(30, first.Entry.Count);
        Assert.All(first.Entry, e => Assert.StartsWith("201", StatusOf(e), StringComparison.Ordinal));
        Assert.All(second.Entry, e => Assert.StartsWith("200", StatusOf(e), StringComparison.Ordinal));
        Assert.Equal(
            first.Entry.Select(LocationIdOf),
            second.Entry.Select(LocationIdOf));
        Assert.Equal(30, await FhirServerSmokeTests.CountPatientsAsync(client, "uncapped"));
    }
}
