namespace Trd.Fhir.Adapter.Transport.Resilience;

/// <summary>Why a request waited instead of failing.</summary>
public enum WaitReason
{
    /// <summary>The server answered 429 Too Many Requests (or another request to it did): waited its Retry-After.</summary>
    Throttled,

    /// <summary>
    /// The server failed repeatedly: its circuit breaker was open (waited until it lets a request through again), or a
    /// request spent all its retries on transient failures (waited a break before starting again).
    /// </summary>
    CircuitOpen,
}

/// <summary>
/// How long an operation waited for a server (wall-clock time during which at least one of its requests was waiting, so
/// concurrent waits are not added up), per reason, and whether it gave up because the budget was spent.
/// </summary>
public sealed record WaitSummary(int Throttled, TimeSpan ThrottledTime, int CircuitOpen, TimeSpan CircuitOpenTime, TimeSpan Total, TimeSpan Budget, bool BudgetSpent)
{
    public static WaitSummary None { get; } = new(0, TimeSpan.Zero, 0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, false);

    public bool Any => Throttled > 0 || CircuitOpen > 0 || BudgetSpent;

    /// <summary>One line for a summary, e.g. "waited 12.5 s: 8 × throttled (429, Retry-After) 4.5 s, 1 × circuit breaker open 8 s".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (Throttled > 0)
            parts.Add($"{Throttled} × throttled by the server (429, Retry-After) {Seconds(ThrottledTime)}");
        if (CircuitOpen > 0)
            parts.Add($"{CircuitOpen} × the server failed repeatedly (circuit breaker open, or retries spent) {Seconds(CircuitOpenTime)}");
        var spent = BudgetSpent ? $"; the wait budget (--max-wait {Seconds(Budget)}) was spent, so the rest was not waited for" : string.Empty;
        return $"waited {Seconds(Total)}: {(parts.Count == 0 ? "no waits" : string.Join(", ", parts))}{spent}";
    }

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.#} s";
}

/// <summary>
/// A scope in which requests may wait for the server — for its Retry-After after a 429, or for the open circuit breaker
/// to let requests through again — within one shared budget, and which records those waits. Flows with the async call
/// (AsyncLocal) into the transport's handlers, like <see cref="TransportContext.Idempotent"/>.
/// <para>
/// Without a waiting scope (<see cref="Begin"/>), each 429 wait of a request must fit <see cref="ResilienceSettings.MaxWait"/>
/// and an open circuit fails the request at once (health checks, probes and the ledger's own retry schedule must not
/// hang). Scopes nest: a wait is recorded in every enclosing scope and must fit each waiting scope's budget, so a CLI run
/// shares one budget while each push only records its own waits (<see cref="Record"/>) for its summary.
/// </para>
/// </summary>
public sealed class TransportWaits : IDisposable
{
    private static readonly AsyncLocal<TransportWaits?> CurrentScope = new();

    private readonly Lock _gate = new();
    private readonly TransportWaits? _parent;
    private readonly Tracker _all = new();
    private readonly Tracker _throttled = new();
    private readonly Tracker _circuit = new();
    private readonly bool _waits;
    private TimeSpan? _budget;
    private bool _budgetSpent;
    private bool _disposed;

    private TransportWaits(TransportWaits? parent, TimeSpan? budget, bool waits)
    {
        _parent = parent;
        _budget = budget;
        _waits = waits;
    }

    /// <summary>The innermost scope of the current async flow, if any.</summary>
    public static TransportWaits? Current => CurrentScope.Value;

    /// <summary>True when this scope or an enclosing one is a waiting scope (<see cref="Begin"/>): an open breaker is waited for.</summary>
    public bool CanWait => _waits || (_parent?.CanWait ?? false);

    /// <summary>
    /// Opens a scope. <paramref name="budget"/>: the most this scope may wait in total; null takes
    /// <see cref="ResilienceSettings.MaxWait"/> of the server waited for (an enclosing scope's budget applies too).
    /// </summary>
    public static TransportWaits Begin(TimeSpan? budget = null)
    {
        if (budget < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(budget), budget, "A wait budget cannot be negative.");
        var scope = new TransportWaits(CurrentScope.Value, budget, waits: true);
        CurrentScope.Value = scope;
        return scope;
    }

