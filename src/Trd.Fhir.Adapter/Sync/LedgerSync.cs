using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.Adapter.Transport.Push;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>Options of <see cref="LedgerSync"/>; <see cref="Validate"/> range-checks them.</summary>
public sealed class LedgerSyncOptions
{
    /// <summary>Claims of a protocol before a transient failure makes it a dead letter. 1–100, default 5.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>How long a claim holds before another worker may take the item over (a crashed worker's claim). 10 s–1 h,
    /// default 10 min; a push of one protocol must fit in it.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Delay before the first retry of a transiently failed protocol, doubling per attempt. 10 ms–10 min, default 2 s.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest delay between retries. ≥ RetryBaseDelay, ≤ 1 day, default 5 min.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary><see cref="LedgerSync.DrainAsync"/> waits for failed items whose retry is due within this horizon (so a CLI run
    /// ends with every protocol confirmed or dead unless the server stays down); zero: never waits. 0–1 h, default 2 min.</summary>
    public TimeSpan DrainRetryHorizon { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary><see cref="LedgerSync.RunAsync"/>: pause between polls when nothing is due. 10 ms–1 h, default 5 s.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary><see cref="LedgerSync.RunAsync"/>: protocols pushed at once. 1–64, default 2.</summary>
    public int Parallelism { get; set; } = 2;

    /// <summary>This worker's name in the ledger (claims, <c>pushed_by</c>); default <c>host:pid:instance</c>.</summary>
    public string? Worker { get; set; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, object value, string range)
        {
            if (!ok)
                throw new ArgumentOutOfRangeException(name, value, $"LedgerSync:{name} must be {range}.");
        }
        Check(MaxAttempts is >= 1 and <= 100, nameof(MaxAttempts), MaxAttempts, "between 1 and 100");
        Check(Lease >= TimeSpan.FromSeconds(10) && Lease <= TimeSpan.FromHours(1), nameof(Lease), Lease, "between 10 s and 1 h");
        Check(RetryBaseDelay >= TimeSpan.FromMilliseconds(10) && RetryBaseDelay <= TimeSpan.FromMinutes(10), nameof(RetryBaseDelay), RetryBaseDelay, "between 10 ms and 10 min");
        Check(MaxRetryDelay >= RetryBaseDelay && MaxRetryDelay <= TimeSpan.FromDays(1), nameof(MaxRetryDelay), MaxRetryDelay, "at least RetryBaseDelay and at most 1 day");
        Check(DrainRetryHorizon >= TimeSpan.Zero && DrainRetryHorizon <= TimeSpan.FromHours(1), nameof(DrainRetryHorizon), DrainRetryHorizon, "between 0 and 1 h");
        Check(PollInterval >= TimeSpan.FromMilliseconds(10) && PollInterval <= TimeSpan.FromHours(1), nameof(PollInterval), PollInterval, "between 10 ms and 1 h");
        Check(Parallelism is >= 1 and <= 64, nameof(Parallelism), Parallelism, "between 1 and 64");
        Check(Worker is null || (Worker.Length is > 0 and <= 200 && !string.IsNullOrWhiteSpace(Worker)), nameof(Worker), Worker ?? "", "1–200 characters");
    }
}

/// <summary>One protocol's processing: the work item as it stands afterwards, and the push report (null when the protocol was
/// not pushed now: already confirmed with this document, or held by another worker, or its document could not be read).</summary>
public sealed record LedgerPushResult(WorkItem Item, PushReport? Report);

