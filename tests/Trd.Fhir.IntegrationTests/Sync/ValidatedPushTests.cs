using System.Text.Json.Nodes;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>
/// <c>trd-fhir push</c> validates every mapped Bundle before it sends anything: a protocol that maps to a Bundle that does
/// not conform stops the push with the findings (exit 1) and the real server holds nothing of it; <c>--no-validate</c>
/// sends it anyway. The non-conforming Bundle comes from a stricter copy of our trd-condition profile (Condition.note 1..*,
/// which the mapping never fills) given with <c>--ig</c>.
/// </summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class ValidatedPushTests(FhirServerFixture server) : IAsyncLifetime, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-validated-push-").FullName;

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

    private string StricterConditionIg()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "ig")).FullName;
        var sd = JsonNode.Parse(File.ReadAllText(Path.Combine(FhirServerFixture.FindRepoRoot(), "profiles", "StructureDefinition-trd-condition.json")))!;
        sd["differential"]!["element"]!.AsArray().Add(new JsonObject { ["id"] = "Condition.note", ["path"] = "Condition.note", ["min"] = 1 });
        File.WriteAllText(Path.Combine(dir, "StructureDefinition-trd-condition.json"), sd.ToJsonString());
        return dir;
    }

    private async Task<(IReadOnlyList<SyntheticCase> Cases, string Docs)> CasesAsync(string tag)
    {
        var cases = SyntheticProtocols.Generate(2, 7, tag);
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction(cases));
        var docs = Path.Combine(_dir, "docs-" + tag);
        SyntheticProtocols.WriteDocuments(cases, docs);
        return (cases, docs);
    }

    [Fact]
    public async Task Push_BundleNotConforming_StopsBeforeSendingWithTheFindingsExit1()
    {
        var (cases, docs) = await CasesAsync("push-invalid");

        var (exit, stdout, stderr) = Run("push", docs, "--server", server.BaseUrl.ToString(), "--ig", StricterConditionIg());

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        foreach (var c in cases)
        {
            var file = Path.Combine(docs, c.FileName);
            Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(file)}: error invalid: Bundle\.entry\[\d+\]\.resource: Missing required member: 'note'\n", stderr);
            Assert.Contains($"{file}: the mapped Bundle does not conform to the profiles (1 error(s)); nothing was sent (fix: correct the protocol document, or push with --no-validate to send it anyway)", stderr, StringComparison.Ordinal);
        }
        Assert.Empty(await SyntheticProtocols.OnServerAsync(server.CreateClient(), cases, SyntheticProtocols.ResourceTypes(cases)));
    }

    [Fact]
    public async Task PushWithLedger_BundleNotConforming_NothingQueuedNothingSentExit1()
    {
        var (cases, docs) = await CasesAsync("push-invalid-ledger");
        var ledger = Path.Combine(_dir, "ledger.db");

        var push = Run("push", docs, "--server", server.BaseUrl.ToString(), "--ledger", ledger, "--ig", StricterConditionIg());
        var list = Run("ledger", "list", "--ledger", ledger);

        Assert.Equal(1, push.Exit);
        Assert.Contains("nothing was sent", push.Err, StringComparison.Ordinal);
        Assert.StartsWith($"ledger {ledger}: 0 protocol push(es)", list.Out, StringComparison.Ordinal);
        Assert.Empty(await SyntheticProtocols.OnServerAsync(server.CreateClient(), cases, SyntheticProtocols.ResourceTypes(cases)));
    }

    [Fact]
    public async Task Push_NoValidate_SendsTheNonConformingBundleAnyway()
    {
        var (cases, docs) = await CasesAsync("push-novalidate");

        var (exit, stdout, stderr) = Run("push", docs, "--server", server.BaseUrl.ToString(), "--ig", StricterConditionIg(), "--no-validate");

        Assert.True(exit == 0, stdout + stderr);
        Assert.DoesNotContain("note", stderr, StringComparison.Ordinal);
        var onServer = await SyntheticProtocols.OnServerAsync(server.CreateClient(), cases, SyntheticProtocols.ResourceTypes(cases));
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers(cases).Order(), onServer.Order());
    }
}