    /// <summary>
    /// Opens a scope that only records the waits of the requests inside it (e.g. one push, for its summary); whether they
    /// may wait, and how long, is up to the enclosing scopes.
    /// </summary>
    public static TransportWaits Record()
    {
        var scope = new TransportWaits(CurrentScope.Value, null, waits: false);
        CurrentScope.Value = scope;
        return scope;
    }

    /// <summary>The waits completed so far.</summary>
    public WaitSummary Summary()
    {
        lock (_gate)
        {
            return new WaitSummary(_throttled.Count, _throttled.Total, _circuit.Count, _circuit.Total, _all.Total,
                _budget ?? TimeSpan.Zero, _budgetSpent);
        }
    }

    /// <summary>What was waited so far (the budget shown is this scope's, or the settings' once a wait used it).</summary>
    public WaitSummary Summary(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var now = time.GetUtcNow();
        lock (_gate)
        {
            return new WaitSummary(_throttled.Count, _throttled.Elapsed(now), _circuit.Count, _circuit.Elapsed(now),
                _all.Elapsed(now), _budget ?? TimeSpan.Zero, _budgetSpent);
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (CurrentScope.Value == this)
            CurrentScope.Value = _parent;
    }

    /// <summary>
    /// Asks to wait <paramref name="wait"/> for <paramref name="reason"/>: true (and the wait is recorded as begun) when it
    /// fits the remaining budget of every waiting scope from this one outwards (of <paramref name="defaultBudget"/> alone
    /// when there is none); false (and the budget marked spent) otherwise. End the wait with <see cref="End"/>.
    /// </summary>
    public bool TryBegin(WaitReason reason, TimeSpan wait, TimeSpan defaultBudget, DateTimeOffset now)
    {
        var fits = CanWait || wait <= defaultBudget;
        for (var scope = this; scope is not null && fits; scope = scope._parent)
            fits = !scope._waits || scope.Fits(wait, defaultBudget, now);
        if (!fits)
        {
            for (var marked = this; marked is not null; marked = marked._parent)
                marked.MarkSpent();
            return false;
        }

        for (var scope = this; scope is not null; scope = scope._parent)
            scope.Start(reason, now);
        return true;
    }

    public void End(WaitReason reason, DateTimeOffset now)
    {
        for (var scope = this; scope is not null; scope = scope._parent)
            scope.Stop(reason, now);
    }

    private bool Fits(TimeSpan wait, TimeSpan defaultBudget, DateTimeOffset now)
    {
        lock (_gate)
        {
            _budget ??= defaultBudget;
            // Time already being waited by a concurrent request overlaps with this wait: only what lies beyond it is new.
            var ongoing = _all.Active > 0 ? now - _all.Since : TimeSpan.Zero;
            return _all.Total + ongoing + wait <= _budget.Value;
        }
    }

    private void MarkSpent()
    {
        lock (_gate)
            _budgetSpent = true;
    }

    private void Start(WaitReason reason, DateTimeOffset now)
    {
        lock (_gate)
        {
            _all.Start(now, count: false);
            (reason == WaitReason.Throttled ? _throttled : _circuit).Start(now, count: true);
        }
    }

    private void Stop(WaitReason reason, DateTimeOffset now)
    {
        lock (_gate)
        {
            _all.Stop(now);
            (reason == WaitReason.Throttled ? _throttled : _circuit).Stop(now);
        }
    }

    /// <summary>The union of waiting intervals: time during which at least one wait was active.</summary>
    private sealed class Tracker
    {
        public int Count { get; private set; }
        public int Active { get; private set; }
        public DateTimeOffset Since { get; private set; }
        public TimeSpan Total { get; private set; }

        public void Start(DateTimeOffset now, bool count)
        {
            if (count)
                Count++;
            if (Active++ == 0)
                Since = now;
        }

        public void Stop(DateTimeOffset now)
        {
            if (Active > 0 && --Active == 0)
                Total += now - Since;
        }

        public TimeSpan Elapsed(DateTimeOffset now) => Total + (Active > 0 ? now - Since : TimeSpan.Zero);
    }
}