/// <summary>
/// The ledger-driven push (CLI <c>push --ledger</c>, the API, its background worker). A protocol document is queued in the
/// ledger (canonical form + SHA-256), claimed by one worker, mapped, and pushed with <see cref="PushWorkflow"/>:
/// <list type="number">
/// <item>the intent (state Pending, per resource its business identifier and a SHA-256 of the mapped resource's JSON) is
/// written before anything is sent; resources the ledger already holds as Confirmed with the same hash are neither looked up
/// nor resent;</item>
/// <item>the rest is marked Sent just before the push; the push looks each one up on the server by business identifier (a
/// conditional search), compares, and sends only what is missing or changed, as conditional creates/updates;</item>
/// <item>the outcomes are recorded (confirmed with server id/version, failed, dead) and the claim completed: Confirmed,
/// Failed with an exponential retry time (429/503/timeouts/resets/open circuit), or Dead with the reason (refused for good:
/// 4xx other than 408/429, patient not found, unreadable document, out of attempts).</item>
/// </list>
/// Reconciliation after a crash: <see cref="ISyncLedger.RecoverAsync"/> puts abandoned claims back in the queue; their
/// Pending/Sent resources are not trusted, so the re-push looks every one of them up by identifier first — what the crashed
/// run already stored is found and reported Unchanged, what it did not is created. Nothing is lost and nothing is duplicated,
/// because the identity of every resource is its deterministic business identifier, never a ledger row or a server id.
/// </summary>
public sealed class LedgerSync
{
    private static int _instances;

    private readonly ISyncLedger _ledger;
    private readonly PushWorkflow _push;
    private readonly ProtocolToFhir _mapper;
    private readonly LedgerSyncOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LedgerSync> _logger;
    private readonly Lazy<Task> _initialized;

    public LedgerSync(ISyncLedger ledger, PushWorkflow push, ProtocolToFhir mapper, LedgerSyncOptions options, TimeProvider time, ILogger<LedgerSync> logger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(push);
        ArgumentNullException.ThrowIfNull(mapper);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _ledger = ledger;
        _push = push;
        _mapper = mapper;
        _options = options;
        _time = time;
        _logger = logger;
        Worker = options.Worker ?? $"{Environment.MachineName}:{Environment.ProcessId}:{Interlocked.Increment(ref _instances)}";
        _initialized = new Lazy<Task>(() => _ledger.InitializeAsync(CancellationToken.None));
    }

    /// <summary>This worker's name in the ledger: <c>host:pid:instance</c> unless configured.</summary>
    public string Worker { get; }

    public ISyncLedger Ledger => _ledger;

