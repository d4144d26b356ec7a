using System.Net;
using System.Text;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests.Auth;

/// <summary>Basic, static Bearer and None put the right Authorization header (or none) on every request.</summary>
public sealed class StaticAuthHandlersTests : IDisposable
{
    private readonly WireMockServer _server = WireMockServer.Start();

    public StaticAuthHandlersTests() =>
        _server.Given(Request.Create().WithPath("/fhir/Patient/1").UsingGet()).RespondWith(Response.Create().WithStatusCode(200));

    public void Dispose() => _server.Stop();

    private async Task<string?> AuthorizationSentWith(AuthOptions auth)
    {
        var options = TransportSut.OptionsFor(_server);
        options.Auth = auth;
        using var sut = TransportSut.Create(options, new TestClock());
        using var response = await sut.Client.GetAsync(new Uri("Patient/1", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain(auth.Password ?? auth.Token ?? "(none)", sut.Logs.All, StringComparison.Ordinal);
        return Assert.Single(_server.RequestMessages()).Header("Authorization");
    }

    [Fact]
    public async Task SendAsync_Basic_SendsBasicCredentialsInUtf8()
    {
        var header = await AuthorizationSentWith(new AuthOptions { Kind = AuthKind.Basic, Username = "trd", Password = "pä:ss wörd" });

        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("trd:pä:ss wörd")), header);
    }

    [Fact]
    public async Task SendAsync_Bearer_SendsTheStaticToken()
    {
        var header = await AuthorizationSentWith(new AuthOptions { Kind = AuthKind.Bearer, Token = "static-access-token" });

        Assert.Equal("Bearer static-access-token", header);
    }

    [Fact]
    public async Task SendAsync_None_SendsNoAuthorizationHeader()
    {
        var header = await AuthorizationSentWith(new AuthOptions { Kind = AuthKind.None });

        Assert.Null(header);
    }
}
