using System.Net;
using System.Net.Sockets;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Trd.Fhir.Adapter.Mapping;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Faults;

/// <summary>The fault proxy does what each kind says, against the real test server: who sees what, and whether the write happened.</summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class FaultProxyTests(FhirServerFixture server) : IAsyncLifetime
{
    private const string System = "https://proxy.example.org/sid/test";
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(2);

    public Task InitializeAsync() => server.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public void NewDraw_StandardPlan_FaultsTwentyPercentSpreadOverEveryKind()
    {
        var plan = FaultPlan.Standard(seed: 20261127, Hold);
        var draw = plan.NewDraw();
        var kinds = Enumerable.Range(0, 20_000).Select(_ => draw()).ToList();

        var faulted = kinds.Count(k => k != FaultKind.None);
        Assert.InRange(faulted / 20_000.0, 0.19, 0.21);
        foreach (var (kind, weight) in plan.Weights)
            Assert.InRange(kinds.Count(k => k == kind) / 20_000.0, weight - 0.005, weight + 0.005);
        var again = plan.NewDraw();
        Assert.Equal(kinds, Enumerable.Range(0, 20_000).Select(_ => again()));
    }

    [Fact]
    public async Task Forward_NoFault_ServersAnswerWithTheProxysUrls()
    {
        using var proxy = new FaultProxy(server.BaseUrl, new FaultPlan(1, new Dictionary<FaultKind, double>(), Hold));
        using var http = new HttpClient();

        using var created = await PostPatientAsync(http, proxy, "forwarded");
        using var search = await http.GetAsync(new Uri($"{proxy.BaseUrl}/Patient?identifier={System}|forwarded"));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.StartsWith(proxy.BaseUrl + "/Patient/", created.Headers.Location!.AbsoluteUri, StringComparison.Ordinal);
        var bundle = (Bundle)FhirJson.Parse(await search.Content.ReadAsByteArrayAsync(), out _)!;
        Assert.Equal(1, bundle.Total);
        Assert.StartsWith(proxy.BaseUrl + "/Patient", bundle.SelfLink!.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal(1, await CountOnServerAsync("forwarded"));
        Assert.Equal(2, proxy.Requests);
        Assert.Equal(2, proxy.Forwarded);
        Assert.Equal(2, proxy.Counts[FaultKind.None]);
        Assert.Equal(0, proxy.Faults);
    }

    [Theory]
    [InlineData(FaultKind.TooManyRequests, 429, 0)]
    [InlineData(FaultKind.UnavailableBeforeServer, 503, 0)]
    [InlineData(FaultKind.UnavailableAfterServer, 503, 1)]
    public async Task Status_Fault_ClientSeesTheStatusAndTheWriteHappenedOnlyAfterServer(FaultKind kind, int status, int stored)
    {
        using var proxy = new FaultProxy(server.BaseUrl, FaultPlan.Always(kind, Hold));
        using var http = new HttpClient();

        using var response = await PostPatientAsync(http, proxy, kind.ToString());

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(kind == FaultKind.TooManyRequests ? TimeSpan.FromSeconds(1) : null, response.Headers.RetryAfter?.Delta);
        Assert.Equal(stored, await CountOnServerAsync(kind.ToString()));
        Assert.Equal(1, proxy.Counts[kind]);
        Assert.Equal(stored, proxy.Forwarded);
    }

    [Theory]
    [InlineData(FaultKind.ResetBeforeServer, 0)]
    [InlineData(FaultKind.ResetAfterServer, 1)]
    public async Task Reset_Fault_ClientSeesAConnectionErrorAndTheWriteHappenedOnlyAfterServer(FaultKind kind, int stored)
    {
        using var proxy = new FaultProxy(server.BaseUrl, FaultPlan.Always(kind, Hold));
        using var http = new HttpClient();

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => PostPatientAsync(http, proxy, kind.ToString()));

        // a real TCP reset (RST), not a clean close or an empty answer
        var socket = Assert.IsType<SocketException>(error.InnerException?.InnerException);
        Assert.Equal(SocketError.ConnectionReset, socket.SocketErrorCode);
        Assert.Equal(stored, await CountOnServerAsync(kind.ToString()));
        Assert.Equal(1, proxy.Counts[kind]);
    }

    [Theory]
    [InlineData(FaultKind.SlowResponse, 1)]
    [InlineData(FaultKind.SlowRequest, 0)]
    public async Task Slow_Fault_ClientTimesOutAndTheServerHasTheWriteOnceTheProxyIsIdle(FaultKind kind, int storedWhenClientGaveUp)
    {
        using var proxy = new FaultProxy(server.BaseUrl, FaultPlan.Always(kind, Hold));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };

        await Assert.ThrowsAsync<TaskCanceledException>(() => PostPatientAsync(http, proxy, kind.ToString()));
        var whenClientGaveUp = await CountOnServerAsync(kind.ToString());
        await proxy.WhenIdleAsync();

        Assert.Equal(storedWhenClientGaveUp, whenClientGaveUp);
        Assert.Equal(1, await CountOnServerAsync(kind.ToString()));
        Assert.Equal(1, proxy.Forwarded);
    }

    private static async Task<HttpResponseMessage> PostPatientAsync(HttpClient http, FaultProxy proxy, string value)
    {
        var patient = new Patient { Identifier = [new Identifier(System, value)], Name = [new HumanName { Family = "Synthetic" }] };
        using var content = new StringContent(FhirJson.Serialize(patient, pretty: false), Encoding.UTF8, "application/fhir+json");
        return await http.PostAsync(new Uri(proxy.BaseUrl + "/Patient"), content);
    }

    private async Task<int> CountOnServerAsync(string value)
    {
        var found = await server.CreateClient().SearchAsync<Patient>([$"identifier={System}|{value}"]);
        return found!.Entry.Count;
    }
}