    /// <summary>The canonical document (<see cref="ProtocolWriter"/>) and its SHA-256 (hex): equal protocols, equal hashes.</summary>
    public static (string Document, string Hash) Canonical(TrdProtocol protocol)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        var document = ProtocolWriter.Write(protocol);
        return (document, Sha256(document));
    }

    /// <summary>Queues the protocol (nothing queued when the same document is already confirmed, queued or being pushed).</summary>
    public async Task<EnqueueResult> EnqueueAsync(TrdProtocol protocol, CancellationToken cancellationToken)
    {
        await _initialized.Value.WaitAsync(cancellationToken);
        var (document, hash) = Canonical(protocol);
        var result = await _ledger.EnqueueAsync(protocol.Id, document, hash, cancellationToken);
        _logger.LogDebug("Protocol {ProtocolId} {Action} (work item {WorkId}, state {State})", protocol.Id, result.Queued ? "queued" : "already known", result.Item.Id, result.Item.State);
        return result;
    }

    /// <summary>Abandoned claims back to the queue (on start; see <see cref="ISyncLedger.RecoverAsync"/>). Returns how many.</summary>
    public async Task<int> RecoverAsync(CancellationToken cancellationToken)
    {
        await _initialized.Value.WaitAsync(cancellationToken);
        var recovered = await _ledger.RecoverAsync(cancellationToken);
        if (recovered > 0)
            _logger.LogWarning("Recovered {Count} protocol pushes abandoned by an earlier run: they are reconciled with the server by identifier before anything is resent", recovered);
        return recovered;
    }

    /// <summary>Queues the protocol and pushes it now when this worker can claim it. When another worker holds it, or the same
    /// document is already confirmed, nothing is pushed: the result's report is null and its item says where it stands.</summary>
    public async Task<LedgerPushResult> PushNowAsync(TrdProtocol protocol, CancellationToken cancellationToken)
    {
        var queued = await EnqueueAsync(protocol, cancellationToken);
        if (queued.Item.State == WorkState.Confirmed && !queued.Queued)
            return new LedgerPushResult(queued.Item, null);
        var claim = await _ledger.ClaimAsync(protocol.Id, Worker, _options.Lease, cancellationToken);
        if (claim is null)
            return new LedgerPushResult(await _ledger.GetAsync(protocol.Id, cancellationToken) ?? queued.Item, null);
        return await ProcessAsync(claim, cancellationToken);
    }

    /// <summary>Claims the next due item and processes it; null when nothing is due.</summary>
    public async Task<LedgerPushResult?> ProcessNextAsync(CancellationToken cancellationToken)
    {
        await _initialized.Value.WaitAsync(cancellationToken);
        var claim = await _ledger.ClaimNextAsync(Worker, _options.Lease, cancellationToken);
        return claim is null ? null : await ProcessAsync(claim, cancellationToken);
    }

    /// <summary>
    /// Processes due items with <paramref name="parallelism"/> concurrent pushes until none is due; then, while failed items
    /// are due for a retry within <see cref="LedgerSyncOptions.DrainRetryHorizon"/>, waits for the earliest (on the injected
    /// clock) and goes on. So it returns when every item is confirmed, dead, held by another worker, or due later than the
    /// horizon. Returns the number of items processed (a retried item counts once per attempt).
    /// </summary>
    public async Task<int> DrainAsync(int parallelism, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(parallelism, 64);
        var processed = 0;
        while (true)
        {
            processed += await DrainDueAsync(parallelism, cancellationToken);
            if (_options.DrainRetryHorizon <= TimeSpan.Zero)
                return processed;
            var now = _time.GetUtcNow();
            var next = (await _ledger.ListAsync(WorkState.Failed, cancellationToken))
                .Select(i => i.NextAttemptAt ?? now)
                .Where(at => at - now <= _options.DrainRetryHorizon)
                .DefaultIfEmpty(DateTimeOffset.MaxValue)
                .Min();
            if (next == DateTimeOffset.MaxValue)
                return processed;
            if (next > now)
            {
                _logger.LogInformation("Waiting {Delay} for failed pushes due for a retry", next - now);
                await Task.Delay(next - now, _time, cancellationToken);
            }
        }
    }

    private async Task<int> DrainDueAsync(int parallelism, CancellationToken cancellationToken)
    {
        await _initialized.Value.WaitAsync(cancellationToken);
        var processed = 0;
        await Task.WhenAll(Enumerable.Range(0, parallelism).Select(_ => Task.Run(async () =>
        {
            while (await ProcessNextAsync(cancellationToken) is not null)
                Interlocked.Increment(ref processed);
        }, cancellationToken)));
        return processed;
    }

    /// <summary>The background worker: recovers abandoned claims, then forever processes what is due and polls every
    /// <see cref="LedgerSyncOptions.PollInterval"/>. A failing round (ledger unreachable) is logged and retried at the next poll.
    /// Returns when <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var recovered = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!recovered)
                {
                    await RecoverAsync(cancellationToken);
                    recovered = true;
                }
                var processed = await DrainDueAsync(_options.Parallelism, cancellationToken);
                if (processed > 0)
                    _logger.LogInformation("Background sync processed {Count} protocol pushes", processed);
                await Task.Delay(_options.PollInterval, _time, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _logger.LogError("Background sync round failed ({ErrorType}); next try in {Delay}", e.GetType().Name, _options.PollInterval);
                try
                {
                    await Task.Delay(_options.PollInterval, _time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    // ---- one claimed item ----

    private async Task<LedgerPushResult> ProcessAsync(ClaimedWork claim, CancellationToken cancellationToken)
    {
        var item = claim.Item;
        var read = ProtocolReader.Read(claim.Document);
        if (read.Protocol is not { } protocol)
        {
            // The ledger only stores documents that were read successfully: a failure here means the row was tampered with or
            // the reader's rules changed. Problem codes and paths only (no values).
            var problems = string.Join("; ", read.Problems.Where(p => p.IsError).Take(3).Select(p => $"{p.Code} at {p.Path}"));
            return await CompleteAsync(item, WorkState.Dead, $"the stored protocol document cannot be read: {problems}", null, null, cancellationToken);
        }

        // Mapped with the PHQ-9 channel the push will use (e.g. QuestionnaireResponses on Epic), so the ledger's rows and content
        // hashes are those of what is sent: confirmed PHQ-9 resources are then neither looked up nor sent again.
        Phq9Channel channel;
        try
        {
            channel = await _push.Phq9ChannelAsync(cancellationToken);
        }
        catch (Exception e) when (ServerAnswers.IsSendFailure(e, cancellationToken))
        {
            // The server could not even be asked which channel it takes (its CapabilityStatement): nothing was sent. The attempt
            // ends as the push's own would, without asking the server a second time.
            var nothing = new PushReport(protocol.Id, null, [], [$"nothing was pushed: {ServerAnswers.Describe(e)}"]) { CircuitOpenFor = ServerAnswers.CircuitOpenFor(e) };
            return ServerAnswers.IsTransient(e) || nothing.CircuitOpenFor is not null
                ? await Failed(item, ServerAnswers.Describe(e), nothing, cancellationToken)
                : await CompleteAsync(item, WorkState.Dead, $"refused for good: {ServerAnswers.Describe(e)}", null, nothing, cancellationToken);
        }
        var mapper = channel == _mapper.Phq9 ? _mapper : new ProtocolToFhir(_mapper.Identity, channel);
        Bundle bundle;
        try
        {
            bundle = mapper.Map(protocol);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogError("Mapping of protocol {ProtocolId} failed ({ErrorType})", item.ProtocolId, e.GetType().Name);
            return await CompleteAsync(item, WorkState.Dead, $"the protocol could not be mapped to FHIR: {e.Message}", null, null, cancellationToken);
        }

        // Hashes of the mapped content, before the push rewrites references to server ids.
        var intents = bundle.Entry.Select(e => Intent(e.Resource!)).ToArray();
        var byKey = intents.ToDictionary(i => (i.ResourceType, i.IdentifierValue));
        // Only rows Confirmed with this very content are trusted. Pending or Sent rows (a crashed or interrupted attempt) are
        // not: PushWorkflow looks those resources up on the server by business identifier and sends only what is missing or
        // changed, with conditional requests — that is the reconciliation, and why a re-push never duplicates.
        var rows = await _ledger.ResourcesAsync(item.ProtocolId, cancellationToken);
        var hashes = intents.ToDictionary(i => (i.IdentifierSystem, i.IdentifierValue), i => i.ContentHash);
        var confirmed = rows
            .Where(r => r.State == ResourceState.Confirmed && r.ServerId is not null
                && hashes.TryGetValue((r.IdentifierSystem, r.IdentifierValue), out var hash) && hash == r.ContentHash)
            .ToDictionary(r => $"{r.IdentifierSystem}|{r.IdentifierValue}", r => new ConfirmedResource(r.ServerId!, r.ServerVersion), StringComparer.Ordinal);

        await _ledger.RecordIntentAsync(item.Id, Worker, intents, cancellationToken);
        var toSend = intents.Where(i => !confirmed.ContainsKey($"{i.IdentifierSystem}|{i.IdentifierValue}")).Select(i => (i.IdentifierSystem, i.IdentifierValue)).ToArray();
        await _ledger.RecordSentAsync(item.Id, toSend, cancellationToken);

        PushReport report;
        try
        {
            report = await _push.PushAsync(protocol, bundle, confirmed, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // PushWorkflow reports every transport failure itself; anything else is unexpected: retried, then dead-lettered.
            _logger.LogError("Push of protocol {ProtocolId} failed unexpectedly ({ErrorType})", item.ProtocolId, e.GetType().Name);
            return await Failed(item, $"unexpected {e.GetType().Name}: {e.Message}", null, cancellationToken);
        }

        var outcomes = report.Outcomes
            .Where(o => byKey.ContainsKey((o.ResourceType, o.Identifier)) && !confirmed.ContainsKey($"{byKey[(o.ResourceType, o.Identifier)].IdentifierSystem}|{o.Identifier}"))
            .Select(o => Outcome(byKey[(o.ResourceType, o.Identifier)], o))
            .ToArray();
        await _ledger.RecordOutcomesAsync(item.Id, outcomes, cancellationToken);

        if (report.Ok(strict: false)) // kinds this server does not store are reported (their rows dead, with the reason), not a failed push
            return await CompleteAsync(item, WorkState.Confirmed, null, null, report, cancellationToken);
        var failures = report.Outcomes.Where(o => o.State is PushState.Failed or PushState.Skipped && !o.NotWritable).ToArray();
        if (failures.FirstOrDefault(o => !o.Retryable) is { } refused)
        {
            var count = failures.Count(o => !o.Retryable);
            return await CompleteAsync(item, WorkState.Dead, $"{count} of {report.Outcomes.Count} resources refused for good; first: {refused.ResourceType} {refused.Identifier}: {refused.Reason}", null, report, cancellationToken);
        }
        var first = failures.FirstOrDefault();
        return await Failed(item, first is null ? "nothing was pushed" : $"{failures.Length} of {report.Outcomes.Count} resources not stored; first: {first.ResourceType} {first.Identifier}: {first.Reason}", report, cancellationToken);
    }

    private Task<LedgerPushResult> Failed(WorkItem item, string error, PushReport? report, CancellationToken cancellationToken)
    {
        if (report?.CircuitOpenFor is { } open)
        {
            // The transport's circuit breaker refused to send: the server was not even asked, so this claim is not a failure
            // the protocol is answerable for — never a dead letter, and retried once the breaker lets requests through again
            // (retrying on the ledger's own shorter backoff would burn every attempt against a closed door).
            var wait = open > _options.RetryBaseDelay ? open : _options.RetryBaseDelay;
            return CompleteAsync(item, WorkState.Failed, error, _time.GetUtcNow() + wait, report, cancellationToken);
        }
        if (item.Attempts >= _options.MaxAttempts)
            return CompleteAsync(item, WorkState.Dead, $"out of attempts ({item.Attempts}); last error: {error}", null, report, cancellationToken);
        var delay = TimeSpan.FromTicks(Math.Min(_options.MaxRetryDelay.Ticks, _options.RetryBaseDelay.Ticks * (1L << Math.Min(item.Attempts - 1, 30))));
        return CompleteAsync(item, WorkState.Failed, error, _time.GetUtcNow() + delay, report, cancellationToken);
    }

    private async Task<LedgerPushResult> CompleteAsync(WorkItem item, WorkState state, string? error, DateTimeOffset? retryAt, PushReport? report, CancellationToken cancellationToken)
    {
        try
        {
            await _ledger.CompleteAsync(item.Id, Worker, state, error, retryAt, cancellationToken);
        }
        catch (InvalidOperationException)
        {
            // The claim was lost (lease ended, or a changed document re-queued the item): the next claimer pushes it again,
            // which is safe — it reconciles by identifier.
            _logger.LogWarning("Protocol {ProtocolId}: the claim ended before the push completed; the item stays with its new owner", item.ProtocolId);
        }
        Telemetry.TrdTelemetry.RecordPush(state, report);
        if (state == WorkState.Confirmed)
            _logger.LogInformation("Protocol {ProtocolId} confirmed (attempt {Attempt})", item.ProtocolId, item.Attempts);
        else
            _logger.LogWarning("Protocol {ProtocolId} {State} after attempt {Attempt}{Retry}", item.ProtocolId, state, item.Attempts, retryAt is { } at ? $"; retry at {at:O}" : "");
        return new LedgerPushResult(await _ledger.GetAsync(item.ProtocolId, cancellationToken) ?? item, report);
    }

    private static ResourceIntent Intent(Resource resource)
    {
        var identifier = Identity.IdentifiersOf(resource).FirstOrDefault()
            ?? throw new InvalidOperationException($"{resource.TypeName} carries no business identifier");
        return new ResourceIntent(resource.TypeName, identifier.System!, identifier.Value!, Sha256(FhirJson.Serialize(resource, pretty: false)));
    }

    private static ResourceOutcome Outcome(ResourceIntent intent, PushOutcome outcome) => outcome.State switch
    {
        PushState.Created or PushState.Updated or PushState.Unchanged =>
            new ResourceOutcome(intent.IdentifierSystem, intent.IdentifierValue, ResourceState.Confirmed, outcome.ServerId, outcome.ServerVersion, null),
        _ => new ResourceOutcome(intent.IdentifierSystem, intent.IdentifierValue, outcome.Retryable ? ResourceState.Failed : ResourceState.Dead, outcome.ServerId, outcome.ServerVersion, outcome.Reason),
    };

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
