using System.Net;
using System.Text;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;

namespace Trd.Fhir.Adapter.Tests.Transport.Push;

/// <summary>A scripted FHIR server for unit tests of the push strategies: answers each request with the next response the
/// test gave for its method, and records every request (method, URL, If-None-Exist, body).</summary>
internal sealed class StubServer : HttpMessageHandler, IHttpClientFactory
{
    private readonly Queue<Func<HttpRequestMessage, Resource?, HttpResponseMessage>> _answers = new();

    public List<(HttpMethod Method, string Url, string? IfNoneExist, Resource? Body)> Requests { get; } = [];

    public FhirServerConnection Connection() => new(this, new Uri("http://stub.test/fhir/"), NullLogger<FhirServerConnection>.Instance);

    public HttpClient CreateClient(string name) => new(this, disposeHandler: false);

    public StubServer Then(Func<HttpRequestMessage, Resource?, HttpResponseMessage> answer)
    {
        _answers.Enqueue(answer);
        return this;
    }

    public StubServer ThenStatus(HttpStatusCode status, Resource? body = null, string? location = null) => Then((_, _) => Answer(status, body, location));

    public static HttpResponseMessage Answer(HttpStatusCode status, Resource? body = null, string? location = null)
    {
        var response = new HttpResponseMessage(status);
        if (body is not null)
            response.Content = new StringContent(FhirJson.Serialize(body, pretty: false), Encoding.UTF8, "application/fhir+json");
        else
            response.Content = new StringContent("", Encoding.UTF8, "application/fhir+json");
        if (location is not null)
            response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
        return response;
    }

    public static OperationOutcome Outcome(string text) =>
        new() { Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.NotSupported, Diagnostics = text }] };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var text = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        var body = string.IsNullOrEmpty(text) ? null : FhirJson.Parse(Encoding.UTF8.GetBytes(text), out _);
        Requests.Add((request.Method, request.RequestUri!.ToString(), request.Headers.TryGetValues("If-None-Exist", out var v) ? v.Single() : null, body));
        if (_answers.Count == 0)
            throw new InvalidOperationException($"unexpected request {request.Method} {request.RequestUri}");
        return _answers.Dequeue()(request, body);
    }
}

internal static class Entries
{
    public static PushEntry Observation(string local, params string[] references)
    {
        var identifier = new Identifier("https://example.org/identifier/observation", local);
        var observation = new Observation
        {
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "44261-6"),
            Identifier = [identifier],
            HasMember = references.Select(r => new ResourceReference(r)).ToList(),
        };
        return new PushEntry("urn:uuid:" + Identity.NameBasedUuid(local), observation, identifier,
            new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation", IfNoneExist = $"identifier={identifier.System}|{local}" });
    }

    public static ServerCapabilities Capabilities(bool transaction, bool batch, bool conditionalCreate) =>
        new("stub", transaction, batch, new Dictionary<string, ResourceCapabilities>
        {
            ["Observation"] = new(true, true, true, true, false, conditionalCreate, false, new HashSet<string> { "patient", "code" }, false),
        });
}
