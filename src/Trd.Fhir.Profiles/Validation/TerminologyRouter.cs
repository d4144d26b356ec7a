using Hl7.Fhir.Model;
using Hl7.Fhir.Specification.Terminology;
using Trd.Fhir.Profiles.Store;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Local first: a ValueSet our resolver knows (ours or core) is checked by the <see cref="LocalTerminologyService"/>;
/// any other goes to the optional remote service, else to the local one (which reports it cannot check it).
/// </summary>
internal sealed class TerminologyRouter(ICodeValidationTerminologyService local, ICodeValidationTerminologyService? remote, TrdResolver resolver)
    : ICodeValidationTerminologyService
{
    public Task<Parameters> ValueSetValidateCode(Parameters parameters, string? id = null, bool useGet = false) =>
        Pick(parameters).ValueSetValidateCode(parameters, id, useGet);

    public Task<Parameters> Subsumes(Parameters parameters, string? id = null, bool useGet = false) =>
        Pick(parameters).Subsumes(parameters, id, useGet);

    private ICodeValidationTerminologyService Pick(Parameters parameters)
    {
        if (remote is null) return local;
        var url = (parameters.Parameter.FirstOrDefault(p => p.Name == "url")?.Value as PrimitiveType)?.ToString();
        return url is null || resolver.Resolve(url) is not null ? local : remote;
    }
}

/// <summary>Serialises calls to a terminology service that is not thread-safe (ExternalTerminologyService over FhirClient).</summary>
internal sealed class SerializedTerminologyService(ICodeValidationTerminologyService inner) : ICodeValidationTerminologyService, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public void Dispose() => _gate.Dispose();

    public async Task<Parameters> ValueSetValidateCode(Parameters parameters, string? id = null, bool useGet = false)
    {
        await _gate.WaitAsync();
        try
        {
            return await inner.ValueSetValidateCode(parameters, id, useGet);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<Parameters> Subsumes(Parameters parameters, string? id = null, bool useGet = false)
    {
        await _gate.WaitAsync();
        try
        {
            return await inner.Subsumes(parameters, id, useGet);
        }
        finally
        {
            _gate.Release();
        }
    }
}
