using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Resilience;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>
/// Pushes one mapped protocol to one FHIR server. Steps: find the patient by identifier (never created); drop what the
/// server cannot write (per its CapabilityStatement, reported per resource); look up what the server already holds by
/// business identifier and compare — unchanged resources are not sent, changed ones are updated, new ones created with
/// If-None-Exist; then send with the server's best strategy (transaction → batch in dependency order → one request per
/// resource), falling back when the server refuses. What the server answers is verified entry by entry.
/// </summary>
public sealed class PushWorkflow(FhirServerConnection server, ILogger<PushWorkflow> logger)
{
    private const int BatchSize = 50;
    private const int IdentifierSearchChunk = 20;

    /// <summary>Forces a strategy (tests, <c>--strategy</c>); null lets the server's capabilities decide.</summary>
    public PushStrategy? ForcedStrategy { get; init; }

    private sealed class Item(Bundle.EntryComponent entry, Identifier identifier)
    {
        public Bundle.EntryComponent Entry { get; } = entry;
        public DomainResource Resource => (DomainResource)Entry.Resource!;
        public string Type => Entry.Resource!.TypeName;
        public Identifier Identifier { get; } = identifier;
        public string FullUrl => Entry.FullUrl!;
        public string? ServerId { get; set; }
        public string? ServerVersion { get; set; }
        public Resource? ServerCopy { get; set; }
        public PushState? State { get; set; }
        public string? Reason { get; set; }
        public bool Retryable { get; set; }
        public bool Exists => ServerId is not null;
        public string Local => $"{Type}/{ServerId}";
        public Bundle.RequestComponent Request => Entry.Request!;
        public bool IsUpdate => Request.Method == Bundle.HTTPVerb.PUT;
    }

    public Task<PushReport> PushAsync(TrdProtocol protocol, Bundle bundle, CancellationToken cancellationToken) =>
        PushAsync(protocol, bundle, confirmed: null, cancellationToken);

