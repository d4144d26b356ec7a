using System.CommandLine;
using System.Globalization;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// Progress of a long CLI run (<c>map</c>, <c>validate</c>, <c>push</c>) on stderr: <c>validate: 120/200 file(s), 13,080
/// resource(s), 2 invalid, 42 s so far, about 28 s left</c>. Silent for the first <see cref="Quiet"/> (short runs print
/// nothing), then at most one line every <see cref="Every"/>; shown only when stderr is a terminal or <c>--progress</c> asks
/// for it, so logs and pipes stay clean. Times come from the injected <see cref="TimeProvider"/>.
/// </summary>
internal sealed class ProgressLine
{
    /// <summary>Nothing is printed before a run is this old.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromSeconds(3);

    /// <summary>At most one line this often.</summary>
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(2);

    private readonly TextWriter? _stderr;
    private readonly TimeProvider _time;
    private readonly string _verb;
    private readonly string _unit;
    private readonly int _total;
    private readonly DateTimeOffset _start;
    private DateTimeOffset? _last;

    /// <param name="stderr">Where lines go; null: progress is off.</param>
    /// <param name="unit">What is counted, e.g. <c>file(s)</c>.</param>
    public ProgressLine(TextWriter? stderr, TimeProvider time, string verb, string unit, int total)
    {
        ArgumentNullException.ThrowIfNull(time);
        _stderr = stderr;
        _time = time;
        _verb = verb;
        _unit = unit;
        _total = total;
        _start = time.GetUtcNow();
    }

    /// <summary><c>--progress</c>, for map, validate and push.</summary>
    public static Option<bool> Option() => new("--progress")
    {
        Description = "Show progress (done/total, time so far and left) on stderr for runs over a few seconds even when stderr is not a terminal (on a terminal it is shown anyway)",
    };

    /// <summary>A progress line for this run: on when stderr is a terminal or <paramref name="asked"/>.</summary>
    public static ProgressLine For(CliConsole console, bool asked, TimeProvider time, string verb, string unit, int total) =>
        new(asked || console.ErrorIsTerminal ? console.StdErr : null, time, verb, unit, total);

    public bool Enabled => _stderr is not null;

    /// <summary><paramref name="done"/> of the total are finished; prints a line when one is due. <paramref name="detail"/>
    /// (e.g. <c>13,080 resource(s), 2 invalid</c>) follows the count.</summary>
    public void Report(int done, string? detail = null)
    {
        if (_stderr is null) return;
        var now = _time.GetUtcNow();
        var elapsed = now - _start;
        if (elapsed < Quiet || (_last is { } last && now - last < Every)) return;
        _last = now;
        var count = string.Create(CultureInfo.InvariantCulture, $"{done:N0}/{_total:N0} {_unit}");
        _stderr.WriteLine($"{_verb}: {count}{(detail is null ? "" : ", " + detail)}{Timing(elapsed, done, _total)}");
    }

    /// <summary>For a line the verb prints anyway (push's <c>[3/40] file</c>): <c>, 42 s so far, about 28 s left</c> with
    /// <paramref name="done"/> of the total finished, once the run is over <see cref="Quiet"/> and progress is on; else "".</summary>
    public string Suffix(int done)
    {
        if (_stderr is null) return "";
        var elapsed = _time.GetUtcNow() - _start;
        return elapsed < Quiet ? "" : Timing(elapsed, done, _total);
    }

    private static string Timing(TimeSpan elapsed, int done, int total)
    {
        var left = done > 0 && total >= done ? elapsed * ((double)(total - done) / done) : (TimeSpan?)null;
        return $", {Duration(elapsed)} so far{(left is { } l ? $", about {Duration(l)} left" : "")}";
    }

    /// <summary><c>42 s</c>, <c>2 min 05 s</c>, <c>1 h 02 min</c> (rounded to whole seconds).</summary>
    public static string Duration(TimeSpan span)
    {
        var seconds = (long)Math.Round(Math.Max(0, span.TotalSeconds), MidpointRounding.AwayFromZero);
        return seconds switch
        {
            < 60 => string.Create(CultureInfo.InvariantCulture, $"{seconds} s"),
            < 3600 => string.Create(CultureInfo.InvariantCulture, $"{seconds / 60} min {seconds % 60:00} s"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600} h {seconds % 3600 / 60:00} min"),
        };
    }
}
