using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>What a probe found: the server's capabilities per resource kind of the protocol, and (with live checks) the
/// result of each real round trip.</summary>
public sealed record ProbeResult(Uri Server, ServerCapabilities Capabilities, IReadOnlyList<(string Type, ResourceCapabilities Caps)> Kinds, IReadOnlyList<(string Check, bool Ok, string Detail)>? Live)
{
    /// <summary>The one JSON shape of a probe (CLI <c>probe --format json</c>, API <c>GET /servers/probe</c>).</summary>
    public IReadOnlyDictionary<string, object?> Describe() => ServerProbe.Describe(Server, Capabilities, Live);

    public bool LiveFailed => Live?.All(c => c.Ok) == false;
}

/// <summary>The probe use case (CLI <c>probe</c>, API <c>GET /servers/probe</c>): which parts of the TRD protocol the server
/// can store and read, and how pushes will reach it; optionally real checks with a sandbox identifier.</summary>
public sealed class ProbeServer(FhirServerConnection connection)
{
    public async Task<ProbeResult> ProbeAsync(bool live, CancellationToken cancellationToken)
    {
        var capabilities = await connection.CapabilitiesAsync(cancellationToken);
        var kinds = PullWorkflow.ResourceTypes.Select(type => (Type: type, Caps: capabilities.For(type))).ToArray();
        var checks = live ? await LiveChecksAsync(cancellationToken) : null;
        return new ProbeResult(connection.BaseUrl, capabilities, kinds, checks);
    }

    /// <summary>Real round trip with a synthetic Observation carrying a sandbox identifier (no patient, no PHI), deleted at the end.</summary>
    private async Task<List<(string Check, bool Ok, string Detail)>> LiveChecksAsync(CancellationToken cancellationToken)
    {
        var checks = new List<(string, bool, string)>();
        var system = Identity.DefaultBase + "/probe";
        var value = "probe-" + Identity.NameBasedUuid(connection.BaseUrl.ToString())[..8];
        Observation Sandbox() => new()
        {
            Identifier = [new Identifier(system, value)],
            Status = ObservationStatus.Final,
            Code = new CodeableConcept(Codes.Loinc, Codes.Phq9Total),
            Value = Codes.Score(0),
        };
        var condition = new SearchParams().Add("identifier", $"{system}|{value}");
        string? id = null;
        try
        {
            var client = connection.NewClient();
            var created = await client.ConditionalCreateAsync(Sandbox(), condition, cancellationToken);
            id = created?.Id;
            checks.Add(("create (If-None-Exist)", id is not null, $"{client.LastResult?.Status} id {id}"));
            var read = id is null ? null : await connection.NewClient().ReadAsync<Observation>($"Observation/{id}", ct: cancellationToken);
            checks.Add(("read", read?.Id == id && id is not null, read is null ? "not read" : "read back"));
            var again = connection.NewClient();
            var second = await again.ConditionalCreateAsync(Sandbox(), condition, cancellationToken);
            checks.Add(("conditional create twice", second?.Id == id, second?.Id == id ? $"{again.LastResult?.Status}: matched the existing resource, no duplicate" : $"second create gave id {second?.Id}: the server DUPLICATES on conditional create"));
        }
        catch (Exception e) when (e is FhirOperationException or HttpRequestException)
        {
            checks.Add(("write", false, e.Message));
        }
        finally
        {
            if (id is not null)
            {
                try
                {
                    await connection.NewClient().DeleteAsync($"Observation/{id}", cancellationToken);
                    checks.Add(("delete", true, "sandbox resource removed"));
                }
                catch (Exception e) when (e is FhirOperationException or HttpRequestException)
                {
                    checks.Add(("delete", false, e.Message));
                }
            }
        }
        return checks;
    }
}