    /// <summary>
    /// As <see cref="PushAsync(TrdProtocol, Bundle, CancellationToken)"/>; resources in <paramref name="confirmed"/> (keyed by
    /// <c>system|value</c> of their business identifier) are known to be on the server with exactly this content (the sync
    /// ledger confirmed them with the same content hash): they are neither looked up nor sent, reported Unchanged, and
    /// references to them point at their known server id.
    /// </summary>
    public async Task<PushReport> PushAsync(TrdProtocol protocol, Bundle bundle, IReadOnlyDictionary<string, ConfirmedResource>? confirmed, CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        var items = bundle.Entry.Select(e => new Item(e, IdentifierOf(e.Resource!))).ToList();
        foreach (var item in items)
        {
            if (confirmed is not null && confirmed.TryGetValue($"{item.Identifier.System}|{item.Identifier.Value}", out var known))
            {
                item.ServerId = known.ServerId;
                item.ServerVersion = known.ServerVersion;
                item.State = PushState.Unchanged;
            }
        }
        var byUrl = items.ToDictionary(i => i.FullUrl, StringComparer.Ordinal);
        logger.LogInformation("Push of protocol {ProtocolId}: {Resources} resources to {Server}", protocol.Id, items.Count, server.BaseUrl.Host);

        PushStrategy? used = null;
        try
        {
            var capabilities = await server.CapabilitiesAsync(cancellationToken);
            var patientId = await FindPatientAsync(protocol.Patient, cancellationToken);
            if (patientId is null)
            {
                Fail(items, "the patient was not found on the server by its identifier (system " + protocol.Patient.System + "); Trd.Fhir never creates patients — register the patient in the EHR first", retryable: false);
                return Report(protocol, null, items, notes);
            }
            foreach (var item in items)
                RewritePatient(item.Resource, patientId);

            MarkNotWritable(items, capabilities);
            await LookUpExistingAsync(items, capabilities, cancellationToken);
            DetachUnwritable(items, byUrl, notes);
            RewriteToServerIds(items, byUrl);
            ClassifyExisting(items, capabilities);

            var pending = items.Where(i => i.State is null).ToList();
            if (pending.Count == 0)
                return Report(protocol, null, items, notes);

            var strategy = ForcedStrategy ?? capabilities.PreferredStrategy;
            while (true)
            {
                used = strategy;
                if (strategy == PushStrategy.Transaction)
                {
                    var refusal = ForcedStrategy is null && server.TransactionRefusedAtSize <= pending.Count
                        ? $"this server refused a transaction of {server.TransactionRefusedAtSize} entries earlier in this run"
                        : await TryTransactionAsync(pending, cancellationToken);
                    if (refusal is null)
                        break;
                    strategy = capabilities.Batch || ForcedStrategy == PushStrategy.Transaction ? PushStrategy.Batch : PushStrategy.Individual;
                    notes.Add($"transaction refused ({refusal}); falling back to {strategy.ToString().ToLowerInvariant()}");
                    logger.LogWarning("Transaction refused by {Server} ({Reason}); falling back to {Strategy}", server.BaseUrl.Host, refusal, strategy);
                    continue;
                }
                var refused = await SendInRoundsAsync(pending, byUrl, capabilities, batch: strategy == PushStrategy.Batch, cancellationToken);
                if (refused is not null && strategy == PushStrategy.Batch)
                {
                    notes.Add($"batch refused ({refused}); falling back to individual requests");
                    strategy = PushStrategy.Individual;
                    continue;
                }
                break;
            }
        }
        catch (Exception e) when (e is FhirOperationException or FhirTransportException or HttpRequestException or TimeoutException or Polly.CircuitBreaker.BrokenCircuitException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Fail(items.Where(i => i.State is null), Describe(e), IsTransient(e));
            logger.LogError("Push of protocol {ProtocolId} failed: {ErrorType}", protocol.Id, e.GetType().Name);
            if (e is FhirServerUnavailableException { Reason: FhirUnavailableReason.CircuitOpen } open)
                return Report(protocol, used, items, notes) with { CircuitOpenFor = (open.InnerException as Polly.CircuitBreaker.BrokenCircuitException)?.RetryAfter ?? TimeSpan.Zero };
        }
        return Report(protocol, used, items, notes);
    }

    private PushReport Report(TrdProtocol protocol, PushStrategy? strategy, List<Item> items, List<string> notes)
    {
        var report = new PushReport(protocol.Id, strategy, items.Select(i => new PushOutcome(i.Type, i.Identifier.Value!, i.State ?? PushState.Failed, i.ServerId, i.Reason ?? (i.State is null ? "not sent" : null), i.ServerVersion, i.State is null || i.Retryable)).ToArray(), notes);
        logger.LogInformation("Push of protocol {ProtocolId} done: strategy {Strategy}, created {Created}, updated {Updated}, unchanged {Unchanged}, failed {Failed}, skipped {Skipped}",
            protocol.Id, strategy, report.Count(PushState.Created), report.Count(PushState.Updated), report.Count(PushState.Unchanged), report.Count(PushState.Failed), report.Count(PushState.Skipped));
        return report;
    }

    private static Identifier IdentifierOf(Resource resource) =>
        Identity.IdentifiersOf(resource).FirstOrDefault() ?? throw new InvalidOperationException($"{resource.TypeName} carries no business identifier");

    private static SearchParams ByIdentifier(string system, string value) => new SearchParams().Add("identifier", $"{system}|{value}");

    private async Task<string?> FindPatientAsync(PatientRef patient, CancellationToken cancellationToken)
    {
        var found = await server.SearchAllAsync("Patient", ByIdentifier(patient.System, patient.Value), cancellationToken, maxPages: 1);
        var ids = found.Select(f => f.Resource.Id).Where(id => id is not null).Distinct().ToArray();
        if (ids.Length > 1)
            throw new FhirTransportException($"{ids.Length} patients on the server share the identifier (system {patient.System}); resolve the duplicate in the EHR first");
        return ids.FirstOrDefault();
    }

