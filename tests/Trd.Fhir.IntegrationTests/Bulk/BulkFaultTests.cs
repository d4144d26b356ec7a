using System.Security.Cryptography;
using Trd.Fhir.Adapter.Bulk;
using Trd.Fhir.Adapter.Cli;
using Trd.Fhir.IntegrationTests.Ledger;
using Trd.Fhir.IntegrationTests.Sync;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Bulk;

/// <summary>
/// <c>trd-fhir export</c> through the faults real Bulk Data servers add (issue 15 item 4), played by WireMock.Net in front of
/// the real test server (<see cref="BulkFaultProxy"/>): 429 + Retry-After on the status poll, 5xx on a file, an expired token
/// on a file that needs one, a file that ends mid-line, and the process killed mid-poll and mid-file. Outcomes are exact:
/// the requests per URL in WireMock's log, the bytes on disk against the real server's files, the messages and exit codes.
/// </summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class BulkFaultTests(FhirServerFixture server) : IAsyncLifetime, IDisposable
{
    private const string StatusPath = "/$export-status/";
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-export-faults-").FullName;
    private BulkFaultProxy _proxy = null!;

    private string Out => Path.Combine(_dir, "export");

    public async Task InitializeAsync()
    {
        await server.ResetAsync();
        await BulkServer.PushAsync(server, SyntheticProtocols.Generate(3, 31, "bulk-faults"));
        await BulkServer.ConfigureAsync(server, polls: 1, retryAfter: 1, fileLines: 5);
        _proxy = new BulkFaultProxy(server.BaseUrl);
    }

    public Task DisposeAsync() => BulkServer.ConfigureAsync(server);

    public void Dispose()
    {
        _proxy.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, new CliConsole(stdout, stderr));
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private string[] Export(params string[] extra) => ["export", "--server", _proxy.BaseUrl.ToString(), "-o", Out, .. extra];

    private static string Tail(string url) => "/" + string.Join('/', new Uri(url).AbsolutePath.Split('/')[^2..]);

    private IReadOnlyList<BulkFaultProxy.Seen> Fetches(ExportFile file) => _proxy.Requests(Tail(file.Url));

    private static IEnumerable<int> Statuses(IEnumerable<BulkFaultProxy.Seen> seen) => seen.Select(s => s.Status);

    /// <summary>Every file is done and on disk byte for byte as the real server sent it.</summary>
    private void AssertFilesAreTheServers(ExportState state)
    {
        foreach (var file in state.Files)
        {
            Assert.Equal(FileState.Done, file.State);
            Assert.Equal(_proxy.ServerFile(Tail(file.Url)), File.ReadAllBytes(Path.Combine(Out, file.Name)));
        }
    }

    /// <summary>Every file but <paramref name="except"/> was requested exactly once, with a 200.</summary>
    private void AssertEachFileFetchedOnce(ExportState state, params string[] except)
    {
        foreach (var file in state.Files.Where(f => !except.Contains(f.Name)))
            Assert.True(Statuses(Fetches(file)).SequenceEqual([200]), $"{file.Name}: {string.Join(", ", Statuses(Fetches(file)))}");
    }

    private static void AssertWaited(IReadOnlyList<BulkFaultProxy.Seen> seen, int after, TimeSpan atLeast) =>
        Assert.True(seen[after + 1].At - seen[after].At >= atLeast - TimeSpan.FromMilliseconds(10),
            $"request {after + 2} came {(seen[after + 1].At - seen[after].At).TotalMilliseconds} ms after request {after + 1}, asked to wait {atLeast.TotalMilliseconds} ms");

    /// <summary>
    /// Six 429s with Retry-After: 1 on the status URL. By default the transport's throttle handler waits them out (logged,
    /// never counted as a failure); with <c>--max-wait 0</c> (no transport waits) each 429 reaches the poll loop, which waits the
    /// Retry-After itself. Either way: each next poll comes at least 1 s later, then the server's 202 and the manifest.
    /// </summary>
    [Theory]
    [InlineData(false, @"throttled \(429\): waiting (9[0-9][0-9]|1000) ms")] // the Retry-After less the time since the answer
    [InlineData(true, @"export: status poll answered 429; next poll in 1 s")]
    public void Export_StatusPollAnswers429WithRetryAfter_WaitsAsToldEachTimeThenDownloadsEveryFileOnce(bool noTransportWaits, string waitLine)
    {
        _proxy.Add(@"/\$export-status/", new BulkFault.Status(429, RetryAfterSeconds: 1), times: 6);

        var (exit, _, stderr) = Run(noTransportWaits ? Export("--max-wait", "0") : Export());

        Assert.True(exit == 0, stderr);
        var polls = _proxy.Requests().Where(r => r.Method == "GET" && r.Path.Contains(StatusPath, StringComparison.Ordinal)).ToList();
        Assert.Equal([429, 429, 429, 429, 429, 429, 202, 200], Statuses(polls));
        for (var i = 0; i < 6; i++)
            AssertWaited(polls, i, TimeSpan.FromSeconds(1));
        Assert.Single(polls.Select(p => p.Path).Distinct()); // always the same status URL
        Assert.True(6 == System.Text.RegularExpressions.Regex.Count(stderr, waitLine), stderr);
        Assert.Single(_proxy.Requests("/Patient/$export"));
        var state = ExportState.Load(Out)!;
        Assert.True(state.Files.Count > 5);
        AssertEachFileFetchedOnce(state);
        AssertFilesAreTheServers(state);
        Assert.Equal([202], Statuses(_proxy.Requests().Where(r => r.Method == "DELETE")));
    }

    [Fact]
    public void Export_FileAnswers503Twice_RetriedAfterRetryAfterAndWrittenWhole()
    {
        _proxy.Add(@"/Observation-1\.ndjson$", new BulkFault.Status(503, RetryAfterSeconds: 1), times: 2);

        var (exit, _, stderr) = Run(Export());

        Assert.True(exit == 0, stderr);
        var state = ExportState.Load(Out)!;
        var observations = state.Files.Single(f => f.Name == "Observation-1.ndjson");
        var fetches = Fetches(observations);
        Assert.Equal([503, 503, 200], Statuses(fetches));
        AssertWaited(fetches, 0, TimeSpan.FromSeconds(1));
        AssertWaited(fetches, 1, TimeSpan.FromSeconds(1));
        Assert.Equal(2, stderr.Split('\n').Count(l => l.Contains("Observation-1.ndjson: 503 Service Unavailable; trying again", StringComparison.Ordinal)));
        AssertEachFileFetchedOnce(state, observations.Name);
        AssertFilesAreTheServers(state);
    }

    [Fact]
    public async Task Export_SmartTokenExpiresBeforeAFileThatNeedsIt_TokenRefreshedAndTheFileFetched()
    {
        var key = Path.Combine(_dir, "key.pem");
        using (var rsa = RSA.Create(2048))
            await File.WriteAllTextAsync(key, rsa.ExportPkcs8PrivateKeyPem());
        _proxy.Add(@"/Observation-1\.ndjson$", new BulkFault.Status(401), times: 1, token: "token-1");

        var (exit, _, stderr) = Run(Export("--auth", "smart-backend", "--client-id", "trd-bulk", "--private-key", key));

        Assert.True(exit == 0, stderr);
        var state = ExportState.Load(Out)!;
        Assert.True(state.RequiresAccessToken); // the kick-off carried a token, so every file needs one
        Assert.Equal(2, _proxy.TokensIssued);
        var observations = state.Files.Single(f => f.Name == "Observation-1.ndjson");
        Assert.Equal([(401, "Bearer token-1"), (200, "Bearer token-2")], Fetches(observations).Select(s => (s.Status, s.Authorization)));
        var index = state.Files.IndexOf(observations);
        Assert.All(state.Files.Take(index), f => Assert.Equal([(200, "Bearer token-1")], Fetches(f).Select(s => (s.Status, s.Authorization))));
        Assert.All(state.Files.Skip(index + 1), f => Assert.Equal([(200, "Bearer token-2")], Fetches(f).Select(s => (s.Status, s.Authorization))));
        AssertFilesAreTheServers(state);
    }

    [Fact]
    public void Export_StaticBearerTokenExpiresMidExport_StopsNamingTheFileAndARerunWithANewTokenContinues()
    {
        _proxy.Add(@"/\$export-file/", new BulkFault.Status(401), times: int.MaxValue, skip: 2, token: "soon-expired");

        var (exit, _, stderr) = Run(Export("--auth", "bearer", "--token", "soon-expired"));

        Assert.True(exit == 1, stderr);
        var state = ExportState.Load(Out)!;
        var third = state.Files[2];
        Assert.Contains($"trd-fhir: export: the server refused the access token for {third.Name} (401: access token expired); the token may have expired. The export is recorded in .trd-export.json: run the same command again (with a valid token) to continue", stderr);
        Assert.Equal([FileState.Done, FileState.Done, FileState.Pending], state.Files.Take(3).Select(f => f.State));
        Assert.DoesNotContain("soon-expired", stderr); // the token is never printed

        (exit, var stdout, stderr) = Run(Export("--auth", "bearer", "--token", "renewed"));

        Assert.True(exit == 0, stderr);
        Assert.Contains("(resumed run)", stdout);
        state = ExportState.Load(Out)!;
        Assert.Single(_proxy.Requests("/Patient/$export"));
        Assert.Equal([(401, "Bearer soon-expired"), (200, "Bearer renewed")], Fetches(third).Select(s => (s.Status, s.Authorization)));
        AssertEachFileFetchedOnce(state, third.Name);
        AssertFilesAreTheServers(state);
    }

    [Fact]
    public void Export_FileEndsMidLineOnce_FetchedAgainAndWrittenWhole()
    {
        _proxy.Add(@"/Observation-1\.ndjson$", new BulkFault.CutMidLine(), times: 1);

        var (exit, _, stderr) = Run(Export());

        Assert.True(exit == 0, stderr);
        var state = ExportState.Load(Out)!;
        Assert.Equal([200, 200], Statuses(Fetches(state.Files.Single(f => f.Name == "Observation-1.ndjson"))));
        AssertEachFileFetchedOnce(state, "Observation-1.ndjson");
        AssertFilesAreTheServers(state);
        Assert.False(File.Exists(Path.Combine(Out, "Observation-1.ndjson.part")));
    }

    [Fact]
    public async Task Export_FileEndsMidLineTwice_ReportedDamagedNotHalfIngestedAndARerunFetchesOnlyThatFile()
    {
        _proxy.Add(@"/Observation-1\.ndjson$", new BulkFault.CutMidLine(), times: 2);

        var (exit, stdout, stderr) = Run(Export());

        Assert.Equal(1, exit);
        var state = ExportState.Load(Out)!;
        var damaged = state.Files.Single(f => f.Name == "Observation-1.ndjson");
        Assert.Equal(FileState.Damaged, damaged.State);
        var whole = _proxy.ServerFile(Tail(damaged.Url));
        var lines = File.ReadAllLines(Path.Combine(Out, damaged.Name));
        var lastLineStart = Array.LastIndexOf(whole, (byte)'\n', whole.Length - 2) + 1;
        Assert.Equal(whole[..lastLineStart], await File.ReadAllBytesAsync(Path.Combine(Out, damaged.Name))); // whole lines only, the cut one dropped
        var arrived = whole.Length - 21 - lastLineStart; // the proxy cut the newline and 20 bytes off the last line
        Assert.Contains($"damaged: Observation-1.ndjson: the server's file ends mid-line (twice): its last line ({arrived} bytes) is incomplete and was dropped; {lines.Length} whole resources kept", stdout);
        Assert.DoesNotContain(_proxy.Requests(), r => r.Method == "DELETE"); // kept on the server for the rerun
        // cohort will not read an export with a damaged file as if it were whole
        var (cohortExit, _, cohortErr) = Run("cohort", Out, "--format", "json", "--as-of", "2026-12-01");
        Assert.Equal(1, cohortExit);
        Assert.Contains($"cohort: {Out} is an incomplete export: Observation-1.ndjson is damaged (the server's file ends mid-line (twice)", cohortErr);
        Assert.Contains("Fix: run the same 'trd-fhir export' command again to finish it", cohortErr);

        (exit, stdout, stderr) = Run(Export());

        Assert.True(exit == 0, stderr);
        Assert.Contains("(resumed run)", stdout);
        state = ExportState.Load(Out)!;
        Assert.Equal([200, 200, 200], Statuses(Fetches(damaged)));
        Assert.All(Fetches(damaged), f => Assert.Null(f.Range)); // a damaged file is fetched again from the start
        AssertEachFileFetchedOnce(state, damaged.Name);
        AssertFilesAreTheServers(state);
        Assert.Equal([202], Statuses(_proxy.Requests().Where(r => r.Method == "DELETE")));
    }

    [Fact]
    public async Task Export_ProcessKilledMidPollThenMidFile_ThirdRunFinishesWithOneKickOffAndNoByteFetchedTwice()
    {
        await BulkServer.ConfigureAsync(server, polls: 3, retryAfter: 1, fileLines: 5);
        var hold = new BulkFault.HoldAfterHalf();
        _proxy.Add(@"/Observation-1\.ndjson$", hold, times: 1);
        var state = () => ExportState.Load(Out);

        // 1: killed while the server is still working (the status URL is recorded, no manifest yet)
        using (var first = AdapterProcess.Start(Export()))
        {
            await WaitUntilAsync(first, () => state()?.StatusUrl is not null && _proxy.Requests().Any(r => r.Path.Contains(StatusPath, StringComparison.Ordinal)));
            await first.KillAsync();
        }
        Assert.Null(state()!.TransactionTime);

        // 2: resumes polling the same URL, downloads, and is killed with half of Observation-1 on disk
        var part = Path.Combine(Out, "Observation-1.ndjson.part");
        using (var second = AdapterProcess.Start(Export()))
        {
            await WaitUntilAsync(second, () => hold.Holding.Task.IsCompleted && File.Exists(part) && new FileInfo(part).Length == hold.SentBytes);
            await second.KillAsync();
        }
        Assert.True(hold.SentBytes > 0);
        Assert.Equal(hold.SentBytes, new FileInfo(part).Length);

        // 3: finishes
        var (exit, stdout, stderr) = Run(Export());

        Assert.True(exit == 0, stderr);
        Assert.Contains("(resumed run)", stdout);
        Assert.Single(_proxy.Requests("/Patient/$export")); // one kick-off in three runs
        var polls = _proxy.Requests().Where(r => r.Path.Contains(StatusPath, StringComparison.Ordinal) && r.Method == "GET").ToList();
        Assert.Single(polls.Select(p => p.Path).Distinct());
        Assert.Equal([202, 202, 202, 200], Statuses(polls).TakeLast(4));
        var done = state()!;
        var observations = done.Files.Single(f => f.Name == "Observation-1.ndjson");
        // the held file: once from the start (cut by the kill), then only its missing bytes
        Assert.Equal([(200, (string?)null), (206, $"bytes={hold.SentBytes}-")], Fetches(observations).Select(f => (f.Status, f.Range)));
        AssertEachFileFetchedOnce(done, observations.Name);
        AssertFilesAreTheServers(done);
        Assert.False(File.Exists(part));
    }

    /// <summary>Until <paramref name="condition"/> holds; fails when the process exits first (a guard against a hang, not a performance limit).</summary>
    private static async Task WaitUntilAsync(AdapterProcess process, Func<bool> condition)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (process.HasExited)
                Assert.Fail($"trd-fhir exited with {await process.WaitAsync()} before the moment to kill it:\n{process.Stderr}");
            Assert.True(started.Elapsed < TimeSpan.FromMinutes(3), $"the moment to kill never came:\n{process.Stderr}");
            await Task.Delay(20);
        }
    }
}
