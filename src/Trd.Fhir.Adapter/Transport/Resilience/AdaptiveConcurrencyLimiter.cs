using System.Collections.Concurrent;

namespace Trd.Fhir.Adapter.Transport.Resilience;

/// <summary>
/// How many requests may be on the wire to one server at once, adapted to what the server says (AIMD, as TCP does):
/// a 429 halves the limit (once per round of requests: the 429s of one burst count once) and pauses every request to
/// that server until its Retry-After has passed; each run of as many successes as the limit (of requests sent since the
/// last decrease) raises it by one, up to
/// <see cref="ResilienceSettings.MaxConcurrency"/>. One per server (scheme, host, port), shared by every caller.
/// </summary>
public sealed class AdaptiveConcurrencyLimiter
{
    private readonly Lock _gate = new();
    private readonly Queue<TaskCompletionSource> _waiting = new();
    private readonly TimeProvider _time;
    private int _inFlight;
    private int _successes;
    private long _round;
    private DateTimeOffset _pausedUntil;

    public AdaptiveConcurrencyLimiter(int maxConcurrency, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrency, 1);
        ArgumentNullException.ThrowIfNull(time);
        MaxConcurrency = maxConcurrency;
        Limit = maxConcurrency;
        _time = time;
    }

    public int MaxConcurrency { get; }

    /// <summary>The current limit, 1 to <see cref="MaxConcurrency"/>.</summary>
    public int Limit { get; private set; }

    public int InFlight
    {
        get
        {
            lock (_gate)
                return _inFlight;
        }
    }

    /// <summary>How long requests to this server still pause after the last 429 (zero when they may go).</summary>
    public TimeSpan PauseRemaining
    {
        get
        {
            lock (_gate)
            {
                var left = _pausedUntil - _time.GetUtcNow();
                return left > TimeSpan.Zero ? left : TimeSpan.Zero;
            }
        }
    }

    /// <summary>Waits for a free slot (first come, first served) and takes it; dispose the lease, or report through it.</summary>
    public async ValueTask<Lease> AcquireAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            TaskCompletionSource turn;
            lock (_gate)
            {
                if (_inFlight < Limit && _waiting.Count == 0)
                {
                    _inFlight++;
                    return new Lease(this, _round);
                }

                turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Enqueue(turn);
            }

            try
            {
                await turn.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                lock (_gate)
                {
                    // Give the turn on if it was handed to us just as we were cancelled.
                    if (!turn.TrySetCanceled(cancellationToken))
                        WakeNext();
                }
                throw;
            }

            lock (_gate)
            {
                if (_inFlight < Limit)
                {
                    _inFlight++;
                    var lease = new Lease(this, _round);
                    WakeNext();
                    return lease;
                }

                // Another caller took the slot, or the limit fell, while we were waking up: join the line again.
            }
        }
    }

    private void Release(Lease lease, bool? throttled, TimeSpan retryAfter)
    {
        lock (_gate)
        {
            _inFlight--;
            if (throttled == true)
            {
                if (lease.Round == _round)
                {
                    // First 429 of this round: halve, and start a new round (requests already on the wire count as the old one).
                    Limit = Math.Max(1, Limit / 2);
                    _round++;
                    _successes = 0;
                }

                var until = _time.GetUtcNow() + retryAfter;
                if (until > _pausedUntil)
                    _pausedUntil = until;
            }
            else if (throttled == false && lease.Round == _round && Limit < MaxConcurrency && ++_successes >= Limit)
            {
                Limit++;
                _successes = 0;
            }

            WakeNext();
        }
    }

    /// <summary>Under the lock: hands free slots to the longest waiting callers.</summary>
    private void WakeNext()
    {
        var free = Limit - _inFlight;
        while (free > 0 && _waiting.TryDequeue(out var next))
        {
            if (next.TrySetResult())
                free--;
        }
    }

    /// <summary>One slot on the wire. Report how the request ended once; disposing without a report just frees the slot.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly AdaptiveConcurrencyLimiter _limiter;
        private int _released;

        internal Lease(AdaptiveConcurrencyLimiter limiter, long round)
        {
            _limiter = limiter;
            Round = round;
        }

        internal long Round { get; }

        /// <summary>The server answered something other than 429: counts toward raising the limit.</summary>
        public void Succeeded() => Release(false, TimeSpan.Zero);

        /// <summary>The server answered 429: lowers the limit and pauses the server's requests for <paramref name="retryAfter"/>.</summary>
        public void Throttled(TimeSpan retryAfter) => Release(true, retryAfter);

        public void Dispose() => Release(null, TimeSpan.Zero);

        private void Release(bool? throttled, TimeSpan retryAfter)
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                _limiter.Release(this, throttled, retryAfter);
        }
    }
}

/// <summary>One <see cref="AdaptiveConcurrencyLimiter"/> per server (scheme, host, port), shared by every request to it.</summary>
public sealed class ServerLimiters(int maxConcurrency, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, AdaptiveConcurrencyLimiter> _limiters = new(StringComparer.OrdinalIgnoreCase);

    public AdaptiveConcurrencyLimiter For(Uri server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return _limiters.GetOrAdd(server.GetLeftPart(UriPartial.Authority), _ => new AdaptiveConcurrencyLimiter(maxConcurrency, time));
    }
}