    private static IEnumerable<ResourceReference> References(Base node) =>
        node.EnumerateElements().SelectMany(kv => kv.Value switch
        {
            ResourceReference r => References(r).Prepend(r),
            Base child => References(child),
            IEnumerable<Base> list => list.SelectMany(b => b is ResourceReference r ? References(r).Prepend(r) : References(b)),
            _ => [],
        });

    private static void RewritePatient(DomainResource resource, string patientId)
    {
        foreach (var reference in References(resource).Where(r => r.Reference?.StartsWith("Patient", StringComparison.Ordinal) == true))
            reference.Reference = $"Patient/{patientId}";
    }

    private static void MarkNotWritable(List<Item> items, ServerCapabilities capabilities)
    {
        if (capabilities.Resources.Count == 0)
            return; // a server that declares nothing: try, and report what it refuses
        foreach (var item in items.Where(i => i.State is null))
        {
            if (!capabilities.For(item.Type).Create)
                Skip(item, $"the server cannot create {item.Type} (no 'create' interaction in its CapabilityStatement)");
        }
    }

    private async Task LookUpExistingAsync(List<Item> items, ServerCapabilities capabilities, CancellationToken cancellationToken)
    {
        foreach (var group in items.Where(i => i.State is null).GroupBy(i => i.Type))
        {
            if (capabilities.Resources.Count > 0 && !capabilities.For(group.Key).Search)
                continue; // cannot look: rely on If-None-Exist
            foreach (var chunk in group.Chunk(IdentifierSearchChunk))
            {
                var query = new SearchParams().Add("identifier", string.Join(",", chunk.Select(i => $"{i.Identifier.System}|{i.Identifier.Value}")));
                query.Count = 100;
                var found = await server.SearchAllAsync(group.Key, query, cancellationToken);
                foreach (var (resource, _) in found)
                {
                    var identifiers = Identity.IdentifiersOf(resource);
                    var match = chunk.FirstOrDefault(i => identifiers.Any(x => x.System == i.Identifier.System && x.Value == i.Identifier.Value));
                    if (match is null)
                        continue;
                    if (match.ServerId is not null && match.ServerId != resource.Id)
                    {
                        Fail([match], $"{group.Key} with this business identifier exists twice on the server ({match.ServerId}, {resource.Id}); resolve the duplicate first", retryable: false);
                        continue;
                    }
                    match.ServerId = resource.Id;
                    match.ServerVersion = resource.Meta?.VersionId;
                    match.ServerCopy = resource;
                }
            }
        }
    }

    /// <summary>References to resources the server cannot hold become logical references (identifier only), and say so.</summary>
    private static void DetachUnwritable(List<Item> items, Dictionary<string, Item> byUrl, List<string> notes)
    {
        var detached = 0;
        foreach (var item in items.Where(i => i.State is null))
        {
            foreach (var reference in References(item.Resource))
            {
                if (reference.Reference is { } url && byUrl.TryGetValue(url, out var target) && target.State == PushState.Skipped)
                {
                    reference.Reference = null;
                    reference.Identifier = (Identifier)target.Identifier.DeepCopy();
                    reference.Type = target.Type;
                    detached++;
                }
            }
        }
        if (detached > 0)
            notes.Add($"{detached} references to resources this server cannot store were kept as logical references (identifier only)");
    }

    private static void RewriteToServerIds(IEnumerable<Item> items, Dictionary<string, Item> byUrl)
    {
        foreach (var item in items.Where(i => i.State is null))
        {
            foreach (var reference in References(item.Resource))
            {
                if (reference.Reference is { } url && byUrl.TryGetValue(url, out var target) && target.Exists)
                    reference.Reference = target.Local;
            }
        }
    }

