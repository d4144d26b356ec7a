using System.Net.Http.Headers;
using System.Text;

namespace Trd.Fhir.Adapter.Transport.Auth;

/// <summary>HTTP Basic: <c>Authorization: Basic base64(user:password)</c> (UTF-8) on every request.</summary>
internal sealed class BasicAuthHandler(string username, string password) : DelegatingHandler
{
    private readonly string _credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}"));

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", _credentials);
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>A static access token: <c>Authorization: Bearer token</c> on every request.</summary>
internal sealed class BearerAuthHandler(string token) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>AuthKind.None: passes requests through untouched.</summary>
internal sealed class NoAuthHandler : DelegatingHandler;

/// <summary>
/// <c>Epic-Client-ID: {client id}</c> on every request when AuthOptions.EpicClientId is set (Epic answers
/// <c>/metadata</c> with the client's own OAuth endpoints only then); otherwise passes requests through.
/// </summary>
internal sealed class EpicClientIdHandler(string? clientId) : DelegatingHandler
{
    public const string Header = "Epic-Client-ID";

    public static void Add(HttpRequestMessage request, string? clientId)
    {
        if (!string.IsNullOrWhiteSpace(clientId) && !request.Headers.Contains(Header))
            request.Headers.TryAddWithoutValidation(Header, clientId);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Add(request, clientId);
        return base.SendAsync(request, cancellationToken);
    }
}
