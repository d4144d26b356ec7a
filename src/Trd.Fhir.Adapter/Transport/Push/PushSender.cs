using Microsoft.Extensions.Logging;

namespace Trd.Fhir.Adapter.Transport.Push;

/// <summary>
/// Sends the pending entries of a push with the server's best strategy and falls back when the server refuses:
/// transaction → batch (if the server has batch, or transaction was forced) → one request per resource. Batch and
/// individual sends go in dependency order: an entry goes once everything it references is on the server, and an entry
/// whose reference target failed or was skipped is skipped with the reason.
/// </summary>
public sealed class PushSender(FhirServerConnection server, ILogger logger, ServerProfiles.ServerProfile? profile = null)
{
    /// <summary>The push's scoped look-up of one entry, run again before a plain create whose answer was lost is sent again.</summary>
    public FindAgain? FindAgain { get; init; }

    /// <summary>Sends every entry with no state yet. <paramref name="entries"/> holds all of the push's entries (those
    /// already on the server or skipped too), so references and dependencies resolve. Returns the strategy that carried
    /// the push, null when nothing was pending; <paramref name="notes"/> gets every fallback.</summary>
    public async Task<PushStrategy?> SendAsync(IReadOnlyList<PushEntry> entries, ServerCapabilities capabilities, PushStrategy? forced, List<string> notes, CancellationToken cancellationToken)
    {
        var pending = entries.Where(e => e.State is null).ToList();
        if (pending.Count == 0)
            return null;
        var byUrl = entries.ToDictionary(e => e.FullUrl, StringComparer.Ordinal);
        if (profile is { Bundles: false })
        {
            // never POST a Bundle to a server whose profile has no transaction or batch (Epic): one request per resource
            if (forced is PushStrategy.Transaction or PushStrategy.Batch)
                notes.Add($"--strategy {forced.Value.ToString().ToLowerInvariant()} ignored: server profile '{profile.Name}' sends no Bundles; one request per resource");
            forced = PushStrategy.Individual;
        }
        else if (forced is PushStrategy.Transaction or PushStrategy.Batch && capabilities.Resources.Count > 0 && !capabilities.Transaction && !capabilities.Batch)
        {
            notes.Add($"--strategy {forced.Value.ToString().ToLowerInvariant()} ignored: the server's CapabilityStatement declares neither transaction nor batch; one request per resource");
            forced = PushStrategy.Individual;
        }
        var strategy = forced ?? capabilities.PreferredStrategy;
        while (true)
        {
            if (strategy == PushStrategy.Transaction)
            {
                var refusal = forced is null && server.TransactionRefusedAtSize <= pending.Count
                    ? $"this server refused a transaction of {server.TransactionRefusedAtSize} entries earlier in this run"
                    : await new TransactionStrategy(server).SendAsync(pending, cancellationToken);
                if (refusal is null)
                    return strategy;
                var next = capabilities.Batch || forced == PushStrategy.Transaction ? PushStrategy.Batch : PushStrategy.Individual;
                notes.Add($"transaction refused ({refusal}); falling back to {next.ToString().ToLowerInvariant()}");
                logger.LogWarning("Transaction refused by {Server} ({Reason}); falling back to {Strategy}", server.BaseUrl.Host, refusal, next);
                strategy = next;
                continue;
            }
            IPushStrategy sender = strategy == PushStrategy.Batch ? new BatchStrategy(server) : new IndividualStrategy(server, capabilities, profile, FindAgain);
            var refused = await SendInRoundsAsync(sender, pending, byUrl, cancellationToken);
            if (refused is not null && strategy == PushStrategy.Batch)
            {
                notes.Add($"batch refused ({refused}); falling back to individual requests");
                strategy = PushStrategy.Individual;
                continue;
            }
            return strategy;
        }
    }

    /// <summary>Rounds in dependency order. Returns the reason when the server refuses the strategy as such.</summary>
    public static async Task<string?> SendInRoundsAsync(IPushStrategy sender, IReadOnlyList<PushEntry> pending, IReadOnlyDictionary<string, PushEntry> byUrl, CancellationToken cancellationToken)
    {
        var remaining = pending.Where(e => e.State is null).ToList();
        while (remaining.Count > 0)
        {
            FhirReferences.RewriteToServerIds(remaining, byUrl);
            foreach (var entry in remaining)
            {
                var missing = FhirReferences.Dependencies(entry, byUrl).Where(d => d.State is EntryState.Failed or EntryState.Skipped).ToArray();
                if (missing.Length > 0)
                    entry.Skip("not sent: it references " + string.Join(", ", missing.Select(d => d.Identifier.Value).Distinct()) + ", which the server did not store", retryable: missing.Any(d => d.Retryable));
            }
            var ready = remaining.Where(e => e.State is null && FhirReferences.Dependencies(e, byUrl).All(d => d.Exists)).ToList();
            if (ready.Count == 0)
            {
                PushEntry.Fail(remaining.Where(e => e.State is null), "circular references between the remaining resources", retryable: false);
                break;
            }
            var refused = await sender.SendAsync(ready, cancellationToken);
            if (refused is not null)
                return refused;
            remaining = remaining.Where(e => e.State is null).ToList();
        }
        return null;
    }
}
