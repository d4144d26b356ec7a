using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>
/// The push use case (CLI <c>push</c>): every protocol is mapped and its Bundle validated first (<see cref="Prepare"/>); only
/// when all of them conform — or validation is switched off (<c>--no-validate</c>) — is anything sent, one protocol after
/// the other, with the <see cref="PushWorkflow"/> (look up by business identifier, compare, conditional create/update).
/// </summary>
public sealed class PushProtocols(MapProtocol map, PushWorkflow push)
{
    /// <summary>
    /// As <see cref="Prepare(IReadOnlyList{TrdProtocol}, bool)"/>, with PHQ-9 mapped through the channel the push will use
    /// (<c>--phq9-as</c>, else the server profile's — which may read the server's CapabilityStatement), so what is validated
    /// is what is sent. When the server cannot be reached the Observation channel is used; the push then reports the failure.
    /// </summary>
    public async Task<IReadOnlyList<MappedProtocol>> PrepareAsync(IReadOnlyList<TrdProtocol> protocols, bool validate, CancellationToken cancellationToken)
    {
        return Prepare(protocols, validate, map.WithPhq9(await push.Phq9ChannelForMappingAsync(cancellationToken)));
    }

    /// <summary>Maps (and, when <paramref name="validate"/>, validates) each protocol; nothing is sent.</summary>
    public IReadOnlyList<MappedProtocol> Prepare(IReadOnlyList<TrdProtocol> protocols, bool validate) => Prepare(protocols, validate, map);

    private static IReadOnlyList<MappedProtocol> Prepare(IReadOnlyList<TrdProtocol> protocols, bool validate, MapProtocol map)
    {
        ArgumentNullException.ThrowIfNull(protocols);
        // Mapping is pure and the validator pool thread-safe: many protocols are prepared in parallel, results in order.
        var prepared = new MappedProtocol[protocols.Count];
        Parallel.For(0, protocols.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i => prepared[i] = map.Map(protocols[i], validate));
        return prepared;
    }

    /// <summary>Sends prepared protocols; refuses (throws) when one of them did not validate.</summary>
    public async Task<IReadOnlyList<PushReport>> PushAsync(IReadOnlyList<MappedProtocol> prepared, Action<int>? starting, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        if (prepared.Any(p => p.Invalid || p.Bundle is null))
            throw new InvalidOperationException("a protocol whose Bundle does not conform to the profiles is never sent");
        var reports = new List<PushReport>();
        for (var i = 0; i < prepared.Count; i++)
        {
            starting?.Invoke(i);
            reports.Add(await push.PushAsync(prepared[i].Protocol!, prepared[i].Bundle!, cancellationToken));
        }
        return reports;
    }
}
