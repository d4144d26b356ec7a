namespace Trd.Fhir.Adapter.Transport.Resilience;

/// <summary>
/// The innermost handler: counts the attempts of a request and reads the whole response body inside the attempt, so a
/// body cut off mid-way is a failed attempt (retried like a reset) and the attempt timeout covers the download too.
/// FHIR responses are JSON documents read whole by the client anyway.
/// </summary>
internal sealed class AttemptHandler : DelegatingHandler
{
    internal static readonly HttpRequestOptionsKey<int> Attempts = new("Trd.Fhir.Transport.Attempts");

    internal static int AttemptsOf(HttpRequestMessage request) =>
        request.Options.TryGetValue(Attempts, out var attempts) ? attempts : 0;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Options.Set(Attempts, AttemptsOf(request) + 1);
        var response = await base.SendAsync(request, cancellationToken);
        if (request.Options.TryGetValue(TransportContext.StreamResponse, out var streamed) && streamed && response.IsSuccessStatusCode)
            return response; // the caller streams the body (Bulk Data files) and resumes it itself
        try
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }
}
