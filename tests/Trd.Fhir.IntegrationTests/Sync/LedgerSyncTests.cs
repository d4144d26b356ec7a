using System.Collections.Concurrent;
using System.Net;
using Hl7.Fhir.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.Adapter.Transport;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>
/// The ledger-driven push against the real test server, with a journal of every HTTP request the adapter sends (method, path,
/// and for Bundles the entry types) and, where a test asks, injected faults. The ledger is SQLite on a fake clock; the
/// transport makes no retries of its own, so every fault reaches the ledger.
/// </summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class LedgerSyncTests(FhirServerFixture server) : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 27, 9, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "trd-ledger-sync-tests", Path.GetRandomFileName());
    private readonly List<IAsyncDisposable> _disposables = [];

    public Task InitializeAsync() => server.ResetAsync();

    public async Task DisposeAsync()
    {
        foreach (var disposable in _disposables)
            await disposable.DisposeAsync();
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    /// <summary>What the adapter sent: "GET Observation", "POST / batch Observation,Goal", "PUT Observation".</summary>
    private sealed class Journal
    {
        public ConcurrentQueue<string> Requests { get; } = new();
        public Func<HttpRequestMessage, HttpResponseMessage?>? Fault { get; set; }

        public string[] Writes => Requests.Where(r => !r.StartsWith("GET", StringComparison.Ordinal)).ToArray();
    }

    private sealed class JournalHandler(Journal journal) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            var resource = path[(path.IndexOf("/fhir", StringComparison.Ordinal) + 5)..].Trim('/');
            var line = $"{request.Method.Method} {(resource.Length == 0 ? "/" : resource)}";
            if (request.Content is not null && resource.Length == 0)
            {
                var bundle = (Bundle)FhirJson.Parse(await request.Content.ReadAsByteArrayAsync(cancellationToken), out _)!;
                line += $" {bundle.Type.ToString()!.ToLowerInvariant()} {string.Join(",", bundle.Entry.Select(e => e.Resource!.TypeName))}";
            }
            journal.Requests.Enqueue(line);
            return journal.Fault?.Invoke(request) ?? await base.SendAsync(request, cancellationToken);
        }
    }

    private sealed record Harness(LedgerSync Sync, ISyncLedger Ledger, Journal Journal, FakeTimeProvider Time);

    private async Task<Harness> NewHarnessAsync(string ledgerFile = "ledger.db", Action<LedgerSyncOptions>? configure = null, FakeTimeProvider? time = null, ResilienceSettings? resilience = null)
    {
        time ??= new FakeTimeProvider(Start);
        var journal = new Journal();
        var services = new ServiceCollection();
        services.AddLogging();
        if (resilience is not null)
            services.AddSingleton<TimeProvider>(time); // the transport's circuit breaker on the test clock too
        services.AddTrdFhirTransport(new FhirServerOptions { BaseUrl = server.BaseUrl, Resilience = resilience ?? new ResilienceSettings { MaxRetries = 0, BreakerMinimumThroughput = 10_000 } });
        services.AddHttpClient(Trd.Fhir.Adapter.Transport.TransportContext.HttpClientName).AddHttpMessageHandler(() => new JournalHandler(journal));
        var provider = services.BuildServiceProvider();
        _disposables.Add(provider);
        var connection = new FhirServerConnection(provider.GetRequiredService<IHttpClientFactory>(), server.BaseUrl, NullLogger<FhirServerConnection>.Instance);
        var ledger = new SqliteSyncLedger(Path.Combine(_directory, ledgerFile), time);
        _disposables.Add(ledger);
        var options = new LedgerSyncOptions { Worker = "test-worker", RetryBaseDelay = TimeSpan.FromSeconds(1), DrainRetryHorizon = TimeSpan.Zero };
        configure?.Invoke(options);
        var sync = new LedgerSync(ledger, new PushWorkflow(connection, NullLogger<PushWorkflow>.Instance), ProtocolToFhir.Default, options, time, NullLogger<LedgerSync>.Instance);
        await sync.RecoverAsync(CancellationToken.None); // initialises the ledger too
        return new Harness(sync, ledger, journal, time);
    }

    private async Task<SyntheticCase> SeededCaseAsync(string tag, int seed = 1)
    {
        var c = SyntheticProtocols.Generate(1, seed, tag)[0];
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction([c]));
        return c;
    }

    private static int MappedCount(TrdProtocol protocol) => ProtocolToFhir.Default.Map(protocol).Entry.Count;

    private async Task<List<(string ResourceType, string Identifier)>> OnServerAsync(SyntheticCase c) =>
        await SyntheticProtocols.OnServerAsync(server.CreateClient(), [c], SyntheticProtocols.ResourceTypes([c]));

    private static HttpResponseMessage Status(HttpStatusCode status, string diagnostics) => new(status)
    {
        Content = new StringContent(FhirJson.Serialize(new OperationOutcome
        {
            Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.Processing, Diagnostics = diagnostics }],
        }), System.Text.Encoding.UTF8, "application/fhir+json"),
    };

    private static bool IsWrite(HttpRequestMessage request) => request.Method != HttpMethod.Get;

    // ---- happy path, unchanged, changed ----

    [Fact]
    public async Task PushNowAsync_NewProtocol_ConfirmedAndEveryResourceConfirmedWithServerIdAndVersion()
    {
        var c = await SeededCaseAsync("ls-new");
        var h = await NewHarnessAsync();

        var result = await h.Sync.PushNowAsync(c.Protocol, CancellationToken.None);

        Assert.True(result.Report!.Success);
        Assert.Equal((WorkState.Confirmed, 1, "test-worker"), (result.Item.State, result.Item.Attempts, result.Item.ClaimedBy));
        var rows = await h.Ledger.ResourcesAsync(c.Protocol.Id, CancellationToken.None);
        Assert.Equal(MappedCount(c.Protocol), rows.Count);
        Assert.All(rows, r => Assert.Equal((ResourceState.Confirmed, 1, "test-worker", (string?)null), (r.State, r.Attempts, r.PushedBy, r.LastError)));
        Assert.All(rows, r => Assert.False(string.IsNullOrEmpty(r.ServerId) || string.IsNullOrEmpty(r.ServerVersion), $"{r.IdentifierValue}: id {r.ServerId}, version {r.ServerVersion}"));
        var onServer = await OnServerAsync(c);
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers([c]).Order(), onServer.Order());
    }

    [Fact]
    public async Task PushNowAsync_SameProtocolAgain_NothingSentAtAll()
    {
        var c = await SeededCaseAsync("ls-same");
        var h = await NewHarnessAsync();
        await h.Sync.PushNowAsync(c.Protocol, CancellationToken.None);
        var requestsBefore = h.Journal.Requests.Count;

        var again = await h.Sync.PushNowAsync(c.Protocol, CancellationToken.None);

        Assert.Null(again.Report);
        Assert.Equal((WorkState.Confirmed, 1), (again.Item.State, again.Item.Attempts));
        Assert.Equal(requestsBefore, h.Journal.Requests.Count); // not one request: no lookup, no write
    }

    [Fact]
    public async Task PushNowAsync_OneMorePhq9_OnlyChangedResourcesLookedUpAndSent()
    {
        var c = await SeededCaseAsync("ls-changed");
        var h = await NewHarnessAsync();
        await h.Sync.PushNowAsync(c.Protocol, CancellationToken.None);
        var before = (await h.Ledger.ResourcesAsync(c.Protocol.Id, CancellationToken.None)).ToDictionary(r => r.IdentifierValue, r => r.ContentHash);
        var last = c.Protocol.Phq9[^1];
        var changed = c.Protocol with { Phq9 = [.. c.Protocol.Phq9, new Phq9Assessment(last.Date.AddDays(14), null, null, Math.Max(0, last.Total - 2))] };
        h.Journal.Requests.Clear();

        var result = await h.Sync.PushNowAsync(changed, CancellationToken.None);

        var rows = await h.Ledger.ResourcesAsync(c.Protocol.Id, CancellationToken.None);
        var different = rows.Where(r => !before.TryGetValue(r.IdentifierValue, out var hash) || hash != r.ContentHash).ToArray();
        Assert.True(result.Report!.Success);
        Assert.NotEmpty(different);
        Assert.Equal(rows.Count - different.Length, result.Report.Count(PushState.Unchanged));
        Assert.Equal(different.Length, result.Report.Count(PushState.Created) + result.Report.Count(PushState.Updated));
        // what was written is exactly the changed resources, and types with nothing changed were not even looked up
        var written = h.Journal.Writes.SelectMany(w => w.Split(' ') is [_, "/", _, var types] ? types.Split(',') : [w.Split(' ')[1]]).ToArray();
        Assert.Equal(different.Select(d => d.ResourceType).Order(), written.Where(t => t != "Patient").Order());
        var untouchedTypes = rows.Select(r => r.ResourceType).Distinct().Except(different.Select(d => d.ResourceType)).ToArray();
        Assert.NotEmpty(untouchedTypes);
        Assert.DoesNotContain(h.Journal.Requests, r => untouchedTypes.Any(t => r.StartsWith($"GET {t}", StringComparison.Ordinal)));
        Assert.All(rows, r => Assert.Equal(ResourceState.Confirmed, r.State));
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers([c with { Protocol = changed }]).Order(), (await OnServerAsync(c)).Order());
    }

    // ---- failures ----

    [Fact]
    public async Task ProcessNextAsync_Transient503_FailedWithBackoffThenConfirmedOnRetry()
    {
        var c = await SeededCaseAsync("ls-503");
        var h = await NewHarnessAsync();
        h.Journal.Fault = r => IsWrite(r) ? Status(HttpStatusCode.ServiceUnavailable, "maintenance") : null;
        await h.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);

        var failed = await h.Sync.ProcessNextAsync(CancellationToken.None);
        var early = await h.Sync.ProcessNextAsync(CancellationToken.None);
        h.Journal.Fault = null;
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var retried = await h.Sync.ProcessNextAsync(CancellationToken.None);

        Assert.Equal((WorkState.Failed, 1, (DateTimeOffset?)Start.AddSeconds(1)), (failed!.Item.State, failed.Item.Attempts, failed.Item.NextAttemptAt));
        Assert.Contains("503", failed.Item.LastError, StringComparison.Ordinal);
        Assert.Null(early);
        Assert.Equal((WorkState.Confirmed, 2), (retried!.Item.State, retried.Item.Attempts));
        var rows = await h.Ledger.ResourcesAsync(c.Protocol.Id, CancellationToken.None);
        Assert.All(rows, r => Assert.Equal((ResourceState.Confirmed, 2), (r.State, r.Attempts)));
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers([c]).Order(), (await OnServerAsync(c)).Order());
    }

    [Fact]
    public async Task ProcessNextAsync_ConnectionReset_FailedWithTheSocketErrorInTheReason()
    {
        var c = await SeededCaseAsync("ls-reset");
        var h = await NewHarnessAsync();
        h.Journal.Fault = r => IsWrite(r)
            ? throw new HttpRequestException(HttpRequestError.ResponseEnded, "An error occurred while sending the request.", new IOException("Unable to read data from the transport connection: Connection reset by peer."))
            : null;
        await h.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);

        var failed = await h.Sync.ProcessNextAsync(CancellationToken.None);

        Assert.Equal(WorkState.Failed, failed!.Item.State);
        Assert.Contains("(ResponseEnded: Unable to read data from the transport connection: Connection reset by peer.)", failed.Item.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProcessNextAsync_CircuitOpen_NeverDeadLetteredAndRetriedWhenTheBreakerLetsRequestsThrough()
    {
        var c = await SeededCaseAsync("ls-circuit");
        var breaker = new ResilienceSettings { MaxRetries = 0, BreakerMinimumThroughput = 2, BreakerFailureRatio = 0.5, BreakDuration = TimeSpan.FromSeconds(30) };
        var h = await NewHarnessAsync(configure: o => o.MaxAttempts = 2, resilience: breaker);
        h.Journal.Fault = _ => Status(HttpStatusCode.ServiceUnavailable, "down");
        await h.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);

        var first = await h.Sync.ProcessNextAsync(CancellationToken.None);   // 503: a real failure, attempt 1 of 2
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var second = await h.Sync.ProcessNextAsync(CancellationToken.None);  // 503 again: out of attempts; the breaker opens
        await h.Ledger.RetryDeadAsync([c.Protocol.Id], CancellationToken.None);
        var requestsWhenOpen = h.Journal.Requests.Count;
        var third = await h.Sync.ProcessNextAsync(CancellationToken.None);   // the breaker is open: nothing is sent

        Assert.Equal((WorkState.Failed, (TimeSpan?)null), (first!.Item.State, first.Report!.CircuitOpenFor));
        Assert.Equal(WorkState.Dead, second!.Item.State);
        Assert.StartsWith("out of attempts (2)", second.Item.LastError, StringComparison.Ordinal);
        Assert.Equal(requestsWhenOpen, h.Journal.Requests.Count);
        Assert.NotNull(third!.Report!.CircuitOpenFor);
        Assert.Equal(WorkState.Failed, third.Item.State);                     // not dead: the server was not asked
        Assert.Contains("circuit breaker is open", third.Item.LastError, StringComparison.Ordinal);
        Assert.True(third.Item.NextAttemptAt >= h.Time.GetUtcNow() + TimeSpan.FromSeconds(25),
            $"retry at {third.Item.NextAttemptAt:O}, now {h.Time.GetUtcNow():O}: the retry must wait for the breaker (30 s), not the ledger's 1 s backoff");

        h.Journal.Fault = null;
        h.Time.Advance(third.Item.NextAttemptAt!.Value - h.Time.GetUtcNow());
        var healed = await h.Sync.ProcessNextAsync(CancellationToken.None);
        Assert.Equal(WorkState.Confirmed, healed!.Item.State);
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers([c]).Order(), (await OnServerAsync(c)).Order());
    }

    [Fact]
    public async Task ProcessNextAsync_AlwaysTransient_BackoffDoublesThenDeadOutOfAttempts()
    {
        var c = await SeededCaseAsync("ls-429");
        var h = await NewHarnessAsync(configure: o => o.MaxAttempts = 3);
        h.Journal.Fault = r => IsWrite(r) ? Status(HttpStatusCode.TooManyRequests, "slow down") : null;
        await h.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);

        var first = await h.Sync.ProcessNextAsync(CancellationToken.None);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        var second = await h.Sync.ProcessNextAsync(CancellationToken.None);
        h.Time.Advance(TimeSpan.FromSeconds(2));
        var third = await h.Sync.ProcessNextAsync(CancellationToken.None);

        Assert.Equal(Start.AddSeconds(1), first!.Item.NextAttemptAt);
        Assert.Equal(Start.AddSeconds(1 + 2), second!.Item.NextAttemptAt);
        Assert.Equal(WorkState.Dead, third!.Item.State);
        Assert.StartsWith("out of attempts (3); last error: ", third.Item.LastError, StringComparison.Ordinal);
        Assert.Contains("429", third.Item.LastError, StringComparison.Ordinal);
        Assert.Equal(WorkState.Dead, Assert.Single(await h.Ledger.ListAsync(WorkState.Dead, CancellationToken.None)).State);
        Assert.Empty(await OnServerAsync(c));
    }

    [Fact]
    public async Task ProcessNextAsync_422Refusal_DeadWithTheServersReasonAndResourcesDead()
    {
        var c = await SeededCaseAsync("ls-422");
        var h = await NewHarnessAsync();
        h.Journal.Fault = r => IsWrite(r) ? Status(HttpStatusCode.UnprocessableEntity, "Observation.code: not in the value set") : null;
        await h.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);

        var result = await h.Sync.ProcessNextAsync(CancellationToken.None);

        Assert.Equal((WorkState.Dead, 1, (DateTimeOffset?)null), (result!.Item.State, result.Item.Attempts, result.Item.NextAttemptAt));
        Assert.Contains("resources refused for good", result.Item.LastError, StringComparison.Ordinal);
        Assert.Contains("422", result.Item.LastError, StringComparison.Ordinal);
        Assert.Contains("not in the value set", result.Item.LastError, StringComparison.Ordinal);
        var rows = await h.Ledger.ResourcesAsync(c.Protocol.Id, CancellationToken.None);
        Assert.Contains(rows, r => r.State == ResourceState.Dead && r.LastError!.Contains("422", StringComparison.Ordinal));
        Assert.DoesNotContain(rows, r => r.State is ResourceState.Confirmed or ResourceState.Pending or ResourceState.Sent);
        h.Time.Advance(TimeSpan.FromDays(1));
        Assert.Null(await h.Sync.ProcessNextAsync(CancellationToken.None)); // a dead letter is not retried by itself
    }

    [Fact]
    public async Task PushNowAsync_PatientNotOnServer_DeadNothingWritten()
    {
        var c = SyntheticProtocols.Generate(1, 1, "ls-nopatient")[0]; // patient not seeded
        var h = await NewHarnessAsync();

        var result = await h.Sync.PushNowAsync(c.Protocol, CancellationToken.None);

        Assert.Equal(WorkState.Dead, result.Item.State);
        Assert.Contains("the patient was not found on the server", result.Item.LastError, StringComparison.Ordinal);
        Assert.Empty(h.Journal.Writes);
    }

    [Fact]
    public async Task RetryDead_AfterTheCauseIsFixed_ConfirmedOnTheNextDrain()
    {
        var c = SyntheticProtocols.Generate(1, 1, "ls-retry")[0];
        var h = await NewHarnessAsync();
        await h.Sync.PushNowAsync(c.Protocol, CancellationToken.None);
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction([c])); // the EHR registers the patient

        Assert.Equal(1, await h.Ledger.RetryDeadAsync([c.Protocol.Id], CancellationToken.None));
        var processed = await h.Sync.DrainAsync(2, CancellationToken.None);

        Assert.Equal(1, processed);
        Assert.Equal(WorkState.Confirmed, (await h.Ledger.GetAsync(c.Protocol.Id, CancellationToken.None))!.State);
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers([c]).Order(), (await OnServerAsync(c)).Order());
    }

    [Fact]
    public async Task DrainAsync_WithRetryHorizon_WaitsOnTheClockForTheRetryThenConfirms()
    {
        var c = await SeededCaseAsync("ls-horizon");
        var h = await NewHarnessAsync(configure: o => o.DrainRetryHorizon = TimeSpan.FromMinutes(2));
        var writes = 0;
        h.Journal.Fault = r => IsWrite(r) && Interlocked.Increment(ref writes) == 1 ? Status(HttpStatusCode.ServiceUnavailable, "restarting") : null;
        await h.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);

        var drain = h.Sync.DrainAsync(1, CancellationToken.None);
        while (!drain.IsCompleted && (await h.Ledger.GetAsync(c.Protocol.Id, CancellationToken.None))!.State != WorkState.Failed)
            await Task.Delay(10);
        var waiting = !drain.IsCompleted; // the drain waits for the retry on the (fake) clock …
        while (!drain.IsCompleted)
        {
            h.Time.Advance(TimeSpan.FromMilliseconds(100)); // … and goes on once the clock reaches it
            await Task.Delay(10);
        }
        var processed = await drain;

        Assert.True(waiting);
        Assert.Equal(2, processed);
        Assert.True(h.Time.GetUtcNow() >= Start.AddSeconds(1));
        var item = await h.Ledger.GetAsync(c.Protocol.Id, CancellationToken.None);
        Assert.Equal((WorkState.Confirmed, 2), (item!.State, item.Attempts));
    }

    [Fact]
    public async Task RunAsync_Background_RecoversProcessesAndStopsOnCancel()
    {
        var c = await SeededCaseAsync("ls-run");
        var h = await NewHarnessAsync();
        await h.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);
        await h.Ledger.ClaimNextAsync("crashed-worker", TimeSpan.FromMinutes(10), CancellationToken.None); // left by a crash
        using var stop = new CancellationTokenSource();

        var run = h.Sync.RunAsync(stop.Token);
        while (!run.IsCompleted && (await h.Ledger.GetAsync(c.Protocol.Id, CancellationToken.None))!.State != WorkState.Confirmed)
            await Task.Delay(10);
        await stop.CancelAsync();
        await run;

        var item = await h.Ledger.GetAsync(c.Protocol.Id, CancellationToken.None);
        Assert.Equal((WorkState.Confirmed, 2, "test-worker"), (item!.State, item.Attempts, item.ClaimedBy));
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers([c]).Order(), (await OnServerAsync(c)).Order());
    }

    // ---- crash and reconciliation ----

    [Fact]
    public async Task Recover_CrashAfterSendBeforeOutcome_ReconciledByIdentifierNothingWrittenTwice()
    {
        var c = await SeededCaseAsync("ls-crash");
        var time = new FakeTimeProvider(Start);
        var crashed = await NewHarnessAsync("crash.db", time: time);
        // The crashed run: claimed, intent and "sent" written, the push reached the server, then the process died.
        await crashed.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);
        var claim = await crashed.Ledger.ClaimNextAsync("crashed-worker", TimeSpan.FromMinutes(10), CancellationToken.None);
        var intents = ProtocolToFhir.Default.Map(c.Protocol).Entry.Select(e => Identity.IdentifiersOf(e.Resource!)[0]).Select(i => new ResourceIntent("X", i.System!, i.Value!, "h")).ToArray();
        await crashed.Ledger.RecordIntentAsync(claim!.Item.Id, "crashed-worker", intents, CancellationToken.None);
        await crashed.Ledger.RecordSentAsync(claim.Item.Id, intents.Select(i => (i.IdentifierSystem, i.IdentifierValue)).ToArray(), CancellationToken.None);
        using (var sync = new SyncHarness(server.BaseUrl))
            Assert.True((await sync.PushAsync(c.Protocol)).Success);

        var restarted = await NewHarnessAsync("crash.db", time: time); // RecoverAsync inside
        var processed = await restarted.Sync.DrainAsync(1, CancellationToken.None);

        Assert.Equal(1, processed);
        var item = await restarted.Ledger.GetAsync(c.Protocol.Id, CancellationToken.None);
        Assert.Equal((WorkState.Confirmed, 2, "test-worker"), (item!.State, item.Attempts, item.ClaimedBy));
        Assert.Empty(restarted.Journal.Writes); // everything was found by identifier: not one write
        var rows = await restarted.Ledger.ResourcesAsync(c.Protocol.Id, CancellationToken.None);
        Assert.All(rows, r => Assert.Equal((ResourceState.Confirmed, 2), (r.State, r.Attempts)));
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers([c]).Order(), (await OnServerAsync(c)).Order());
    }

    [Fact]
    public async Task Recover_CrashAfterIntentBeforeSend_PushedOnceAfterRestart()
    {
        var c = await SeededCaseAsync("ls-crash2");
        var time = new FakeTimeProvider(Start);
        var crashed = await NewHarnessAsync("crash2.db", time: time);
        await crashed.Sync.EnqueueAsync(c.Protocol, CancellationToken.None);
        var claim = await crashed.Ledger.ClaimNextAsync("crashed-worker", TimeSpan.FromMinutes(10), CancellationToken.None);
        await crashed.Ledger.RecordIntentAsync(claim!.Item.Id, "crashed-worker", [new ResourceIntent("Goal", "s", "v", "h")], CancellationToken.None);

        var restarted = await NewHarnessAsync("crash2.db", time: time);
        await restarted.Sync.DrainAsync(1, CancellationToken.None);

        Assert.Equal(WorkState.Confirmed, (await restarted.Ledger.GetAsync(c.Protocol.Id, CancellationToken.None))!.State);
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers([c]).Order(), (await OnServerAsync(c)).Order());
    }

    // ---- several protocols, DI ----

    [Fact]
    public async Task DrainAsync_TwentyProtocolsFourAtOnce_AllConfirmedEachResourceOnce()
    {
        var cases = SyntheticProtocols.Generate(20, 5, "ls-drain");
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction(cases));
        var h = await NewHarnessAsync();
        foreach (var c in cases)
            Assert.True((await h.Sync.EnqueueAsync(c.Protocol, CancellationToken.None)).Queued);

        var processed = await h.Sync.DrainAsync(4, CancellationToken.None);

        Assert.Equal(20, processed);
        Assert.Equal(20, (await h.Ledger.ListAsync(WorkState.Confirmed, CancellationToken.None)).Count);
        var onServer = await SyntheticProtocols.OnServerAsync(server.CreateClient(), cases, SyntheticProtocols.ResourceTypes(cases));
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers(cases).Order(), onServer.Order());
    }

    [Fact]
    public async Task AddTrdFhirLedger_Resolves_LedgerSyncOnTheNamedSqliteFile()
    {
        var path = Path.Combine(_directory, "di.db");
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrdFhirTransport(new FhirServerOptions { BaseUrl = server.BaseUrl });
        services.AddTrdFhirLedger("sqlite:" + path, o => o.Worker = "di-worker");
        await using var provider = services.BuildServiceProvider();

        var sync = provider.GetRequiredService<LedgerSync>();
        var c = await SeededCaseAsync("ls-di");
        var result = await sync.PushNowAsync(c.Protocol, CancellationToken.None);

        Assert.Equal("di-worker", sync.Worker);
        Assert.Equal(path, provider.GetRequiredService<ISyncLedger>().Location);
        Assert.Equal((WorkState.Confirmed, "di-worker"), (result.Item.State, result.Item.ClaimedBy));
        Assert.True(File.Exists(path));
    }

    [Fact]
    public void LedgerSyncOptions_OutOfRange_NamesTheOption()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new LedgerSyncOptions { MaxAttempts = 0 }.Validate());

        Assert.Equal("MaxAttempts", ex.ParamName);
        Assert.Contains("between 1 and 100", ex.Message, StringComparison.Ordinal);
    }
}
