using Trd.Fhir.Adapter.Transport.Resilience;
using Trd.Fhir.Transport.Tests.Infrastructure;

namespace Trd.Fhir.Transport.Tests.Resilience;

/// <summary>The per-server AIMD limiter on the test clock: halve on 429 (once per round), one step up per round of successes, pause for Retry-After.</summary>
public sealed class AdaptiveConcurrencyLimiterTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);
    private readonly TestClock _clock = new();

    [Fact]
    public async Task AcquireAsync_AtTheLimit_WaitsUntilASlotIsFreed()
    {
        var sut = new AdaptiveConcurrencyLimiter(2, _clock);
        var first = await sut.AcquireAsync(CancellationToken.None);
        using var second = await sut.AcquireAsync(CancellationToken.None);

        var third = sut.AcquireAsync(CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        first.Succeeded();
        using var granted = await third.WaitAsync(Guard);

        Assert.Equal(2, sut.InFlight);
    }

    [Fact]
    public async Task Throttled_ThreeConcurrent429sOfOneRound_HalveTheLimitOnceAndPauseForTheLongestRetryAfter()
    {
        var sut = new AdaptiveConcurrencyLimiter(8, _clock);
        var leases = new List<AdaptiveConcurrencyLimiter.Lease>();
        for (var i = 0; i < 3; i++)
            leases.Add(await sut.AcquireAsync(CancellationToken.None));

        leases[0].Throttled(TimeSpan.FromSeconds(2));
        leases[1].Throttled(TimeSpan.FromSeconds(5));
        leases[2].Throttled(TimeSpan.FromSeconds(1));

        Assert.Equal(4, sut.Limit);
        Assert.Equal(TimeSpan.FromSeconds(5), sut.PauseRemaining);
        _clock.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(TimeSpan.FromSeconds(1), sut.PauseRemaining);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.Zero, sut.PauseRemaining);
    }

    [Fact]
    public async Task Throttled_429sInSuccessiveRounds_HalveEachTimeDownToOne()
    {
        var sut = new AdaptiveConcurrencyLimiter(8, _clock);
        var limits = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            (await sut.AcquireAsync(CancellationToken.None)).Throttled(TimeSpan.Zero);
            limits.Add(sut.Limit);
        }

        Assert.Equal([4, 2, 1, 1, 1], limits);
    }

    [Fact]
    public async Task Succeeded_ARunOfAsManySuccessesAsTheLimit_RaisesItByOneUpToTheMaximum()
    {
        var sut = new AdaptiveConcurrencyLimiter(3, _clock);
        (await sut.AcquireAsync(CancellationToken.None)).Throttled(TimeSpan.Zero); // 3 → 1
        var limits = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            (await sut.AcquireAsync(CancellationToken.None)).Succeeded();
            limits.Add(sut.Limit);
        }

        // 1 success raises 1 → 2; 2 more raise 2 → 3; never above the maximum of 3.
        Assert.Equal([2, 2, 3, 3, 3, 3], limits);
    }

    [Fact]
    public async Task AcquireAsync_LimitLoweredWhileOthersWait_OnlyTheNewLimitGoesThrough()
    {
        var sut = new AdaptiveConcurrencyLimiter(2, _clock);
        var a = await sut.AcquireAsync(CancellationToken.None);
        var b = await sut.AcquireAsync(CancellationToken.None);
        var c = sut.AcquireAsync(CancellationToken.None).AsTask();
        var d = sut.AcquireAsync(CancellationToken.None).AsTask();

        a.Throttled(TimeSpan.Zero); // limit 2 → 1; b still holds the only slot
        Assert.False(c.IsCompleted || d.IsCompleted);
        b.Succeeded();
        var next = await Task.WhenAny(c, d).WaitAsync(Guard);
        await Task.Yield();

        Assert.Equal(1, sut.InFlight);
        Assert.False(c.IsCompleted && d.IsCompleted);
        (await next).Dispose();
        var last = next == c ? d : c;
        (await last.WaitAsync(Guard)).Dispose();
        Assert.Equal(0, sut.InFlight);
    }

    [Fact]
    public async Task AcquireAsync_CancelledWhileWaiting_ThrowsAndFreesNoSlot()
    {
        var sut = new AdaptiveConcurrencyLimiter(1, _clock);
        using var held = await sut.AcquireAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();

        var waiting = sut.AcquireAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Guard));
        Assert.Equal(1, sut.InFlight);
    }

    [Fact]
    public void ServerLimiters_SameAuthority_SameLimiterOtherAuthority_Another()
    {
        var sut = new ServerLimiters(4, _clock);

        var a = sut.For(new Uri("https://ehr.example.org/fhir/Patient?identifier=x"));
        var b = sut.For(new Uri("https://EHR.example.org/other"));
        var c = sut.For(new Uri("https://ehr.example.org:8443/fhir"));

        Assert.Same(a, b);
        Assert.NotSame(a, c);
    }
}
