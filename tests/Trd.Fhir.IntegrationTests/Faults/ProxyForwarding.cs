using System.Text;
using WireMock;
using WireMock.ResponseBuilders;
using WireMock.Types;
using WireMock.Util;

namespace Trd.Fhir.IntegrationTests.Faults;

/// <summary>
/// How the WireMock fault proxies (<see cref="FaultProxy"/>, Bulk/BulkFaultProxy) pass a request through to the real test
/// server and its answer back: hop-by-hop headers (and the proxy's own control header) dropped, the real server's base URL
/// in bodies and headers rewritten to the proxy's, so the client keeps talking to the proxy.
/// </summary>
internal static class ProxyForwarding
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Proxy-Connection", "TE", "Trailer", "Upgrade",
    };

    private static bool Dropped(string name, string controlHeader) =>
        HopByHop.Contains(name) || string.Equals(name, controlHeader, StringComparison.OrdinalIgnoreCase);

    /// <summary>The request to send on, relative to the forwarding client's base address.</summary>
    public static HttpRequestMessage Outgoing(IRequestMessage request, string controlHeader)
    {
        var uri = new Uri(request.AbsoluteUrl);
        var outgoing = new HttpRequestMessage(new HttpMethod(request.Method), uri.PathAndQuery);
        var body = request.BodyAsBytes ?? (request.Body is { } text ? Encoding.UTF8.GetBytes(text) : null);
        if (body is { Length: > 0 })
            outgoing.Content = new ByteArrayContent(body);
        foreach (var (name, values) in request.Headers ?? new Dictionary<string, WireMockList<string>>())
        {
            if (Dropped(name, controlHeader))
                continue;
            if (!outgoing.Headers.TryAddWithoutValidation(name, values.ToArray()))
                outgoing.Content?.Headers.TryAddWithoutValidation(name, values.ToArray());
        }
        return outgoing;
    }

    /// <summary>The real server's answer as the proxy's: its base URL rewritten in the headers, and in the body unless
    /// <paramref name="bodyAsIs"/> (file bodies pass untouched).</summary>
    public static ResponseMessage Incoming(HttpResponseMessage response, byte[] bytes, string realBase, Uri proxyBaseUrl, string controlHeader, bool bodyAsIs = false)
    {
        var proxyBase = proxyBaseUrl.AbsoluteUri.TrimEnd('/');
        var message = new ResponseMessage
        {
            StatusCode = (int)response.StatusCode,
            BodyData = new BodyData
            {
                BodyAsBytes = bodyAsIs ? bytes : Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(bytes).Replace(realBase, proxyBase, StringComparison.Ordinal)),
                DetectedBodyType = BodyType.Bytes,
            },
        };
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!Dropped(name, controlHeader))
                message.AddHeader(name, values.Select(v => v.Replace(realBase, proxyBase, StringComparison.Ordinal)).ToArray());
        }
        return message;
    }
}
