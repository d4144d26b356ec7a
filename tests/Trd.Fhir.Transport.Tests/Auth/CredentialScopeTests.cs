using System.Net;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Auth;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests.Auth;

/// <summary>Credentials stay with the configured FHIR server: requests to other origins (a server's next link, a Location)
/// leave without Authorization or Epic-Client-ID (paging itself: SearchPagingTests).</summary>
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
}
