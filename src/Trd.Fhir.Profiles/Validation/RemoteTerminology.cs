using System.Collections.Concurrent;
using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Specification.Terminology;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>What a terminology server said about one code: valid or not (with its message), or that it could not answer.</summary>
internal readonly record struct RemoteVerdict(bool? Valid, string? Message)
{
    /// <summary>The server did not answer (down, timed out, refused the request): nothing is known about the code.</summary>
    public bool Unanswered => Valid is null;
}

/// <summary>
/// A FHIR terminology server (<c>--tx URL</c>) asked through the Firely SDK's <see cref="ExternalTerminologyService"/>
/// (FhirClient, SDK serializer): <c>ValueSet/$validate-code</c> for bindings the local service cannot check and
/// <c>CodeSystem/$validate-code</c> for codings of systems we do not hold (terminology-service.html#validate-code,
/// codesystem-operation-validate-code.html). Answers are cached per question for the process. A server that cannot be
/// reached is asked once: every later question fails fast with the same message (a warning for the code, the run goes on).
/// Calls are serialised: FhirClient is not meant for concurrent use.
/// </summary>
internal sealed class RemoteTerminology : ICodeValidationTerminologyService, IDisposable
{
    private readonly FhirClient _client;
    private readonly ExternalTerminologyService _service;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConcurrentDictionary<string, RemoteVerdict> _codeSystemAnswers = new(StringComparer.Ordinal);
    private volatile string? _down;

    public RemoteTerminology(Uri server, TimeSpan timeout)
    {
        Server = server;
        var settings = new FhirClientSettings { PreferredFormat = ResourceFormat.Json, Timeout = (int)timeout.TotalMilliseconds, VerifyFhirVersion = false };
        _client = new FhirClient(server, settings);
        _service = new ExternalTerminologyService(_client);
    }

    public Uri Server { get; }

    /// <summary>Why the server is considered unreachable (null while it answers).</summary>
    public string? Down => _down;

    public void Dispose()
    {
        _client.Dispose();
        _gate.Dispose();
    }

    /// <summary>ValueSet/$validate-code. A server that cannot be reached becomes a <see cref="FhirOperationException"/>, which the
    /// Firely binding validator reports as a warning ("Terminology service failed while validating …").</summary>
    public Task<Parameters> ValueSetValidateCode(Parameters parameters, string? id = null, bool useGet = false) =>
        Call(() => _service.ValueSetValidateCode(parameters, id, useGet));

    public Task<Parameters> Subsumes(Parameters parameters, string? id = null, bool useGet = false) =>
        Call(() => _service.Subsumes(parameters, id, useGet));

    /// <summary>CodeSystem/$validate-code for one coding (url = system, code, display, version).</summary>
    public RemoteVerdict ValidateCoding(Coding coding)
    {
        var key = $"{coding.System}|{coding.Version}|{coding.Code}|{coding.Display}";
        if (_codeSystemAnswers.TryGetValue(key, out var known)) return known;
        var parameters = new Parameters();
        parameters.Add("url", new FhirUri(coding.System));
        parameters.Add("code", new Code(coding.Code));
        if (coding.Version is { } version) parameters.Add("version", new FhirString(version));
        if (coding.Display is { } display) parameters.Add("display", new FhirString(display));
        RemoteVerdict verdict;
        try
        {
            var result = Call(() => _service.CodeSystemValidateCode(parameters)).GetAwaiter().GetResult();
            verdict = new RemoteVerdict(result.GetSingleValue<FhirBoolean>("result")?.Value ?? false, result.GetSingleValue<FhirString>("message")?.Value);
        }
        catch (FhirOperationException e)
        {
            // not cached: a 4xx is about this question; "down" is remembered by Call
            return new RemoteVerdict(null, _down ?? $"the terminology server {Server} could not check it ({e.Message})");
        }
        _codeSystemAnswers.TryAdd(key, verdict);
        return verdict;
    }

    private async Task<Parameters> Call(Func<Task<Parameters>> call)
    {
        if (_down is { } reason) throw NotChecked(reason);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_down is { } again) throw NotChecked(again);
            return await call().ConfigureAwait(false);
        }
        catch (FhirOperationException e) when (e.Status is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)
        {
            throw NotChecked(_down = $"the terminology server {Server} could not be reached (HTTP {(int)e.Status})");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or TimeoutException or IOException)
        {
            throw NotChecked(_down = $"the terminology server {Server} could not be reached ({e.GetBaseException().Message})");
        }
        finally
        {
            _gate.Release();
        }
    }

    private static FhirOperationException NotChecked(string reason) =>
        new($"{reason}, so the code was not checked", HttpStatusCode.ServiceUnavailable);
}
