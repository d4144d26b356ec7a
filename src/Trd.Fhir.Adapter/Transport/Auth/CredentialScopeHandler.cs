using Microsoft.Extensions.Logging;

namespace Trd.Fhir.Adapter.Transport.Auth;

/// <summary>
/// Credentials stay with the FHIR server they were configured for. Innermost of the auth handlers: a request to another
/// origin (scheme, host, port) than the server's base URL leaves without <c>Authorization</c> and <c>Epic-Client-ID</c>,
/// whatever put them there — a <c>next</c> link, a <c>Location</c> or a redirect target chosen by the server can never make
/// Trd.Fhir hand its token, password or client id to someone else. The only exception is a request the caller marks with
/// <see cref="AllowOtherOrigin"/>: the Bulk Data status and file URLs the server itself lists as needing its token
/// (<c>requiresAccessToken</c>). Logs the refused origin, never the path or query (they can carry identifiers).
/// </summary>
internal sealed class CredentialScopeHandler(Uri baseUrl, ILogger<CredentialScopeHandler> logger) : DelegatingHandler
{
    /// <summary>Marks a request whose other origin the FHIR server vouched for (Bulk Data status and file URLs).</summary>
    public static readonly HttpRequestOptionsKey<bool> AllowOtherOrigin = new("trd-fhir.credentials.other-origin");

    /// <summary>Same scheme, host and port as <paramref name="server"/>.</summary>
    public static bool SameOrigin(Uri request, Uri server) =>
        Uri.Compare(request, server, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { IsAbsoluteUri: true } target && !SameOrigin(target, baseUrl)
            && !(request.Options.TryGetValue(AllowOtherOrigin, out var allowed) && allowed)
            && (request.Headers.Authorization is not null || request.Headers.Contains(EpicClientIdHandler.Header)))
        {
            request.Headers.Authorization = null;
            request.Headers.Remove(EpicClientIdHandler.Header);
            logger.LogWarning("Request to {Origin}, not the FHIR server {Server}: sent without credentials",
                target.GetLeftPart(UriPartial.Authority), baseUrl.GetLeftPart(UriPartial.Authority));
        }
        return base.SendAsync(request, cancellationToken);
    }
}
