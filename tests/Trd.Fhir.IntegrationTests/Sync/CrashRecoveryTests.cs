using System.Diagnostics;
using System.Text;
using Trd.Fhir.Adapter.Sync.Ledger;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>
/// A real <c>trd-fhir push --ledger</c> child process, pushing synthetic protocols to the real test server, is killed with
/// SIGKILL mid-run (once the ledger shows some protocols confirmed and others not), then started again with the same
/// command. It must finish with exit 0, the server must hold exactly the expected resources (each business identifier once,
/// none missing), and the ledger must show every protocol and every resource confirmed.
/// </summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class CrashRecoveryTests(FhirServerFixture server) : IAsyncLifetime
{
    // 24 protocols ≈ 480 resources. The test server's searches are linear scans (every conditional create and look-up), so
    // a run costs O(n²): 60 protocols took 7–11 min on the shared 2-core CI machine, 24 take a fraction of that and still
    // leave room to kill the run mid-way.
    private const int Protocols = 24;
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-crash-").FullName;

    public Task InitializeAsync() => server.ResetAsync();

    public Task DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private sealed class Child(Process process, StringBuilder stdout, StringBuilder stderr) : IDisposable
    {
        public Process Process { get; } = process;
        public string Out => Locked(stdout);
        public string Err => Locked(stderr);

        private static string Locked(StringBuilder text)
        {
            lock (text)
                return text.ToString();
        }

        public void Dispose() => Process.Dispose();
    }

    /// <summary><c>dotnet trd-fhir.dll push …</c> from this test's output directory (the adapter is a project reference).</summary>
    private Child Start(params string[] args)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _dir,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "trd-fhir.dll"));
        foreach (var arg in args)
            startInfo.ArgumentList.Add(arg);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => { lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        Assert.True(process.Start());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new Child(process, stdout, stderr);
    }

    [Fact]
    public async Task PushWithLedger_KilledMidRunAndRestarted_ServerHoldsExactlyTheExpectedResourcesAndLedgerAllConfirmed()
    {
        var cases = SyntheticProtocols.Generate(Protocols, 42, "crash");
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction(cases));
        var docs = Path.Combine(_dir, "docs");
        SyntheticProtocols.WriteDocuments(cases, docs);
        var ledgerPath = Path.Combine(_dir, "ledger.db");
        string[] command = ["push", docs, "--server", server.BaseUrl.ToString(), "--ledger", ledgerPath, "--parallel", "2"];

        // 1. Run until the ledger shows some protocols confirmed and others not, then SIGKILL.
        int confirmedAtKill, claimedAtKill;
        using (var first = Start(command))
        {
            await using var watcher = new SqliteSyncLedger(ledgerPath, TimeProvider.System);
            while (true)
            {
                Assert.False(first.Process.HasExited, $"the first run ended (exit {(first.Process.HasExited ? first.Process.ExitCode : 0)}) before it could be killed mid-run:\n{first.Out}\n{first.Err}");
                if (File.Exists(ledgerPath) && await watcher.IsReadyAsync(CancellationToken.None)
                    && (await watcher.ListAsync(WorkState.Confirmed, CancellationToken.None)).Count >= 3)
                    break;
                await Task.Delay(50);
            }
            first.Process.Kill(); // SIGKILL on Unix: no chance to finish a write, flush or complete a claim
            await first.Process.WaitForExitAsync();
            var items = await watcher.ListAsync(null, CancellationToken.None);
            confirmedAtKill = items.Count(i => i.State == WorkState.Confirmed);
            claimedAtKill = items.Count(i => i.State == WorkState.Claimed);
            Assert.InRange(confirmedAtKill, 3, Protocols - 1);
            Assert.Equal(137, first.Process.ExitCode); // 128 + SIGKILL
        }

        // 2. The same command again: recovers, reconciles, finishes.
        using var second = Start(command);
        await second.Process.WaitForExitAsync();

        Assert.True(second.Process.ExitCode == 0, $"exit {second.Process.ExitCode}\n{second.Out}\n{second.Err}");
        if (claimedAtKill > 0)
            Assert.Contains($"recovered {claimedAtKill} protocol push(es) an earlier run left unfinished", second.Err, StringComparison.Ordinal);
        Assert.Contains($"{confirmedAtKill} protocol(s) unchanged since their last confirmed push", second.Err, StringComparison.Ordinal);

        // 3. The server holds every expected resource exactly once.
        var expected = SyntheticProtocols.ExpectedIdentifiers(cases);
        var onServer = await SyntheticProtocols.OnServerAsync(server.CreateClient(), cases, SyntheticProtocols.ResourceTypes(cases));
        var duplicates = onServer.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => $"{g.Key.ResourceType} {g.Key.Identifier} ×{g.Count()}").ToArray();
        Assert.Empty(duplicates);
        Assert.Empty(expected.Except(onServer).Select(m => $"missing {m.ResourceType} {m.Identifier}"));
        Assert.Equal(expected.Count, onServer.Count);

        // 4. The ledger shows every protocol and every resource confirmed.
        await using var ledger = new SqliteSyncLedger(ledgerPath, TimeProvider.System);
        var all = await ledger.ListAsync(null, CancellationToken.None);
        Assert.Equal(Protocols, all.Count);
        Assert.All(all, i => Assert.Equal(WorkState.Confirmed, i.State));
        var resources = await ledger.ResourcesAsync(null, CancellationToken.None);
        Assert.Equal(expected.Count, resources.Count);
        Assert.All(resources, r => Assert.Equal(ResourceState.Confirmed, r.State));
        Assert.Equal(expected.Order(), resources.Select(r => (r.ResourceType, $"{r.IdentifierSystem}|{r.IdentifierValue}")).Order());
    }
}
