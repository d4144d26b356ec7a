using Trd.Fhir.Adapter.Transport.Resilience;
using Trd.Fhir.Transport.Tests.Infrastructure;

namespace Trd.Fhir.Transport.Tests.Resilience;

/// <summary>The wait scope's accounting on the test clock: overlapping waits count once, nested budgets all apply.</summary>
public sealed class TransportWaitsTests
{
    private readonly TestClock _clock = new();

    [Fact]
    public void TryBegin_TwoOverlappingWaits_CountedOnceAsWallClockTime()
    {
        using var sut = TransportWaits.Begin(TimeSpan.FromMinutes(1));

        Assert.True(sut.TryBegin(WaitReason.Throttled, TimeSpan.FromSeconds(4), TimeSpan.Zero, _clock.GetUtcNow()));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(sut.TryBegin(WaitReason.Throttled, TimeSpan.FromSeconds(3), TimeSpan.Zero, _clock.GetUtcNow()));
        _clock.Advance(TimeSpan.FromSeconds(3));
        sut.End(WaitReason.Throttled, _clock.GetUtcNow());
        sut.End(WaitReason.Throttled, _clock.GetUtcNow());

        var summary = sut.Summary(_clock);
        Assert.Equal((2, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(4)), (summary.Throttled, summary.ThrottledTime, summary.Total));
    }

    [Fact]
    public void TryBegin_NestedScopes_TheOuterBudgetAppliesAndBothRecord()
    {
        using var run = TransportWaits.Begin(TimeSpan.FromSeconds(10));
        using (var push = TransportWaits.Begin(TimeSpan.FromMinutes(5)))
        {
            Assert.Same(push, TransportWaits.Current);
            Assert.True(push.TryBegin(WaitReason.CircuitOpen, TimeSpan.FromSeconds(8), TimeSpan.Zero, _clock.GetUtcNow()));
            _clock.Advance(TimeSpan.FromSeconds(8));
            push.End(WaitReason.CircuitOpen, _clock.GetUtcNow());

            Assert.False(push.TryBegin(WaitReason.Throttled, TimeSpan.FromSeconds(3), TimeSpan.Zero, _clock.GetUtcNow()));
            Assert.True(push.Summary(_clock).BudgetSpent);
        }

        Assert.Same(run, TransportWaits.Current);
        var summary = run.Summary(_clock);
        Assert.Equal((1, TimeSpan.FromSeconds(8), true), (summary.CircuitOpen, summary.CircuitOpenTime, summary.BudgetSpent));
    }

    [Fact]
    public void TryBegin_NoBudgetGiven_TakesTheDefaultOfTheFirstWait()
    {
        using var sut = TransportWaits.Begin();

        Assert.False(sut.TryBegin(WaitReason.Throttled, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2), _clock.GetUtcNow()));
        Assert.Equal(TimeSpan.FromSeconds(2), sut.Summary(_clock).Budget);
    }

    [Fact]
    public void TryBegin_RecordOnlyScopeInsideAWaitingOne_RecordsInBothAndTheOuterBudgetApplies()
    {
        using var run = TransportWaits.Begin(TimeSpan.FromSeconds(5));
        using var push = TransportWaits.Record();

        Assert.True(push.CanWait);
        Assert.True(push.TryBegin(WaitReason.Throttled, TimeSpan.FromSeconds(4), TimeSpan.FromMinutes(10), _clock.GetUtcNow()));
        _clock.Advance(TimeSpan.FromSeconds(4));
        push.End(WaitReason.Throttled, _clock.GetUtcNow());
        Assert.False(push.TryBegin(WaitReason.Throttled, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(10), _clock.GetUtcNow()));

        Assert.Equal((1, TimeSpan.FromSeconds(4), true), (push.Summary().Throttled, push.Summary().ThrottledTime, push.Summary().BudgetSpent));
        Assert.Equal((1, TimeSpan.FromSeconds(4)), (run.Summary().Throttled, run.Summary().Total));
    }

    [Fact]
    public void TryBegin_RecordOnlyScopeAlone_CannotWaitForTheBreakerAndEachWaitMustFitTheDefault()
    {
        using var push = TransportWaits.Record();

        Assert.False(push.CanWait);
        Assert.True(push.TryBegin(WaitReason.Throttled, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2), _clock.GetUtcNow()));
        push.End(WaitReason.Throttled, _clock.GetUtcNow());
        Assert.False(push.TryBegin(WaitReason.Throttled, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2), _clock.GetUtcNow()));
    }

    [Fact]
    public void Begin_NegativeBudget_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TransportWaits.Begin(TimeSpan.FromSeconds(-1)));

    [Fact]
    public void Describe_BothReasons_SaysHowLongAndWhy()
    {
        var summary = new WaitSummary(3, TimeSpan.FromSeconds(2.5), 1, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(32.5), TimeSpan.FromMinutes(10), false);

        Assert.Equal("waited 32.5 s: 3 × throttled by the server (429, Retry-After) 2.5 s, 1 × the server failed repeatedly (circuit breaker open, or retries spent) 30 s",
            summary.Describe());
    }
}
