namespace Trd.Fhir.IntegrationTests;

public sealed class FhirServerFixtureTests
{
    private sealed class MisconfiguredServerFixture : FhirServerFixture
    {
        protected override IReadOnlyList<string> ServerArguments => ["--no-such-option"];
    }

    [Fact]
    public async Task InitializeAsync_WhenTheServerCannotStart_FailsWithTheServerStderr()
    {
        var fixture = new MisconfiguredServerFixture();
        try
        {
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(fixture.InitializeAsync);

            Assert.Contains("closed stdout before it was listening", ex.Message, StringComparison.Ordinal);
            Assert.Contains("unknown argument '--no-such-option'", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            await fixture.DisposeAsync();
        }
    }
}
