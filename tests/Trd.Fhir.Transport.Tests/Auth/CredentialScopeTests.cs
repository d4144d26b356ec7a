using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Auth;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests.Auth;

/// <summary>Credentials stay with the configured FHIR server: requests to other origins (a server's next link, a Location)
/// leave without Authorization or Epic-Client-ID, and paging never leaves the server.</summary>
public sealed class CredentialScopeTests : IDisposable
{
    private const string Token = "synthetic-static-token";
    private readonly WireMockServer _server = WireMockServer.Start();
    private readonly WireMockServer _elsewhere = WireMockServer.Start();

    public CredentialScopeTests()
    {
        foreach (var server in new[] { _server, _elsewhere })
            server.Given(Request.Create().WithPath("/fhir/Patient/1").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));
    }

    public void Dispose()
    {
        _server.Stop();
        _elsewhere.Stop();
    }

    private TransportSut Sut()
    {
        var options = TransportSut.OptionsFor(_server);
        options.Auth = new AuthOptions { Kind = AuthKind.Bearer, Token = Token, EpicClientId = "synthetic-client-id" };
        return TransportSut.Create(options, new TestClock());
    }

    [Fact]
    public async System.Threading.Tasks.Task SendAsync_OtherOrigin_LeavesWithoutCredentials()
    {
        using var sut = Sut();

        using var own = await sut.Client.GetAsync(new Uri(_server.Url + "/fhir/Patient/1"));
        using var other = await sut.Client.GetAsync(new Uri(_elsewhere.Url + "/fhir/Patient/1"));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (own.StatusCode, other.StatusCode));
        var sentHere = Assert.Single(_server.RequestMessages());
        Assert.Equal($"Bearer {Token}", sentHere.Header("Authorization"));
        Assert.Equal("synthetic-client-id", sentHere.Header(EpicClientIdHandler.Header));
        var sentThere = Assert.Single(_elsewhere.RequestMessages());
        Assert.Null(sentThere.Header("Authorization"));
        Assert.Null(sentThere.Header(EpicClientIdHandler.Header));
        Assert.Contains($"Request to {_elsewhere.Url}, not the FHIR server {_server.Url}: sent without credentials", sut.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task SendAsync_OtherOriginVouchedFor_CarriesTheToken()
    {
        using var sut = Sut();
        using var request = new HttpRequestMessage(HttpMethod.Get, _elsewhere.Url + "/fhir/Patient/1");
        request.Options.Set(CredentialScopeHandler.AllowOtherOrigin, true);

        using var response = await sut.Client.SendAsync(request);

        Assert.Equal($"Bearer {Token}", Assert.Single(_elsewhere.RequestMessages()).Header("Authorization"));
    }

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
        using var connection = new FhirServerConnection(sut.Services.GetRequiredService<IHttpClientFactory>(), new Uri(_server.Url + "/fhir"), NullLogger<FhirServerConnection>.Instance);

        var error = await Assert.ThrowsAsync<FhirTransportException>(() => connection.SearchAllAsync("Condition", new SearchParams().Add("patient", "Patient/1"), CancellationToken.None));

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
        using var connection = new FhirServerConnection(sut.Services.GetRequiredService<IHttpClientFactory>(), new Uri(_server.Url + "/fhir"), NullLogger<FhirServerConnection>.Instance);

        var found = await connection.SearchAllAsync("Condition", new SearchParams().Add("patient", "Patient/1"), CancellationToken.None);

        Assert.Equal(["c1", "c2"], found.Select(f => f.Resource.Id));
        Assert.All(_server.RequestMessages(), r => Assert.Equal($"Bearer {Token}", r.Header("Authorization")));
    }
}
