using System.Text.Json;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Bulk;
using Trd.Fhir.Adapter.Cli;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.IntegrationTests.Sync;

namespace Trd.Fhir.IntegrationTests.Bulk;

/// <summary><c>trd-fhir export</c> against the real test FHIR server's Bulk Data endpoints (tests/fhir-server/bulk.mjs).</summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class BulkExportTests(FhirServerFixture server) : IAsyncLifetime, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-export-").FullName;

    public async Task InitializeAsync()
    {
        await server.ResetAsync();
        await BulkServer.ConfigureAsync(server);
    }

    public Task DisposeAsync() => BulkServer.ConfigureAsync(server);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, new CliConsole(stdout, stderr));
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private string Out(string name) => Path.Combine(_dir, name);

    [Fact]
    public async Task Export_PatientLevel_PollsThenDownloadsEveryResourceOnceAndDeletesTheExport()
    {
        var cases = SyntheticProtocols.Generate(3, 21, "bulk-all");
        var ids = await BulkServer.PushAsync(server, cases);
        await BulkServer.ConfigureAsync(server, polls: 1, retryAfter: 1, fileLines: 7);

        var (exit, stdout, stderr) = Run("export", "--server", server.BaseUrl.ToString(), "-o", Out("all"), "--format", "json");

        Assert.True(exit == 0, stderr);
        Assert.Contains("server working: 50% (1 of 2 steps); next poll in 1 s", stderr); // X-Progress and Retry-After of the 202
        using var summary = JsonDocument.Parse(stdout);
        Assert.True(summary.RootElement.GetProperty("complete").GetBoolean());
        Assert.True(summary.RootElement.GetProperty("deletedOnServer").GetBoolean());
        // every resource the push wrote is in the export, in files of at most 7 lines, per type
        var expected = SyntheticProtocols.ExpectedIdentifiers(cases);
        foreach (var type in expected.Select(e => e.ResourceType).Distinct())
        {
            var exported = BulkServer.Read(Out("all"), type);
            Assert.Equal(expected.Count(e => e.ResourceType == type), exported.Count);
            Assert.All(exported, r => Assert.Equal(type, r.TypeName));
            Assert.All(Directory.GetFiles(Out("all"), type + "-*.ndjson"), f => Assert.InRange(File.ReadLines(f).Count(), 1, 7));
        }
        Assert.Equal(ids.Values.Order(), BulkServer.Read(Out("all"), "Patient").Select(p => p.Id).Order());
        Assert.Equal(expected.Count + 3, summary.RootElement.GetProperty("resources").GetInt64());
        // each file fetched exactly once, in full
        var log = await BulkServer.FileLogAsync(server);
        Assert.All(log, l => Assert.Equal(200, l.Status));
        Assert.Equal(log.Count, log.Select(l => l.File).Distinct().Count());
        Assert.Equal(summary.RootElement.GetProperty("files").GetInt32(), log.Count);
        // DELETE was sent: the status URL is gone
        var state = ExportState.Load(Out("all"))!;
        using var status = await server.HttpClient.GetAsync(new Uri(state.StatusUrl!));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, status.StatusCode);
    }

    [Fact]
    public async Task Export_Group_OnlyTheMembersResources()
    {
        var cases = SyntheticProtocols.Generate(3, 22, "bulk-group");
        var ids = await BulkServer.PushAsync(server, cases);
        var member = ids[cases[1].Protocol.Id];
        var group = await server.CreateClient().CreateAsync(new Group
        {
            Type = Group.GroupType.Person,
            Actual = true,
            Member = [new Group.MemberComponent { Entity = new ResourceReference($"Patient/{member}") }],
        });

        var (exit, _, stderr) = Run("export", "--server", server.BaseUrl.ToString(), "--group", group!.Id, "-o", Out("group"));

        Assert.True(exit == 0, stderr);
        var all = Directory.GetFiles(Out("group"), "*.ndjson").SelectMany(f => BulkServer.Read(Out("group"), Path.GetFileName(f).Split('-')[0])).ToList();
        Assert.NotEmpty(all);
        Assert.All(all, r => Assert.Equal(member, BulkServer.PatientOf(r)));
        var expected = SyntheticProtocols.ExpectedIdentifiers([cases[1]]);
        Assert.Equal(expected.Count + 1, all.DistinctBy(r => r.TypeName + "/" + r.Id).Count());
    }

    [Fact]
    public async Task Export_PatientsFileAndTypes_PostsPatientParametersAndKeepsTheExport()
    {
        var cases = SyntheticProtocols.Generate(3, 23, "bulk-list");
        var ids = await BulkServer.PushAsync(server, cases);
        var file = Out("patients.txt");
        File.WriteAllLines(file, ["# two of three", ids[cases[0].Protocol.Id], "Patient/" + ids[cases[2].Protocol.Id], ""]);

        var (exit, _, stderr) = Run("export", "--server", server.BaseUrl.ToString(), "--patients", file, "--types", "Observation,Patient", "--keep", "-o", Out("list"));

        Assert.True(exit == 0, stderr);
        Assert.Equal(["Observation-1.ndjson", "Patient-1.ndjson"], Directory.GetFiles(Out("list"), "*.ndjson").Select(Path.GetFileName).Order());
        var observations = BulkServer.Read(Out("list"), "Observation");
        var wanted = new[] { ids[cases[0].Protocol.Id], ids[cases[2].Protocol.Id] };
        Assert.Equal(wanted.Order(), observations.Select(BulkServer.PatientOf).Distinct().Order());
        Assert.Equal(cases[0].Protocol.Phq9.Count + cases[2].Protocol.Phq9.Count, observations.Count(o => ((Observation)o).Code.Coding.Any(c => c.Code == "44261-6")));
        var state = ExportState.Load(Out("list"))!;
        Assert.False(state.Deleted);
        using var status = await server.HttpClient.GetAsync(new Uri(state.StatusUrl!));
        Assert.Equal(System.Net.HttpStatusCode.OK, status.StatusCode); // --keep: still on the server
    }

    [Fact]
    public async Task Export_Since_OnlyWhatChangedAfterThePreviousTransactionTime()
    {
        var first = SyntheticProtocols.Generate(2, 24, "bulk-since-a");
        await BulkServer.PushAsync(server, first);
        var (exit1, stdout1, err1) = Run("export", "--server", server.BaseUrl.ToString(), "-o", Out("full"), "--format", "json");
        Assert.True(exit1 == 0, err1);
        var since = JsonDocument.Parse(stdout1).RootElement.GetProperty("transactionTime").GetString()!;
        var second = SyntheticProtocols.Generate(1, 25, "bulk-since-b");
        var ids = await BulkServer.PushAsync(server, second);

        var (exit, _, stderr) = Run("export", "--server", server.BaseUrl.ToString(), "--since", since, "-o", Out("delta"));

        Assert.True(exit == 0, stderr);
        var patients = Directory.GetFiles(Out("delta"), "*.ndjson")
            .SelectMany(f => BulkServer.Read(Out("delta"), Path.GetFileName(f).Split('-')[0])).Select(BulkServer.PatientOf).Distinct().ToList();
        Assert.Equal([ids[second[0].Protocol.Id]], patients);
    }

    [Fact]
    public async Task Export_UnknownTypeWithLenientServer_IsAUsageErrorBeforeAnyRequest()
    {
        var (exit, _, stderr) = Run("export", "--server", server.BaseUrl.ToString(), "--types", "Observation,Bogus", "-o", Out("bad"));

        Assert.Equal(2, exit);
        Assert.Contains("--types: 'Bogus' is not a FHIR R4 resource type", stderr);
        Assert.Empty(await BulkServer.FileLogAsync(server));
        Assert.False(File.Exists(ExportState.PathIn(Out("bad"))));
    }

    [Fact]
    public async Task Export_CrashAfterOneFileAndMidWayThroughTheNext_SecondRunResumesAndFetchesNothingTwice()
    {
        var cases = SyntheticProtocols.Generate(4, 26, "bulk-crash");
        await BulkServer.PushAsync(server, cases);
        await BulkServer.ConfigureAsync(server, fileLines: 5);
        var request = new BulkExportRequest(ExportLevel.Patient, null, [], null, ExportCommand.DefaultTypes);
        var dir = Out("crash");

        // first run: the process "dies" right after its first file is on disk
        using (var crash = new CancellationTokenSource())
        {
            var (workflow, services) = Workflow(p =>
            {
                if (p.FilesDone == 1)
                    crash.Cancel();
            });
            await using (services)
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => workflow.RunAsync(request, dir, keep: false, crash.Token));
        }
        var state = ExportState.Load(dir)!;
        var done = Assert.Single(state.Files, f => f.State == FileState.Done);
        // ...and it had half of the next file on disk when it died
        var next = state.Files.First(f => f.State == FileState.Pending);
        var whole = await server.HttpClient.GetByteArrayAsync(new Uri(next.Url));
        await File.WriteAllBytesAsync(Path.Combine(dir, next.Name + ".part"), whole[..(whole.Length / 2)]);
        await BulkServer.FileLogAsync(server, clear: true);

        var (exit, stdout, stderr) = Run("export", "--server", server.BaseUrl.ToString(), "-o", dir);

        Assert.True(exit == 0, stderr);
        Assert.Contains("(resumed run)", stdout);
        var log = await BulkServer.FileLogAsync(server);
        Assert.DoesNotContain(log, l => l.File == Path.GetFileName(new Uri(done.Url).AbsolutePath)); // the finished file: not again
        var resumed = Assert.Single(log, l => l.File == Path.GetFileName(new Uri(next.Url).AbsolutePath));
        Assert.Equal((206, (long)(whole.Length / 2)), (resumed.Status, resumed.From)); // the partial file: only its missing bytes
        Assert.Equal(state.Files.Count - 1, log.Count);
        Assert.Equal(whole, await File.ReadAllBytesAsync(Path.Combine(dir, next.Name)));
        Assert.Equal(SyntheticProtocols.ExpectedIdentifiers(cases).Count + cases.Count, ExportState.Load(dir)!.Files.Sum(f => f.Resources));
    }

    private (BulkExportWorkflow Workflow, ServiceProvider Services) Workflow(Action<ExportProgress> progress)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrdFhirTransport(new FhirServerOptions { BaseUrl = server.BaseUrl });
        var provider = services.BuildServiceProvider();
        var client = new BulkDataClient(provider.GetRequiredService<IHttpClientFactory>(), server.BaseUrl, TimeProvider.System);
        return (new BulkExportWorkflow(client, TimeProvider.System, NullLogger<BulkExportWorkflow>.Instance) { Progress = progress }, provider);
    }
}
