using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Trd.Fhir.Transport.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that tells the test what the code under test is waiting for: every delay
/// (Polly's retry wait: <c>Task.Delay</c> on this provider) and every timeout armed (a CancellationTokenSource timer:
/// Polly's attempt and total timeouts), with its due time. The test then advances the clock by exactly that much.
/// Nothing sleeps; the only real-time bound is a guard against a hung test.
/// </summary>
public sealed class TestClock : FakeTimeProvider
{
    public static readonly DateTimeOffset Epoch = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);

    private readonly Channel<TimeSpan> _delays = Channel.CreateUnbounded<TimeSpan>();
    private readonly Channel<TimeSpan> _timeouts = Channel.CreateUnbounded<TimeSpan>();

    public TestClock() : base(Epoch)
    {
    }

    /// <summary>How far the clock has been advanced since <see cref="Epoch"/>.</summary>
    public TimeSpan Elapsed => GetUtcNow() - Epoch;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var channel = state is CancellationTokenSource ? _timeouts : _delays;
        var timer = new RecordingTimer(base.CreateTimer(callback, state, dueTime, period), channel.Writer);
        RecordingTimer.Record(channel.Writer, dueTime);
        return timer;
    }

    /// <summary>The next delay the code started (e.g. the retry wait Polly asked for).</summary>
    public async Task<TimeSpan> NextDelayAsync() => await _delays.Reader.ReadAsync().AsTask().WaitAsync(Guard);

    /// <summary>Waits until a timeout of exactly <paramref name="timeout"/> is armed (skipping others).</summary>
    public async Task WaitForTimeoutArmedAsync(TimeSpan timeout)
    {
        while (await _timeouts.Reader.ReadAsync().AsTask().WaitAsync(Guard) != timeout)
        {
        }
    }

    /// <summary>Advances through the next delay and returns it.</summary>
    public async Task<TimeSpan> AdvanceThroughNextDelayAsync()
    {
        var delay = await NextDelayAsync();
        Advance(delay);
        return delay;
    }

    private sealed class RecordingTimer(ITimer inner, ChannelWriter<TimeSpan> writer) : ITimer
    {
        public static void Record(ChannelWriter<TimeSpan> writer, TimeSpan dueTime)
        {
            if (dueTime > TimeSpan.Zero && dueTime != Timeout.InfiniteTimeSpan)
            {
                writer.TryWrite(dueTime);
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(dueTime, period);
            Record(writer, dueTime);
            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
