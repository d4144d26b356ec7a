using Trd.Fhir.Adapter.Sync;

namespace Trd.Fhir.IntegrationTests.Sync;

[Collection(FhirServerFixture.CollectionName)]
public sealed class SyntheticProtocolsTests(FhirServerFixture server) : IAsyncLifetime
{
    public System.Threading.Tasks.Task InitializeAsync() => server.ResetAsync();

    public System.Threading.Tasks.Task DisposeAsync() => System.Threading.Tasks.Task.CompletedTask;

    [Fact]
    public void Generate_SameSeedAndTag_GivesIdenticalDocuments()
    {
        var first = SyntheticProtocols.Generate(20, seed: 7, tag: "det");
        var second = SyntheticProtocols.Generate(20, seed: 7, tag: "det");

        Assert.Equal(first.Select(c => c.Document), second.Select(c => c.Document));
        Assert.NotEqual(first.Select(c => c.Document), SyntheticProtocols.Generate(20, seed: 8, tag: "det").Select(c => c.Document));
    }

    [Fact]
    public void Generate_Many_DistinctIdsPatientsAndSmallBundles()
    {
        var cases = SyntheticProtocols.Generate(200, seed: 1, tag: "many");

        Assert.Equal(200, cases.Select(c => c.Protocol.Id).Distinct().Count());
        Assert.Equal(200, cases.Select(c => c.Protocol.Patient.Value).Distinct().Count());
        Assert.All(cases, c => Assert.Equal(c.Protocol.Patient.Value, c.Patient.Identifier[0].Value));
        var sizes = cases.Select(c => Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(c.Protocol).Entry.Count).ToArray();
        Assert.InRange(sizes.Min(), 10, 20);
        Assert.InRange(sizes.Max(), 10, 20);
        Assert.Equal(sizes.Sum(), SyntheticProtocols.ExpectedIdentifiers(cases).Count);
    }

    [Fact]
    public async System.Threading.Tasks.Task PushAll_ThreeCases_ServerHoldsExactlyTheExpectedIdentifiers()
    {
        var cases = SyntheticProtocols.Generate(3, seed: 3, tag: "srv");
        var seeded = await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction(cases));
        Assert.Equal(3, seeded!.Entry.Count);
        using var sync = new SyncHarness(server.BaseUrl);

        foreach (var c in cases)
            Assert.True((await sync.PushAsync(c.Protocol)).Success);

        var expected = SyntheticProtocols.ExpectedIdentifiers(cases);
        var onServer = await SyntheticProtocols.OnServerAsync(server.CreateClient(), cases, SyntheticProtocols.ResourceTypes(cases));
        Assert.Equal(expected.Count, onServer.Count);
        Assert.Equal(expected.OrderBy(e => e.Identifier, StringComparer.Ordinal), onServer.OrderBy(e => e.Identifier, StringComparer.Ordinal));
    }
}
