using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary>Progress on long runs: N/total and time left, on the injected clock, only when on; silent on short runs.</summary>
public sealed class ProgressLineTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 22, 0, 0, TimeSpan.Zero));
    private readonly StringWriter _stderr = new();

    [Fact]
    public void Report_ShortThenLongRun_SilentForThreeSecondsThenAtMostEveryTwoWithTimeLeft()
    {
        var sut = new ProgressLine(_stderr, _time, "map", "file(s)", 10);

        _time.Advance(TimeSpan.FromSeconds(1));
        sut.Report(1);
        _time.Advance(TimeSpan.FromSeconds(3));
        sut.Report(2);
        _time.Advance(TimeSpan.FromSeconds(1));
        sut.Report(3);
        _time.Advance(TimeSpan.FromSeconds(1));
        sut.Report(4, "400 resource(s), 1 invalid");

        Assert.Equal(
            "map: 2/10 file(s), 4 s so far, about 16 s left\n" +
            "map: 4/10 file(s), 400 resource(s), 1 invalid, 6 s so far, about 9 s left\n",
            _stderr.ToString());
    }

    [Fact]
    public void Report_LongRunInMinutes_CountsWithSeparatorsAndMinutes()
    {
        var sut = new ProgressLine(_stderr, _time, "validate", "file(s)", 12_000);

        _time.Advance(TimeSpan.FromSeconds(125));
        sut.Report(3_000, "21,800 resource(s), 0 invalid");

        Assert.Equal("validate: 3,000/12,000 file(s), 21,800 resource(s), 0 invalid, 2 min 05 s so far, about 6 min 15 s left\n", _stderr.ToString());
    }

    [Fact]
    public void Report_NothingDoneYet_NoTimeLeft()
    {
        var sut = new ProgressLine(_stderr, _time, "validate", "file(s)", 1);

        _time.Advance(TimeSpan.FromSeconds(3725));
        sut.Report(0, "19,909 resource(s), 1,990 invalid");

        Assert.Equal("validate: 0/1 file(s), 19,909 resource(s), 1,990 invalid, 1 h 02 min so far\n", _stderr.ToString());
    }

    [Fact]
    public void Report_Off_PrintsNothing()
    {
        var sut = ProgressLine.For(new CliConsole(new StringWriter(), _stderr), asked: false, _time, "map", "file(s)", 10);

        _time.Advance(TimeSpan.FromMinutes(5));
        sut.Report(5);

        Assert.False(sut.Enabled);
        Assert.Equal("", _stderr.ToString());
        Assert.Equal("", sut.Suffix(5));
    }

    [Fact]
    public void For_TerminalOrAsked_On()
    {
        var terminal = new CliConsole(new StringWriter(), _stderr) { ErrorIsTerminal = true };

        Assert.True(ProgressLine.For(terminal, asked: false, _time, "map", "file(s)", 1).Enabled);
        Assert.True(ProgressLine.For(new CliConsole(new StringWriter(), _stderr), asked: true, _time, "map", "file(s)", 1).Enabled);
    }

    [Fact]
    public void Suffix_PushLineAfterThreeSeconds_TimeSoFarAndLeft()
    {
        var sut = new ProgressLine(_stderr, _time, "push", "protocol(s)", 40);

        var early = sut.Suffix(0);
        _time.Advance(TimeSpan.FromSeconds(30));
        var later = sut.Suffix(10);

        Assert.Equal("", early);
        Assert.Equal(", 30 s so far, about 1 min 30 s left", later);
    }

    /// <summary>The whole verb: with --progress and a clock that moves 1 s per reading, validate of six files prints its
    /// progress lines on stderr (stdout keeps only the findings and the summary).</summary>
    [Fact]
    public void Validate_WithProgressFlag_PrintsNOfTotalAndTimeLeftOnStderr()
    {
        var dir = Directory.CreateTempSubdirectory("trd-progress-").FullName;
        try
        {
            for (var k = 1; k <= 6; k++)
                File.Copy(Repo.Path("profiles", "examples", "trd-condition.valid.json"), Path.Combine(dir, $"c{k}.json"));
            _time.AutoAdvanceAmount = TimeSpan.FromSeconds(1);
            var stdout = new StringWriter();

            var exit = CliApp.Run(["validate", "-j", "1", "--progress", dir], new CliConsole(stdout, _stderr), _time);

            Assert.Equal(ExitCodes.Success, exit);
            Assert.Equal(
                "validate: 2/6 file(s), 3 resource(s), 0 invalid, 3 s so far, about 6 s left\n" +
                "validate: 4/6 file(s), 5 resource(s), 0 invalid, 5 s so far, about 3 s left\n",
                _stderr.ToString());
            Assert.Equal("codes not checked offline: 12 coding(s) in 2 system(s) (http://hl7.org/fhir/sid/icd-10-cm 6, http://snomed.info/sct 6) — use --tx URL to check them\n" +
                "validated 6 file(s), 6 resource(s): all valid, 0 error(s), 0 warning(s)\n", stdout.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
