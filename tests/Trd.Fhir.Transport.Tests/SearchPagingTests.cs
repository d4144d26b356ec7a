using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests;

/// <summary>FhirServerConnection.SearchAllAsync follows next links on the configured server only, and never returns part
/// of a result silently (loops, too many pages).</summary>
public sealed class SearchPagingTests : IDisposable
{
    private const string Token = "synthetic-static-token";
    private readonly WireMockServer _server = WireMockServer.Start();
    private readonly WireMockServer _elsewhere = WireMockServer.Start();

    public void Dispose()
    {
        _server.Stop();
        _elsewhere.Stop();
    }

    private TransportSut Sut()
    {
        var options = TransportSut.OptionsFor(_server);
        options.Auth = new AuthOptions { Kind = AuthKind.Bearer, Token = Token };
        return TransportSut.Create(options, new TestClock());
    }

    private FhirServerConnection Connection(TransportSut sut) =>
        new(sut.Services.GetRequiredService<IHttpClientFactory>(), new Uri(_server.Url + "/fhir"), NullLogger<FhirServerConnection>.Instance);

    private static Task<List<(Resource Resource, string? FullUrl)>> Conditions(FhirServerConnection connection, int maxPages = 1000) =>
        connection.SearchAllAsync("Condition", new SearchParams().Add("patient", "Patient/1"), CancellationToken.None, maxPages);

    private static string Page(string? next, params string[] ids)
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Searchset };
        foreach (var id in ids)
            bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = $"http://x/fhir/Condition/{id}", Resource = new Condition { Id = id }, Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match } });
        if (next is not null)
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = next });
        return new FhirJsonSerializer().SerializeToString(bundle);
    }

    private void FirstPage(string next) =>
        _server.Given(Request.Create().WithPath("/fhir/Condition").WithParam("patient", "Patient/1").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/fhir+json").WithBody(Page(next, "c1")));

    [Fact]
    public async System.Threading.Tasks.Task SearchAll_NextLinkToAnotherServer_StopsWithTheReasonAndNeverCallsIt()
    {
        FirstPage(_elsewhere.Url + "/elsewhere/Condition?page=2");
        using var sut = Sut();
        using var connection = Connection(sut);

        var error = await Assert.ThrowsAsync<FhirTransportException>(() => Conditions(connection));

        Assert.Equal($"the server's next page link points to {_elsewhere.Url}/elsewhere/Condition, outside the FHIR server {_server.Url}/fhir: not followed, so the search stopped without its remaining pages (fix: configure the server's public base URL, e.g. HAPI's server_address, or call Trd.Fhir with the base URL its links use)", error.Message);
        Assert.Empty(_elsewhere.RequestMessages());
    }

    [Fact]
    public async System.Threading.Tasks.Task SearchAll_NextLinkWithTheInternalHostOfAProxiedServer_IsFollowedOnTheConfiguredServer()
    {
        FirstPage("http://hapi-internal.invalid:8080/fhir?_getpages=abc&_getpagesoffset=1");
        _server.Given(Request.Create().WithPath("/fhir").WithParam("_getpages", "abc").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/fhir+json").WithBody(Page(null, "c2")));
        using var sut = Sut();
        using var connection = Connection(sut);

        var found = await Conditions(connection);

        Assert.Equal(["c1", "c2"], found.Select(f => f.Resource.Id));
        Assert.All(_server.RequestMessages(), r => Assert.Equal($"Bearer {Token}", r.Header("Authorization")));
    }

    private void SecondPage(string next) =>
        _server.Given(Request.Create().WithPath("/fhir").WithParam("_getpages", "p2").UsingGet())
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/fhir+json").WithBody(Page(next, "c2")));

    [Fact]
    public async System.Threading.Tasks.Task SearchAll_PagingThatLoops_StopsWithTheReason()
    {
        FirstPage(_server.Url + "/fhir?_getpages=p2");
        SecondPage(_server.Url + "/fhir?_getpages=p2");
        using var sut = Sut();
        using var connection = Connection(sut);

        var error = await Assert.ThrowsAsync<FhirTransportException>(() => Conditions(connection));

        Assert.Equal("the server's paging of a Condition search loops: page 2 links to a page already read; the search stopped rather than read it again (fix: report it to the server's operators)", error.Message);
        Assert.Equal(2, _server.RequestMessages().Count);
    }

    [Fact]
    public async System.Threading.Tasks.Task SearchAll_MorePagesThanAllowed_StopsRatherThanReturnPart()
    {
        FirstPage(_server.Url + "/fhir?_getpages=p2");
        SecondPage(_server.Url + "/fhir?_getpages=p3");
        using var sut = Sut();
        using var connection = Connection(sut);

        var error = await Assert.ThrowsAsync<FhirTransportException>(() => Conditions(connection, maxPages: 2));

        Assert.Equal("a Condition search has more than 2 pages; it stopped rather than return part of the result (fix: narrow the search, e.g. pull --since)", error.Message);
    }
}
