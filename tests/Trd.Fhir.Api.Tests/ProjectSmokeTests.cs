namespace Trd.Fhir.Api.Tests;

public sealed class ProjectSmokeTests
{
    [Fact]
    public void The_adapter_assembly_is_referenced() =>
        Assert.Equal("trd-fhir", typeof(Trd.Fhir.Adapter.Sync.Ledger.ISyncLedger).Assembly.GetName().Name);
}
