using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Specification.Terminology;
using Trd.Fhir.Profiles.Store;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Local first: a ValueSet our resolver knows (ours or core) is checked by the <see cref="LocalTerminologyService"/>;
/// any other goes to the optional remote service, else to the local one (which reports it cannot check it). A local
/// ValueSet the local service cannot expand (it includes a code system we do not hold, e.g. SNOMED CT) goes to the
/// remote service too when there is one.
/// </summary>
internal sealed class TerminologyRouter(ICodeValidationTerminologyService local, ICodeValidationTerminologyService? remote, TrdResolver resolver)
    : ICodeValidationTerminologyService
{
    public async Task<Parameters> ValueSetValidateCode(Parameters parameters, string? id = null, bool useGet = false)
    {
        if (remote is null) return await local.ValueSetValidateCode(parameters, id, useGet).ConfigureAwait(false);
        if (!IsLocal(parameters)) return await remote.ValueSetValidateCode(parameters, id, useGet).ConfigureAwait(false);
        try
        {
            return await local.ValueSetValidateCode(parameters, id, useGet).ConfigureAwait(false);
        }
        catch (FhirOperationException)
        {
            return await remote.ValueSetValidateCode(parameters, id, useGet).ConfigureAwait(false);
        }
    }

    public Task<Parameters> Subsumes(Parameters parameters, string? id = null, bool useGet = false) =>
        (remote is null || IsLocal(parameters) ? local : remote).Subsumes(parameters, id, useGet);

    private bool IsLocal(Parameters parameters)
    {
        var url = (parameters.Parameter.FirstOrDefault(p => p.Name == "url")?.Value as PrimitiveType)?.ToString();
        return url is null || resolver.Resolve(url) is not null;
    }
}
