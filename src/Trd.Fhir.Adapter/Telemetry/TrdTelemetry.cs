using System.Diagnostics;
using System.Diagnostics.Metrics;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Sync.Ledger;

namespace Trd.Fhir.Adapter.Telemetry;

/// <summary>
/// The adapter's own traces and metrics (OpenTelemetry names; docs/api.md "Telemetry"): one <see cref="ActivitySource"/> and
/// one <see cref="Meter"/>, both named <see cref="Name"/>. Every tag is a kind, an outcome, a state or a server host — never
/// an identifier, a name, a date or a resource.
/// </summary>
public static class TrdTelemetry
{
    public const string Name = "Trd.Fhir";

    private static readonly string? Version = typeof(TrdTelemetry).Assembly.GetName().Version?.ToString();

    public static readonly ActivitySource Source = new(Name, Version);

    public static readonly Meter Meter = new(Name, Version);

    private static readonly Counter<long> Pushes = Meter.CreateCounter<long>("trd_fhir.pushes", "{push}", "Protocol pushes completed through the ledger, by outcome (confirmed, failed, dead)");
    private static readonly Counter<long> Resources = Meter.CreateCounter<long>("trd_fhir.push.resources", "{resource}", "Resources of completed pushes, by outcome (created, updated, unchanged, failed, skipped) and FHIR resource type");
    private static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("trd_fhir.ledger.dead_letters", "{push}", "Pushes that became dead letters (refused for good or out of attempts)");
    private static readonly Counter<long> Retries = Meter.CreateCounter<long>("trd_fhir.fhir.retries", "{retry}", "Retries of requests to the FHIR server, by server host and reason (HTTP status or exception type)");
    private static readonly Counter<long> ThrottleWaits = Meter.CreateCounter<long>("trd_fhir.fhir.throttle_waits", "{wait}", "Waits because the FHIR server answered 429 Too Many Requests, by server host");
    private static readonly Histogram<double> ThrottleWait = Meter.CreateHistogram<double>("trd_fhir.fhir.throttle_wait.duration", "s", "How long each wait after a 429 was (Retry-After or backoff)");
    private static readonly Histogram<double> ValidationDuration = Meter.CreateHistogram<double>("trd_fhir.validation.duration", "s", "Duration of one validation (a resource or a Bundle), by result");
    private static readonly Counter<long> ValidatedResources = Meter.CreateCounter<long>("trd_fhir.validation.resources", "{resource}", "Resources validated");
    private static readonly Histogram<double> ValidationRate = Meter.CreateHistogram<double>("trd_fhir.validation.rate", "{resource}/s", "Resources per second of one validation");

    private static readonly Dictionary<string, int> Breakers = new(StringComparer.Ordinal);
    private static readonly Lock BreakersLock = new();
    private static long _queued;
    private static long _failed;
    private static long _dead;

    static TrdTelemetry()
    {
        Meter.CreateObservableGauge("trd_fhir.fhir.breaker.state", ObserveBreakers, "{state}", "Circuit breaker per FHIR server host: 0 closed, 1 half-open, 2 open");
        Meter.CreateObservableGauge("trd_fhir.ledger.queue.depth", () => new[]
        {
            new Measurement<long>(Interlocked.Read(ref _queued), new KeyValuePair<string, object?>("state", "queued")),
            new Measurement<long>(Interlocked.Read(ref _failed), new KeyValuePair<string, object?>("state", "failed")),
        }, "{push}", "Pushes waiting in the ledger: queued, or failed and waiting for their retry");
        Meter.CreateObservableGauge("trd_fhir.ledger.dead_letters.current", () => Interlocked.Read(ref _dead), "{push}", "Dead letters held in the ledger now");
    }

    /// <summary>A span for one use case (map, validate, push, pull, report, probe…); its children are the FHIR calls.</summary>
    public static Activity? StartUseCase(string useCase)
    {
        var activity = Source.StartActivity("trd-fhir " + useCase, ActivityKind.Internal);
        activity?.SetTag("trd_fhir.use_case", useCase);
        return activity;
    }

    /// <summary>A push through the ledger ended in <paramref name="state"/>, with its per-resource report when it was sent.</summary>
    public static void RecordPush(WorkState state, PushReport? report)
    {
        var outcome = state.ToString().ToLowerInvariant();
        Pushes.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
        if (state == WorkState.Dead)
            DeadLetters.Add(1);
        foreach (var o in report?.Outcomes ?? [])
            Resources.Add(1, new("outcome", o.State.ToString().ToLowerInvariant()), new("kind", o.ResourceType));
        Activity.Current?.SetTag("trd_fhir.push.outcome", outcome);
    }

    public static void RecordRetry(string server, string reason, bool throttled, TimeSpan wait)
    {
        server = Host(server);
        Retries.Add(1, new("server.address", server), new("reason", reason));
        if (throttled)
            RecordThrottleWait(server, wait);
    }

    /// <summary>A request to <paramref name="server"/> waits <paramref name="wait"/> because the server answered 429.</summary>
    public static void RecordThrottleWait(string server, TimeSpan wait)
    {
        server = Host(server);
        ThrottleWaits.Add(1, new KeyValuePair<string, object?>("server.address", server));
        ThrottleWait.Record(wait.TotalSeconds, new KeyValuePair<string, object?>("server.address", server));
    }

    /// <summary>The circuit breaker to <paramref name="server"/> changed: 0 closed, 1 half-open, 2 open.</summary>
    public static void RecordBreaker(string server, int state)
    {
        server = Host(server);
        lock (BreakersLock)
            Breakers[server] = state;
    }

    public static void RecordValidation(Resource resource, TimeSpan elapsed, bool valid)
    {
        var count = resource is Bundle bundle ? Math.Max(1, bundle.Entry.Count) : 1;
        var result = new KeyValuePair<string, object?>("result", valid ? "valid" : "invalid");
        ValidationDuration.Record(elapsed.TotalSeconds, result, new("kind", resource.TypeName));
        ValidatedResources.Add(count, result);
        if (elapsed > TimeSpan.Zero)
            ValidationRate.Record(count / elapsed.TotalSeconds);
    }

    /// <summary>The ledger's current counts (refreshed by <see cref="LedgerGauges"/>).</summary>
    public static void RecordLedger(long queued, long failed, long dead)
    {
        Interlocked.Exchange(ref _queued, queued);
        Interlocked.Exchange(ref _failed, failed);
        Interlocked.Exchange(ref _dead, dead);
    }

    /// <summary>host[:port] of a server URL (the tag <c>server.address</c>).</summary>
    private static string Host(string server) => Uri.TryCreate(server, UriKind.Absolute, out var uri) ? uri.Authority : server;

    private static IEnumerable<Measurement<int>> ObserveBreakers()
    {
        lock (BreakersLock)
            return Breakers.Select(b => new Measurement<int>(b.Value, new KeyValuePair<string, object?>("server.address", b.Key))).ToList();
    }
}
