using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.Adapter.Transport.Push;

/// <summary>
/// One way of carrying entries to a server. <see cref="SendAsync"/> records each entry's outcome on the entry and returns
/// null, or returns why the server refused the request as such (transaction or batch unsupported, too large…), so
/// <see cref="PushSender"/> falls back to the next strategy. Transport failures (timeouts, an open circuit) propagate.
/// </summary>
public interface IPushStrategy
{
    PushStrategy Kind { get; }

    Task<string?> SendAsync(IReadOnlyList<PushEntry> entries, CancellationToken cancellationToken);
}

/// <summary>All entries in one atomic transaction Bundle; references between them by <c>urn:uuid</c> fullUrl.</summary>
public sealed class TransactionStrategy(FhirServerConnection server) : IPushStrategy
{
    public PushStrategy Kind => PushStrategy.Transaction;

    public async Task<string?> SendAsync(IReadOnlyList<PushEntry> entries, CancellationToken cancellationToken)
    {
        var refusal = await BundleSend.SendAsync(server, Bundle.BundleType.Transaction, entries, cancellationToken);
        if (refusal is not null)
            server.RememberTransactionRefusal(entries.Count);
        return refusal;
    }
}

/// <summary>Entries in a batch Bundle (no atomicity: each entry answered on its own). The caller sends in dependency order.</summary>
public sealed class BatchStrategy(FhirServerConnection server) : IPushStrategy
{
    public const int BatchSize = 50;

    public PushStrategy Kind => PushStrategy.Batch;

    public async Task<string?> SendAsync(IReadOnlyList<PushEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var chunk in entries.Chunk(BatchSize))
        {
            var refused = await BundleSend.SendAsync(server, Bundle.BundleType.Batch, chunk, cancellationToken);
            if (refused is not null)
                return refused;
        }
        return null;
    }
}

/// <summary>
/// One request per entry: conditional create (<c>If-None-Exist</c> on the business identifier) where the server supports
/// it (plain create otherwise: the caller looked the entry up first), conditional update or version-aware update by id.
/// Never refuses as a whole: each entry fails on its own.
/// </summary>
public sealed class IndividualStrategy(FhirServerConnection server, ServerCapabilities capabilities) : IPushStrategy
{
    public PushStrategy Kind => PushStrategy.Individual;

    public async Task<string?> SendAsync(IReadOnlyList<PushEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries)
            await SendOneAsync(entry, cancellationToken);
        return null;
    }

    private static SearchParams ByIdentifier(Identifier identifier) => new SearchParams().Add("identifier", $"{identifier.System}|{identifier.Value}");

    private async Task SendOneAsync(PushEntry entry, CancellationToken cancellationToken)
    {
        var client = server.NewClient();
        var conditional = capabilities.Resources.Count == 0 || capabilities.For(entry.Type).ConditionalCreate;
        try
        {
            Resource? stored;
            if (entry.IsUpdate)
            {
                if (entry.Request.Url!.Contains('?', StringComparison.Ordinal))
                    stored = await client.ConditionalUpdateAsync(entry.Resource, ByIdentifier(entry.Identifier), false, cancellationToken);
                else
                {
                    entry.Resource.Id = entry.ServerId;
                    entry.Resource.Meta ??= new Meta();
                    entry.Resource.Meta.VersionId = entry.ServerVersion;
                    stored = await client.UpdateAsync(entry.Resource, versionAware: entry.ServerVersion is not null, cancellationToken);
                }
            }
            else
            {
                stored = conditional
                    ? await client.ConditionalCreateAsync(entry.Resource, ByIdentifier(entry.Identifier), cancellationToken)
                    : await client.CreateAsync(entry.Resource, cancellationToken);
            }
            ServerAnswers.RecordOne(entry, client.LastResult, stored);
        }
        catch (FhirOperationException e) when ((int)e.Status is >= 200 and < 300)
        {
            // Stored, but the body was not a readable resource (an empty or odd body): the Location still says where it is.
            ServerAnswers.RecordOne(entry, client.LastResult, null);
        }
        catch (FhirOperationException e)
        {
            var why = e.Status == HttpStatusCode.PreconditionFailed
                ? "changed on the server since it was read (412); push again to compare with the new version"
                : $"the server answered {(int)e.Status}{(ServerAnswers.OutcomeText(e.Outcome) is { } text ? ": " + text : "")}";
            entry.Fail(why, e.Status == HttpStatusCode.PreconditionFailed || ServerAnswers.IsTransientStatus((int)e.Status));
        }
    }
}

internal static class BundleSend
{
    /// <summary>POSTs a transaction or batch Bundle to the base. Null when the server answered (outcomes recorded), else its refusal.</summary>
    public static async Task<string?> SendAsync(FhirServerConnection server, Bundle.BundleType type, IReadOnlyList<PushEntry> entries, CancellationToken cancellationToken)
    {
        var bundle = new Bundle
        {
            Type = type,
            Entry = entries.Select(e => new Bundle.EntryComponent { FullUrl = e.FullUrl, Resource = e.Resource, Request = e.Request }).ToList(),
        };
        Bundle? response;
        try
        {
            // Every entry is a conditional create or an update: repeating the whole Bundle is safe.
            using (TransportContext.Idempotent())
                response = await server.NewClient().TransactionAsync(bundle, cancellationToken);
        }
        catch (FhirOperationException e) when (ServerAnswers.IsRefusal(e.Status))
        {
            return $"{(int)e.Status} {ServerAnswers.OutcomeText(e.Outcome) ?? e.Message}";
        }
        ServerAnswers.Record(entries, response, type == Bundle.BundleType.Transaction ? "transaction" : "batch");
        return null;
    }
}
