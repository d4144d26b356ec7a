using System.Net;
using System.Net.Http.Headers;

namespace Trd.Fhir.Adapter.Transport.Auth;

/// <summary>
/// SMART Backend Services: puts the cached access token on each request; on a 401 from the FHIR server drops that
/// token, gets a new one and sends the request again, once. Sits inside the resilience pipeline, so each retry of a
/// request comes through here again. The token cache lives in the singleton <see cref="SmartTokenProvider"/>, not here
/// (IHttpClientFactory recreates handlers every few minutes).
/// </summary>
internal sealed class SmartBackendAuthHandler(SmartTokenProvider tokens) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = await tokens.GetTokenAsync(cancellationToken);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }

        // The server did not process the request, so sending it again is safe whatever its method.
        response.Dispose();
        tokens.Invalidate(token);
        var fresh = await tokens.GetTokenAsync(cancellationToken);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fresh);
        return await base.SendAsync(request, cancellationToken);
    }
}
