using System.Text.RegularExpressions;

namespace Trd.Fhir.Report.Tests;

/// <summary>
/// Every example's report (trd-fhir report, as of a fixed date) opened in headless Chromium without network: no console
/// message, no request from the page, the PHQ-9 chart and the timeline in the DOM with their sizes and marks, and a
/// screenshot that is really drawn (size, ink, colours).
/// </summary>
public sealed partial class ReportBrowserTests(ReportRenderings renderings) : IClassFixture<ReportRenderings>
{
    [GeneratedRegex("<svg\\b[^>]*\\bid=\"(?<id>[^\"]+)\"[^>]*>")]
    private static partial Regex SvgStart();

    private static Dictionary<string, string> SvgAttributes(string dom, string id)
    {
        var tag = SvgStart().Matches(dom).Single(m => m.Groups["id"].Value == id).Value;
        return Regex.Matches(tag, "(?<name>[a-z-]+)=\"(?<value>[^\"]*)\"").ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value);
    }

    [Fact]
    public void Chromium_IsInstalledAtUsrBinChromium()
    {
        Chromium.RequireInstalled();
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Report_Example_RendersWithoutConsoleMessagesOrNetwork(string example)
    {
        var run = renderings.Get(example);

        Assert.Equal(0, run.ExitCode);
        Assert.True(run.ConsoleLines.Count == 0, "console: " + string.Join("\n", run.ConsoleLines));
        Assert.True(run.PageRequests.Count == 0, "the page fetched: " + string.Join(", ", run.PageRequests));
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Report_Example_ChartAndTimelinePresentAndSizedInTheDom(string example)
    {
        var protocol = Repo.Protocol(example);
        var sessions = protocol.Sessions.Count(s => s.Date <= DateOnly.Parse(ReportRenderings.AsOf, System.Globalization.CultureInfo.InvariantCulture));

        var dom = renderings.Get(example).Dom;

        var chart = SvgAttributes(dom, "phq9-chart");
        Assert.Equal(("960", "360"), (chart["width"], chart["height"]));
        Assert.Equal(protocol.Phq9.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), chart["data-points"]);
        Assert.Equal(protocol.Phq9.Count, Regex.Count(dom, "<circle class=\"phq9-point"));
        Assert.Contains("id=\"remission-line\"", dom, StringComparison.Ordinal);
        Assert.Contains("id=\"response-line\"", dom, StringComparison.Ordinal);
        var timeline = SvgAttributes(dom, "timeline");
        Assert.Equal("960", timeline["width"]);
        Assert.InRange(int.Parse(timeline["height"], System.Globalization.CultureInfo.InvariantCulture), 100, 2000);
        Assert.Equal(sessions, Regex.Count(dom, "<rect class=\"session session-"));
        Assert.Equal(protocol.Phases.Count, Regex.Count(dom, "<g class=\"lane phase-lane\""));
        foreach (var id in new[] { "adherence-table", "hints", "staging", "validation", "today-line" })
            Assert.Contains($"id=\"{id}\"", dom, StringComparison.Ordinal);
        Assert.Contains("data-errors=\"0\"", dom, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Report_Example_ScreenshotIsReallyDrawn(string example)
    {
        var run = renderings.Get(example);

        Assert.True(run.Screenshot.Length > 30_000, $"screenshot is only {run.Screenshot.Length} bytes");
        var png = Png.Decode(run.Screenshot);
        Assert.Equal((1280, 2000), (png.Width, png.Height));
        Assert.InRange(png.InkedFraction(), 0.03, 0.9);
        Assert.True(png.Colours() > 40, $"only {png.Colours()} colours: the page looks blank");
        Assert.True(png.CountNear(0xe8, 0xf5, 0xe9, 2) > 2_000, "the chart's none–minimal band (#e8f5e9) is not on screen");
    }

    [Fact]
    public void Chromium_PageWithScriptErrorAndExternalImage_IsCaught()
    {
        // The negative control: the checks above would see a script error and a fetch if the report had them.
        var page = Path.Combine(renderings.Directory, "bad.html");
        File.WriteAllText(page, "<!DOCTYPE html><html><body><p>x</p><img src=\"http://example.invalid/x.png\"><script>missingFunction();</script></body></html>");

        var run = Chromium.Render(page);

        Assert.Contains(run.ConsoleLines, l => l.Contains("Uncaught ReferenceError", StringComparison.Ordinal));
        Assert.Contains("http://example.invalid/x.png", run.PageRequests);
    }
}

/// <summary>Each example's report rendered once (trd-fhir report as of a fixed date, then one Chromium run) for the whole class.</summary>
public sealed class ReportRenderings : IDisposable
{
    public const string AsOf = "2026-11-27";
    private readonly Dictionary<string, Lazy<ChromiumRun>> _runs = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("trd-report-").FullName;

    internal ChromiumRun Get(string example)
    {
        Lazy<ChromiumRun> run;
        lock (_lock)
        {
            if (!_runs.TryGetValue(example, out run!))
                _runs[example] = run = new Lazy<ChromiumRun>(() => Chromium.Render(RenderReport(example)));
        }
        return run.Value;
    }

    private string RenderReport(string example)
    {
        var html = Path.Combine(Directory, example + ".html");
        var (exit, _, err) = Repo.Cli("report", Repo.Example(example), "-o", html, "--as-of", AsOf);
        Assert.True(exit == 0, $"report exit {exit}: {err}");
        return html;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
