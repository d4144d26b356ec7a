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
/// <para>
/// A plain create is never repeated blindly: when its answer is lost (connection reset, timeout, 5xx — the write may have
/// reached the server), <paramref name="findAgain"/> runs the caller's scoped look-up for that entry again; found, it is
/// recorded as created; not found, it is created again (at most <see cref="MaxCreateAttempts"/> sends, as many as a safe request gets with the default retries). Without
/// <paramref name="findAgain"/> the failure is reported and the next run's look-up finds what was stored.
/// </para>
/// </summary>
public sealed class IndividualStrategy(FhirServerConnection server, ServerCapabilities capabilities, ServerProfiles.ServerProfile? profile = null, FindAgain? findAgain = null) : IPushStrategy
{
    /// <summary>Sends of one plain create whose answers were lost, look-ups in between.</summary>
    public const int MaxCreateAttempts = 5;

    public PushStrategy Kind => PushStrategy.Individual;

    public async Task<string?> SendAsync(IReadOnlyList<PushEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries)
            await SendOneAsync(entry, cancellationToken);
        return null;
    }

    /// <summary>A plain create; when its answer is lost, the look-up again before the next send (see the class remarks).
    /// Returns the client of the send that was answered; the entry has a state when the look-up settled it.</summary>
    private async Task<(FhirClient Client, Resource? Stored)> CreateLookingAgainAsync(PushEntry entry, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var client = server.NewClient();
            try
            {
                return (client, await client.CreateAsync(entry.Resource, cancellationToken));
            }
            catch (FhirOperationException e) when ((int)e.Status is >= 200 and < 300)
            {
                return (client, null); // stored, the body unreadable: the Location says where
            }
            catch (Exception e) when (findAgain is not null && attempt < MaxCreateAttempts && AnswerLost(e, cancellationToken))
            {
                await findAgain(entry, cancellationToken);
                if (entry.State is not null)
                    return (client, null);
                if (entry.ServerId is not null)
                {
                    entry.Done(EntryState.Created);
                    return (client, null);
                }
            }
        }
    }

    /// <summary>The create may have reached the server although no answer came back.</summary>
    private static bool AnswerLost(Exception e, CancellationToken cancellationToken) => e switch
    {
        FhirOperationException f => (int)f.Status is 408 or >= 500,
        HttpRequestException or TimeoutException => true,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        _ => false,
    };

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
            else if (conditional)
            {
                stored = await client.ConditionalCreateAsync(entry.Resource, ByIdentifier(entry.Identifier), cancellationToken);
            }
            else
            {
                (client, stored) = await CreateLookingAgainAsync(entry, cancellationToken);
                if (entry.State is not null)
                    return; // the look-up found it (created by the send whose answer was lost), or failed it
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
            ServerAnswers.ThrowIfStop(e, profile);
            var why = e.Status == HttpStatusCode.PreconditionFailed
                ? "changed on the server since it was read (412); push again to compare with the new version"
                : $"the server answered {(int)e.Status}{(ServerAnswers.OutcomeText(e.Outcome) is { } text ? ": " + text : "")}";
            entry.Fail(why, e.Status == HttpStatusCode.PreconditionFailed || ServerAnswers.IsTransientStatus((int)e.Status));
        }
    }
}

/// <summary>Runs the push's scoped look-up again for one entry: sets its server id when the server holds it, or fails it.</summary>
public delegate Task FindAgain(PushEntry entry, CancellationToken cancellationToken);

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