    private static void ClassifyExisting(List<Item> items, ServerCapabilities capabilities)
    {
        foreach (var item in items.Where(i => i.State is null && i.Exists))
        {
            if (Comparable(item.Resource) == Comparable(item.ServerCopy!))
            {
                item.State = PushState.Unchanged;
                continue;
            }
            if (capabilities.Resources.Count > 0 && !capabilities.For(item.Type).Update)
            {
                Skip(item, $"changed, but the server cannot update {item.Type} (no 'update' interaction in its CapabilityStatement)");
                continue;
            }
            item.Entry.Request = capabilities.For(item.Type).ConditionalUpdate || capabilities.Resources.Count == 0
                ? new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{item.Type}?{Identity.IdentifierQuery(item.Identifier.System!, item.Identifier.Value!)}" }
                : new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = item.Local };
        }
    }

    /// <summary>A resource's content as it matters for "has it changed": without id, meta and narrative.</summary>
    private static string Comparable(Resource resource)
    {
        var copy = (Resource)resource.DeepCopy();
        copy.Id = null;
        copy.Meta = null;
        if (copy is DomainResource domain)
            domain.Text = null;
        return FhirJson.Serialize(copy, pretty: false);
    }

    // ---- sending ----

    /// <summary>Sends everything pending as one transaction. Returns null when the server answered (per-entry outcomes
    /// recorded), or the reason the server refused the transaction as a whole (the caller falls back).</summary>
    private async Task<string?> TryTransactionAsync(List<Item> pending, CancellationToken cancellationToken)
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction, Entry = pending.Select(i => Outgoing(i)).ToList() };
        Bundle? response;
        try
        {
            using (Transport.TransportContext.Idempotent())
                response = await server.NewClient().TransactionAsync(bundle, cancellationToken);
        }
        catch (FhirOperationException e) when (IsRefusal(e.Status))
        {
            server.RememberTransactionRefusal(pending.Count);
            return $"{(int)e.Status} {OutcomeText(e.Outcome) ?? e.Message}";
        }
        Record(pending, response, "transaction");
        return null;
    }

    private static bool IsRefusal(HttpStatusCode status) => (int)status is 400 or 404 or 405 or 409 or 413 or 422 or 500 or 501;

    private static Bundle.EntryComponent Outgoing(Item item) => new()
    {
        FullUrl = item.FullUrl,
        Resource = item.Resource,
        Request = item.Entry.Request,
    };

    private static void Record(List<Item> sent, Bundle? response, string what)
    {
        if (response is null || response.Entry.Count != sent.Count)
        {
            Fail(sent, $"the server's {what} response has {response?.Entry.Count ?? 0} entries for {sent.Count} sent; outcome unknown — push again (it is safe: conditional requests never duplicate)", retryable: true);
            return;
        }
        for (var i = 0; i < sent.Count; i++)
            RecordOne(sent[i], response.Entry[i].Response, response.Entry[i].Resource);
    }

    private static void RecordOne(Item item, Bundle.ResponseComponent? response, Resource? returned)
    {
        var status = ParseStatus(response?.Status);
        if (status is null or < 200 or >= 300)
        {
            Fail([item], $"the server answered {response?.Status ?? "nothing"} for this entry{(OutcomeText(response?.Outcome as OperationOutcome) is { } text ? ": " + text : "")}", status is null || IsTransientStatus(status.Value));
            return;
        }
        var id = IdFromLocation(response?.Location, item.Type) ?? returned?.Id;
        if (id is null)
        {
            Fail([item], $"the server answered {response?.Status} but gave no location or id; cannot confirm what was stored", retryable: true);
            return;
        }
        item.ServerId = id;
        item.ServerVersion = VersionFromLocation(response?.Location) ?? returned?.Meta?.VersionId ?? VersionFromETag(response?.Etag);
        var put = item.IsUpdate;
        item.State = status == 201 ? PushState.Created : put ? PushState.Updated : PushState.Unchanged;
    }

    private static int? ParseStatus(string? status) =>
        status is { Length: >= 3 } && int.TryParse(status.AsSpan(0, 3), out var code) ? code : null;

    /// <summary>"Observation/123/_history/2" → "2"; null without a history part.</summary>
    internal static string? VersionFromLocation(string? location)
    {
        var parts = location?.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var at = parts is null ? -1 : Array.LastIndexOf(parts, "_history");
        return at >= 0 && at + 1 < parts!.Length ? parts[at + 1] : null;
    }

    /// <summary><c>W/"3"</c> → "3".</summary>
    private static string? VersionFromETag(string? etag) =>
        string.IsNullOrWhiteSpace(etag) ? null : etag.Trim().TrimStart('W', 'w').TrimStart('/').Trim('"');

    /// <summary>"Observation/123/_history/2" or "http://x/fhir/Observation/123/_history/2" → "123".</summary>
    internal static string? IdFromLocation(string? location, string resourceType)
    {
        if (location is null)
            return null;
        var parts = location.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var at = Array.LastIndexOf(parts, resourceType);
        return at >= 0 && at + 1 < parts.Length ? parts[at + 1] : null;
    }

    /// <summary>Batch or one-by-one, in dependency order: a resource goes once everything it references is on the server.
    /// Returns the reason when the server refuses batches as such (the caller falls back).</summary>
    private async Task<string?> SendInRoundsAsync(List<Item> pending, Dictionary<string, Item> byUrl, ServerCapabilities capabilities, bool batch, CancellationToken cancellationToken)
    {
        var remaining = pending.Where(i => i.State is null).ToList();
        while (remaining.Count > 0)
        {
            RewriteToServerIds(remaining, byUrl);
            var blocked = remaining.Where(i => Dependencies(i, byUrl).Any(d => d.State is PushState.Failed or PushState.Skipped)).ToList();
            foreach (var item in blocked)
            {
                var missing = Dependencies(item, byUrl).Where(d => d.State is PushState.Failed or PushState.Skipped).ToArray();
                Skip(item, "not sent: it references " + string.Join(", ", missing.Select(d => d.Identifier.Value).Distinct()) + ", which the server did not store", retryable: missing.Any(d => d.Retryable));
            }
            var ready = remaining.Where(i => i.State is null && Dependencies(i, byUrl).All(d => d.Exists)).ToList();
            if (ready.Count == 0)
            {
                Fail(remaining.Where(i => i.State is null), "circular references between the remaining resources", retryable: false);
                break;
            }
            if (batch)
            {
                foreach (var chunk in ready.Chunk(BatchSize))
                {
                    var refused = await SendBatchAsync([.. chunk], cancellationToken);
                    if (refused is not null)
                        return refused;
                }
            }
            else
            {
                foreach (var item in ready)
                    await SendOneAsync(item, capabilities, cancellationToken);
            }
            remaining = remaining.Where(i => i.State is null).ToList();
        }
        return null;
    }

    private static IEnumerable<Item> Dependencies(Item item, Dictionary<string, Item> byUrl) =>
        References(item.Resource).Select(r => r.Reference).Where(r => r is not null && byUrl.ContainsKey(r)).Select(r => byUrl[r!]).Where(d => d != item);

    private async Task<string?> SendBatchAsync(List<Item> chunk, CancellationToken cancellationToken)
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Batch, Entry = chunk.Select(i => Outgoing(i)).ToList() };
        Bundle? response;
        try
        {
            using (Transport.TransportContext.Idempotent())
                response = await server.NewClient().TransactionAsync(bundle, cancellationToken);
        }
        catch (FhirOperationException e) when (IsRefusal(e.Status))
        {
            return $"{(int)e.Status} {OutcomeText(e.Outcome) ?? e.Message}";
        }
        Record(chunk, response, "batch");
        return null;
    }

    private async Task SendOneAsync(Item item, ServerCapabilities capabilities, CancellationToken cancellationToken)
    {
        var client = server.NewClient();
        var conditional = capabilities.Resources.Count == 0 || capabilities.For(item.Type).ConditionalCreate;
        try
        {
            Resource? stored;
            if (item.IsUpdate)
            {
                if (item.Request.Url!.Contains('?', StringComparison.Ordinal))
                    stored = await client.ConditionalUpdateAsync(item.Resource, ByIdentifier(item.Identifier.System!, item.Identifier.Value!), false, cancellationToken);
                else
                {
                    item.Resource.Id = item.ServerId;
                    item.Resource.Meta ??= new Meta();
                    item.Resource.Meta.VersionId = item.ServerVersion;
                    stored = await client.UpdateAsync(item.Resource, versionAware: item.ServerVersion is not null, cancellationToken);
                }
            }
            else
            {
                stored = conditional
                    ? await client.ConditionalCreateAsync(item.Resource, ByIdentifier(item.Identifier.System!, item.Identifier.Value!), cancellationToken)
                    : await client.CreateAsync(item.Resource, cancellationToken);
            }
            RecordOne(item, client.LastResult, stored);
        }
        catch (FhirOperationException e) when ((int)e.Status is >= 200 and < 300)
        {
            // Stored, but the body was not a readable resource (an empty or odd body): the Location still says where it is.
            RecordOne(item, client.LastResult, null);
        }
        catch (FhirOperationException e)
        {
            var why = e.Status == HttpStatusCode.PreconditionFailed
                ? "changed on the server since it was read (412); push again to compare with the new version"
                : $"the server answered {(int)e.Status}{(OutcomeText(e.Outcome) is { } text ? ": " + text : "")}";
            Fail([item], why, e.Status == HttpStatusCode.PreconditionFailed || IsTransientStatus((int)e.Status));
        }
    }

    // ---- outcomes ----

    private static void Fail(IEnumerable<Item> items, string reason, bool retryable)
    {
        foreach (var item in items)
        {
            item.State = PushState.Failed;
            item.Reason = reason;
            item.Retryable = retryable;
        }
    }

    private static void Skip(Item item, string reason, bool retryable = false)
    {
        item.State = PushState.Skipped;
        item.Reason = reason;
        item.Retryable = retryable;
    }

    /// <summary>May pass: 408, 429, 5xx. Any other 4xx is the server refusing this content for good.</summary>
    private static bool IsTransientStatus(int status) => status is 408 or 429 or >= 500;

    /// <summary>Timeouts, resets, an open circuit and 408/429/5xx answers may pass; other refusals (4xx, a duplicate patient) will not.</summary>
    private static bool IsTransient(Exception e) => e switch
    {
        FhirOperationException f => IsTransientStatus((int)f.Status),
        FhirTransportException => false,
        _ => true,
    };

    private static string? OutcomeText(OperationOutcome? outcome)
    {
        var texts = outcome?.Issue.Select(i => i.Details?.Text ?? i.Diagnostics).Where(t => !string.IsNullOrWhiteSpace(t)).Take(3).ToArray();
        return texts is { Length: > 0 } ? string.Join("; ", texts) : null;
    }

    private static string Describe(Exception e) => e switch
    {
        FhirOperationException f => $"the server answered {(int)f.Status}{(OutcomeText(f.Outcome) is { } text ? ": " + text : "")}",
        Polly.CircuitBreaker.BrokenCircuitException => "the server failed repeatedly; the circuit breaker is open — try again later",
        TimeoutException or OperationCanceledException or Polly.Timeout.TimeoutRejectedException => "the server did not answer in time (after retries)",
        // .NET's own text ("An error occurred while sending the request.") does not say what happened; the socket error does
        // (e.g. "Connection reset by peer"). Our transport's own exceptions already say it all.
        HttpRequestException { InnerException: { } inner } h when h is not FhirServerUnavailableException && inner.Message != h.Message =>
            $"{h.Message} ({h.HttpRequestError}: {inner.Message})",
        _ => e.Message,
    };
}
