using System.Diagnostics;
using System.Globalization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.IntegrationTests.Sync;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Faults;

/// <summary>
/// The fault suite: 1,000 synthetic protocol pushes (distinct patients, seeded on the real server first) driven by the sync
/// ledger (one SQLite file for all) through <see cref="FaultProxy"/> injecting ~20 % faults, then checked against the real
/// server directly: every resource exactly once, nothing missing, nothing extra, and the ledger's word matches the server's;
/// dead letters are retried without faults and must then complete without a duplicate.
/// <para>
/// Sized for the test engine: Medplum's in-memory repository answers every search (the push's lookups by identifier, each
/// conditional create) by evaluating FHIRPath over every resource of the type — about 1 ms of CPU per resource held, so the
/// cost of a push grows with the store and 1,000 pushes into one store cost hours. Hence small protocols (7 resources,
/// <see cref="Small"/>) pushed in waves of <see cref="WaveSize"/>, each checked on the server and then reset; identities
/// never cross protocols, so a wave boundary hides no duplicate. The ledger, the proxy and the adapter's wiring live across
/// all waves.
/// </para>
/// Runs on the system clock (real server, real sockets, real holds); no assertion on time. Numbers go to the test output
/// and docs/benchmarks.md ("Fault suite").
/// </summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class FaultSuiteTests(FhirServerFixture server, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Protocols = 1000;
    private const int WaveSize = 25;
    private const int Parallelism = 8;
    private const int FaultSeed = 20261127;
    private const int MaxLedgerAttempts = 3;
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Slow requests and responses are held this long: longer than the attempt timeout, so the client gives up.</summary>
    private static readonly TimeSpan Hold = AttemptTimeout + TimeSpan.FromSeconds(0.5);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "trd-fault-suite", Path.GetRandomFileName());

    public Task InitializeAsync() => server.ResetAsync();

    public async Task DisposeAsync()
    {
        // leave the shared server empty and usable for the other tests of the collection
        await server.ResetAsync();
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    [Trait("Category", "FaultSuite")] // minutes: `--filter Category!=FaultSuite` leaves it out of a quick local run
    public async Task DrainAsync_ThousandPushesThroughTwentyPercentFaults_EveryResourceOnServerExactlyOnce()
    {
        var cases = SyntheticProtocols.Generate(Protocols, seed: 11, tag: "fault").Select(Small).ToList();
        var ledgerPath = Path.Combine(_directory, "ledger.db");
        using var proxy = new FaultProxy(server.BaseUrl, FaultPlan.Standard(FaultSeed, Hold));
        await using var services = Services(proxy.BaseUrl, ledgerPath);
        var sync = services.GetRequiredService<LedgerSync>();
        // The operator's "ledger retry" once the server is healthy: same ledger, straight to the server, default resilience.
        await using var direct = DirectServices();
        using var directConnection = new FhirServerConnection(direct.GetRequiredService<IHttpClientFactory>(), server.BaseUrl, NullLogger<FhirServerConnection>.Instance);
        var healthy = new LedgerSync(sync.Ledger, new PushWorkflow(directConnection, NullLogger<PushWorkflow>.Instance), ProtocolToFhir.Default,
            new LedgerSyncOptions { Worker = "fault-suite-retry", DrainRetryHorizon = TimeSpan.Zero }, TimeProvider.System, NullLogger<LedgerSync>.Instance);

        var stopwatch = Stopwatch.StartNew();
        var retryTime = TimeSpan.Zero;
        var (processed, retried, onServer) = (0, 0, 0);
        var dead = new List<WorkItem>();
        var attempts = new List<int>();
        foreach (var wave in cases.Chunk(WaveSize))
        {
            var expected = SyntheticProtocols.ExpectedIdentifiers(wave);
            var expectedOf = wave.ToDictionary(c => c.Protocol.Id, c => SyntheticProtocols.ExpectedIdentifiers([c]));
            await SeedPatientsAsync(wave);

            // 1. Push the wave through the faults.
            foreach (var c in wave)
                Assert.True((await sync.EnqueueAsync(c.Protocol, CancellationToken.None)).Queued);
            processed += await sync.DrainAsync(Parallelism, CancellationToken.None);
            await proxy.WhenIdleAsync(); // a held request may still reach the server after its client gave up
            var items = await ItemsAsync(sync.Ledger, wave);
            var rows = (await sync.Ledger.ResourcesAsync(null, CancellationToken.None)).Where(r => expectedOf.ContainsKey(r.ProtocolId)).ToList();

            // 2. The ledger: every protocol confirmed or dead; dead only for running out of attempts (every fault was transient).
            Assert.All(items, i => Assert.True(i.State is WorkState.Confirmed or WorkState.Dead, $"{i.ProtocolId}: {i.State} after {i.Attempts} attempt(s): {i.LastError}"));
            var waveDead = items.Where(i => i.State == WorkState.Dead).ToList();
            Assert.All(waveDead, i => Assert.StartsWith($"out of attempts ({MaxLedgerAttempts}); last error: ", i.LastError, StringComparison.Ordinal));
            Assert.All(items.Where(i => i.State == WorkState.Confirmed), i => Assert.Null(i.LastError));
            dead.AddRange(waveDead);
            attempts.AddRange(items.Select(i => i.Attempts));

            // 3. The server, asked directly: nothing duplicated, nothing extra; every resource of a confirmed protocol there
            //    once, at the server id the ledger recorded.
            var census = await CensusAsync(wave);
            AssertNoDuplicateNoExtra(census, expected);
            var confirmedIds = items.Where(i => i.State == WorkState.Confirmed).Select(i => i.ProtocolId).ToHashSet(StringComparer.Ordinal);
            var missing = confirmedIds.SelectMany(id => expectedOf[id]).Where(e => !census.ContainsKey(e)).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} resources of confirmed protocols are missing on the server, e.g. {string.Join(", ", missing.Take(5))}");
            var confirmedRows = rows.Where(r => confirmedIds.Contains(r.ProtocolId)).ToList();
            Assert.Equal(confirmedIds.Sum(id => expectedOf[id].Count), confirmedRows.Count);
            Assert.All(confirmedRows, r => Assert.Equal(
                (ResourceState.Confirmed, census[(r.ResourceType, $"{r.IdentifierSystem}|{r.IdentifierValue}")].Single()),
                (r.State, r.ServerId!)));

            // 4. The dead letters retried without faults: afterwards every expected resource is on the server exactly once —
            //    what the dead attempts stored is found by identifier, not created again.
            if (waveDead.Count > 0)
            {
                var retryStart = stopwatch.Elapsed;
                retried += await sync.Ledger.RetryDeadAsync(waveDead.Select(i => i.ProtocolId).ToArray(), CancellationToken.None);
                await healthy.DrainAsync(Parallelism, CancellationToken.None);
                retryTime += stopwatch.Elapsed - retryStart;
                Assert.All(await ItemsAsync(sync.Ledger, wave), i => Assert.Equal(WorkState.Confirmed, i.State));
                census = await CensusAsync(wave);
                AssertNoDuplicateNoExtra(census, expected);
            }
            Assert.Equal(expected.Count, census.Count);
            onServer += census.Count;

            // 5. Next wave on an empty server (the engine's searches scan every resource of a type: see the class comment).
            await server.ResetAsync();
        }
        var elapsed = stopwatch.Elapsed;

        var lostWrites = proxy.WriteCounts[FaultKind.UnavailableAfterServer] + proxy.WriteCounts[FaultKind.ResetAfterServer] + proxy.WriteCounts[FaultKind.SlowResponse];
        Report(proxy, processed, attempts, dead, elapsed, retryTime, lostWrites, onServer, retried);
        Assert.Equal(Protocols, attempts.Count);
        Assert.Equal(dead.Count, retried);
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers(cases).Count, onServer);
        Assert.All(await sync.Ledger.ListAsync(null, CancellationToken.None), i => Assert.Equal(WorkState.Confirmed, i.State));
        // The faults were injected as planned: ~20 % of requests, every kind, writes lost after the server processed them.
        Assert.InRange(proxy.Faults / (double)proxy.Requests, 0.17, 0.23);
        Assert.All(FaultPlan.Standard(FaultSeed, Hold).Weights.Keys, kind => Assert.True(proxy.Counts[kind] > 0, $"no {kind} injected"));
        Assert.True(lostWrites > 0, "no write was processed by the server and its answer lost");
    }

    /// <summary>
    /// The synthetic protocol cut to what still makes a push non-trivial — Condition, two Goals, the parent CarePlan
    /// (addresses the Condition, goal → Goals) and the phase CarePlan (partOf the parent): 5 resources, 3 types, references
    /// across three dependency levels, hence three batch rounds — without care team, orders, sessions, PHQ-9 scores and prior
    /// trials: the test engine's cost per push grows with what the server holds.
    /// </summary>
    private static SyntheticCase Small(SyntheticCase c)
    {
        var protocol = c.Protocol with
        {
            PriorTrials = [],
            CareTeam = [],
            Sessions = [],
            Phq9 = [],
            Phases = c.Protocol.Phases.Select(p => p with { Interventions = [] }).ToArray(),
        };
        var document = ProtocolWriter.Write(protocol);
        var read = ProtocolReader.Read(document);
        Assert.True(read.Success, string.Join("; ", read.Problems));
        return c with { Protocol = read.Protocol!, Document = document };
    }

    private static async Task<List<WorkItem>> ItemsAsync(ISyncLedger ledger, IEnumerable<SyntheticCase> wave)
    {
        var items = new List<WorkItem>();
        foreach (var c in wave)
            items.Add(await ledger.GetAsync(c.Protocol.Id, CancellationToken.None) ?? throw new InvalidOperationException($"{c.Protocol.Id} is not in the ledger"));
        return items;
    }

    private static void AssertNoDuplicateNoExtra(Dictionary<(string ResourceType, string Identifier), List<string>> census, HashSet<(string ResourceType, string Identifier)> expected)
    {
        var duplicated = census.Where(e => e.Value.Count > 1).ToList();
        Assert.True(duplicated.Count == 0, $"{duplicated.Count} identifiers are on the server more than once, e.g. {string.Join("; ", duplicated.Take(5).Select(d => $"{d.Key.ResourceType} {d.Key.Identifier} at {string.Join(", ", d.Value)}"))}");
        var extra = census.Keys.Where(k => !expected.Contains(k)).ToList();
        Assert.True(extra.Count == 0, $"{extra.Count} unexpected resources on the server, e.g. {string.Join(", ", extra.Take(5))}");
    }

    private void Report(FaultProxy proxy, int processed, List<int> attempts, List<WorkItem> dead, TimeSpan elapsed, TimeSpan retryTime, int lostWrites, int onServer, int retried)
    {
        var counts = proxy.Counts;
        var writes = proxy.WriteCounts;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Protocols} protocols in waves of {WaveSize}, parallelism {Parallelism}, attempt timeout {AttemptTimeout.TotalSeconds} s, hold {Hold.TotalSeconds} s: {elapsed.TotalSeconds:0.0} s in all ({retryTime.TotalSeconds:0.0} s of it retrying dead letters without faults); {processed} claims through the faults"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"requests through the proxy: {proxy.Requests}, forwarded to the server: {proxy.Forwarded}, faults: {proxy.Faults} ({100.0 * proxy.Faults / proxy.Requests:0.0} %)"));
        foreach (var kind in Enum.GetValues<FaultKind>().Where(k => k != FaultKind.None))
            output.WriteLine($"  {kind,-24} {counts[kind],6}  (on writes: {writes[kind]})");
        output.WriteLine($"writes the server processed whose answer was lost (503/reset/slow after the server): {lostWrites}");
        output.WriteLine($"ledger after the faults: confirmed {attempts.Count - dead.Count}, dead {dead.Count}; attempts per protocol: " +
            string.Join(", ", attempts.GroupBy(a => a).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}")));
        foreach (var item in dead.Take(10))
            output.WriteLine($"  dead {item.ProtocolId}: {item.LastError}");
        output.WriteLine($"after retrying the {retried} dead letters without faults: all {attempts.Count} confirmed; {onServer} resources found on the server, each exactly once");
    }

    /// <summary>The EHR already holds the patients: seeded directly on the server, 100 per transaction.</summary>
    private async Task SeedPatientsAsync(IReadOnlyList<SyntheticCase> cases)
    {
        foreach (var chunk in cases.Chunk(100))
        {
            var response = await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction(chunk));
            Assert.Equal(chunk.Length, response!.Entry.Count(e => e.Response?.Status?.StartsWith("201", StringComparison.Ordinal) == true));
        }
    }

    /// <summary>
    /// What the real server holds (asked directly, not through the proxy): per resource type of the mapping, every resource
    /// carrying an identifier of this suite's protocols, as (type, "system|value") → server ids. A duplicate has two ids.
    /// </summary>
    private async Task<Dictionary<(string ResourceType, string Identifier), List<string>>> CensusAsync(IReadOnlyList<SyntheticCase> cases)
    {
        var census = new Dictionary<(string, string), List<string>>();
        var client = server.CreateClient();
        foreach (var type in SyntheticProtocols.ResourceTypes(cases))
        {
            var page = await client.SearchAsync(type, pageSize: 100);
            while (page is not null)
            {
                foreach (var resource in page.Entry.Select(e => e.Resource).OfType<Resource>())
                {
                    foreach (var identifier in Identity.IdentifiersOf(resource).Where(i => i.Value?.StartsWith("syn-fault-", StringComparison.Ordinal) == true))
                    {
                        var key = (resource.TypeName, $"{identifier.System}|{identifier.Value}");
                        if (!census.TryGetValue(key, out var ids))
                            census[key] = ids = [];
                        ids.Add(resource.Id);
                    }
                }
                page = await client.ContinueAsync(page);
            }
        }
        return census;
    }

    /// <summary>The adapter's own wiring (transport with resilience + ledger), pointed at <paramref name="baseUrl"/>, with
    /// resilience shortened so 1,000 pushes fit in minutes: few transport retries, so faults also reach the ledger.</summary>
    private static ServiceProvider Services(Uri baseUrl, string ledgerPath)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrdFhirTransport(new FhirServerOptions
        {
            BaseUrl = baseUrl,
            Resilience = new ResilienceSettings
            {
                MaxRetries = 2,
                BaseDelay = TimeSpan.FromMilliseconds(100),
                MaxRetryAfter = TimeSpan.FromSeconds(2),
                AttemptTimeout = AttemptTimeout,
                TotalTimeout = TimeSpan.FromSeconds(30),
                BreakerFailureRatio = 0.5,
                BreakerMinimumThroughput = 100,
                BreakDuration = TimeSpan.FromSeconds(1),
            },
        });
        services.AddTrdFhirLedger(ledgerPath, o =>
        {
            o.Worker = "fault-suite";
            o.MaxAttempts = MaxLedgerAttempts;
            o.RetryBaseDelay = TimeSpan.FromSeconds(1); // not shorter than the circuit breaker's break
            o.MaxRetryDelay = TimeSpan.FromSeconds(2);
            o.DrainRetryHorizon = TimeSpan.FromMinutes(1);
        });
        return services.BuildServiceProvider();
    }

    private ServiceProvider DirectServices()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrdFhirTransport(new FhirServerOptions { BaseUrl = server.BaseUrl });
        return services.BuildServiceProvider();
    }
}
