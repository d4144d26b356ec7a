using System.Text.Json;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary><c>push --ledger</c>, <c>ledger list</c>, <c>ledger retry</c> and <c>probe</c> through the real CLI (in-process) and the real server.</summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class LedgerCommandsTests(FhirServerFixture server) : IAsyncLifetime, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-ledger-cli-").FullName;

    private string Ledger => Path.Combine(_dir, "ledger.db");

    public Task InitializeAsync() => server.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, new CliConsole(stdout, stderr));
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void ProbeJson_TheServersCapabilitiesPerProtocolKind_SameShapeAsTheApi()
    {
        var (exit, stdout, _) = Run("probe", "--server", server.BaseUrl.ToString(), "--format", "json");

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(server.BaseUrl.ToString(), root.GetProperty("server").GetString());
        Assert.True(root.GetProperty("transaction").GetBoolean());
        Assert.Equal("transaction", root.GetProperty("pushStrategy").GetString());
        Assert.False(root.TryGetProperty("live", out _)); // no --live: no live checks, not an empty list
        var kinds = root.GetProperty("resources").EnumerateArray().ToDictionary(r => r.GetProperty("type").GetString()!, r => r);
        Assert.Equal(Trd.Fhir.Adapter.Sync.PullWorkflow.ResourceTypes.Order(), kinds.Keys.Order());
        Assert.All(kinds.Values, k => Assert.True(k.GetProperty("pushable").GetBoolean() && k.GetProperty("conditionalCreate").GetBoolean()));
    }

    private async Task<(IReadOnlyList<SyntheticCase> Cases, string Docs)> CasesAsync(string tag, int count, bool seedPatients = true)
    {
        var cases = SyntheticProtocols.Generate(count, 11, tag);
        if (seedPatients)
            await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction(cases));
        var docs = Path.Combine(_dir, "docs-" + tag);
        SyntheticProtocols.WriteDocuments(cases, docs);
        return (cases, docs);
    }

    [Fact]
    public async Task PushWithLedger_ThreeProtocols_ConfirmedThenUnchangedOnTheSecondRun()
    {
        var (cases, docs) = await CasesAsync("cli-three", 3);

        var first = Run("push", docs, "--server", server.BaseUrl.ToString(), "--ledger", Ledger, "--parallel", "2", "--verbose");
        var second = Run("push", docs, "--server", server.BaseUrl.ToString(), "--ledger", "sqlite:" + Ledger);

        Assert.True(first.Exit == 0, first.Out + first.Err);
        var lines = first.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        foreach (var c in cases)
        {
            var count = Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(c.Protocol).Entry.Count;
            Assert.Contains($"{Path.Combine(docs, c.FileName)} → protocol {c.Protocol.Id}: confirmed after 1 attempt(s); resources: {count} confirmed", lines);
        }
        Assert.Contains("3 push(es) processed, 0 protocol(s) unchanged", first.Err, StringComparison.Ordinal);
        Assert.Equal(0, second.Exit);
        Assert.Equal(3, second.Out.Split('\n').Count(l => l.Contains(": unchanged since the last confirmed push, nothing sent; resources: ", StringComparison.Ordinal)));
        Assert.Contains("0 push(es) processed, 3 protocol(s) unchanged", second.Err, StringComparison.Ordinal);
        var onServer = await SyntheticProtocols.OnServerAsync(server.CreateClient(), cases, SyntheticProtocols.ResourceTypes(cases));
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers(cases).Order(), onServer.Order());
        Assert.Contains("Protocol " + cases[0].Protocol.Id + " confirmed", first.Err, StringComparison.Ordinal); // verbose logs are there …
        Assert.All(cases, c => Assert.DoesNotContain(c.Protocol.Patient.Value, first.Err + second.Err, StringComparison.OrdinalIgnoreCase)); // … without patient data
    }

    [Fact]
    public async Task PushWithLedger_UnknownPatient_DeadListedRetriedThenConfirmed()
    {
        var (cases, docs) = await CasesAsync("cli-dead", 2, seedPatients: false);
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction([cases[0]]));
        var dead = cases[1].Protocol.Id;

        var push = Run("push", docs, "--server", server.BaseUrl.ToString(), "--ledger", Ledger, "--format", "json");
        var list = Run("ledger", "list", "--ledger", Ledger, "--state", "dead", "--format", "json");
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction([cases[1]])); // the EHR registers the patient
        var retry = Run("ledger", "retry", "--ledger", Ledger, dead);
        var resume = Run("push", "--server", server.BaseUrl.ToString(), "--ledger", Ledger);
        var listAll = Run("ledger", "list", "--ledger", Ledger);

        Assert.Equal(1, push.Exit);
        var report = JsonDocument.Parse(push.Out).RootElement;
        Assert.Equal(["confirmed", "dead"], report.EnumerateArray().Select(e => e.GetProperty("state").GetString()));
        var deadCount = Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(cases[1].Protocol).Entry.Count;
        Assert.StartsWith($"{deadCount} of {deadCount} resources refused for good; first: ", report[1].GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Contains("the patient was not found on the server", report[1].GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, list.Exit);
        var deadItem = Assert.Single(JsonDocument.Parse(list.Out).RootElement.EnumerateArray());
        Assert.Equal((dead, "dead", 1), (deadItem.GetProperty("protocol").GetString(), deadItem.GetProperty("state").GetString(), deadItem.GetProperty("attempts").GetInt32()));
        Assert.Equal(0, retry.Exit);
        Assert.StartsWith("re-queued 1 dead letter(s)", retry.Out, StringComparison.Ordinal);
        Assert.True(resume.Exit == 0, resume.Out + resume.Err);
        Assert.Equal(2, resume.Out.Split('\n').Count(l => l.StartsWith("protocol ", StringComparison.Ordinal) && l.Contains(": confirmed after 1 attempt(s)", StringComparison.Ordinal)));
        Assert.Equal(0, listAll.Exit);
        Assert.StartsWith($"ledger {Ledger}: 2 protocol push(es)", listAll.Out, StringComparison.Ordinal);
        Assert.Equal(2, listAll.Out.Split('\n').Count(l => l.Contains(" confirmed ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task LedgerList_Resources_ShowsEachResourceWithItsServerId()
    {
        var (cases, docs) = await CasesAsync("cli-res", 1);
        Assert.Equal(0, Run("push", docs, "--server", server.BaseUrl.ToString(), "--ledger", Ledger).Exit);

        var list = Run("ledger", "list", "--ledger", Ledger, "--resources");

        Assert.Equal(0, list.Exit);
        var count = Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(cases[0].Protocol).Entry.Count;
        var resourceLines = list.Out.Split('\n').Where(l => l.StartsWith("      ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(count, resourceLines.Length);
        Assert.All(resourceLines, l => Assert.Matches(@"^      \w+ +\S+ +confirmed +\S+/_history/\S+$", l));
        Assert.All(resourceLines, l => Assert.Contains($" {cases[0].Protocol.Id}/", l, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(new[] { "ledger", "retry", "--ledger", "LEDGER" }, "ledger retry needs protocol ids or --all (not both)")]
    [InlineData(new[] { "ledger", "retry", "--ledger", "LEDGER", "--all", "p1" }, "ledger retry needs protocol ids or --all (not both)")]
    [InlineData(new[] { "ledger", "retry", "--ledger", "LEDGER", "no-such-protocol" }, "protocol 'no-such-protocol' is not in the ledger")]
    [InlineData(new[] { "ledger", "list", "--ledger", "LEDGER", "--state", "lost" }, "--state 'lost' is not one of queued, claimed, confirmed, failed, dead")]
    [InlineData(new[] { "ledger", "list", "--ledger", "sqlite:" }, "--ledger: the ledger spec 'sqlite:' has no path")]
    [InlineData(new[] { "ledger", "list", "--ledger", "/proc/no-such-dir/ledger.db" }, "cannot be opened")]
    [InlineData(new[] { "ledger", "list" }, "Option '--ledger' is required")]
    [InlineData(new[] { "push", "--server", "http://127.0.0.1:9/fhir" }, "push needs protocol documents (or --ledger SPEC")]
    [InlineData(new[] { "push", "--server", "http://127.0.0.1:9/fhir", "--ledger", "LEDGER", "--parallel", "0" }, "--parallel 0 is out of range (fix: 1–64)")]
    public void Usage_Errors_Exit2WithAFix(string[] args, string expected)
    {
        var result = Run(args.Select(a => a == "LEDGER" ? Ledger : a).ToArray());

        Assert.Equal(2, result.Exit);
        Assert.Contains(expected, result.Err, StringComparison.Ordinal);
    }
}
