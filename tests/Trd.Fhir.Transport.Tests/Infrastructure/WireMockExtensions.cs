using WireMock;
using WireMock.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.Transport.Tests.Infrastructure;

public static class WireMockExtensions
{
    /// <summary>
    /// Answers the requests matching <paramref name="request"/> with <paramref name="responses"/> in turn; the last
    /// one answers every request after it (a WireMock scenario with one state per step).
    /// </summary>
    public static void GivenSequence(this WireMockServer server, IRequestBuilder request, params IResponseBuilder[] responses)
    {
        var scenario = "sequence-" + server.Mappings.Count;
        for (var i = 0; i < responses.Length; i++)
        {
            var step = server.Given(request).InScenario(scenario);
            if (i > 0)
            {
                step = step.WhenStateIs($"step-{i}");
            }

            if (i < responses.Length - 1)
            {
                step = step.WillSetStateTo($"step-{i + 1}");
            }

            step.RespondWith(responses[i]);
        }
    }

    /// <summary>The requests the server received, in order, as "METHOD /path".</summary>
    public static IReadOnlyList<string> Requests(this WireMockServer server) =>
        server.LogEntries.OrderBy(e => e.RequestMessage.DateTime).Select(e => $"{e.RequestMessage.Method} {e.RequestMessage.Path}").ToList();

    public static IReadOnlyList<IRequestMessage> RequestMessages(this WireMockServer server, string? path = null) =>
        server.LogEntries.OrderBy(e => e.RequestMessage.DateTime).Select(e => e.RequestMessage)
            .Where(r => path is null || r.Path == path).ToList();

    public static string? Header(this IRequestMessage request, string name) =>
        request.Headers?.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();

    public static IReadOnlyList<ILogEntry> Entries(this WireMockServer server) => server.LogEntries.ToList();
}
