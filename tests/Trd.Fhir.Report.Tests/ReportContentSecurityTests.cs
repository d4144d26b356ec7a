using Trd.Fhir.Adapter.Api;

namespace Trd.Fhir.Report.Tests;

/// <summary>
/// The report still renders under the Content-Security-Policy that <c>serve</c> sends with it (SecurityHeaders.ForHtml:
/// default-src 'none', its inline style by SHA-256). A file:// page cannot receive headers, so the same policy is put in a
/// &lt;meta http-equiv&gt; (without frame-ancestors, which only a header may carry) and the page opened in headless Chromium:
/// no CSP violation on the console and the chart's colours on screen. The negative control proves a violation is seen.
/// </summary>
public sealed class ReportContentSecurityTests : IDisposable
{
    private const string Example = "phase2-tms-partial-response";
    private readonly string _directory = Directory.CreateTempSubdirectory("trd-report-csp-").FullName;

    private string PageWithPolicy(string html, string policy, string name)
    {
        var meta = $"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">";
        var page = Path.Combine(_directory, name + ".html");
        File.WriteAllText(page, html.Replace("<head>", "<head>\n" + meta, StringComparison.Ordinal));
        return page;
    }

    private string Report()
    {
        var file = Path.Combine(_directory, "report.html");
        var (exit, _, err) = Repo.Cli("report", Repo.Example(Example), "-o", file, "--as-of", ReportRenderings.AsOf);
        Assert.True(exit == 0, $"report exit {exit}: {err}");
        return File.ReadAllText(file);
    }

    [Fact]
    public void Report_UnderServePolicy_RendersWithoutViolations()
    {
        var html = Report();
        var policy = SecurityHeaders.ForHtml(html);
        Assert.StartsWith("default-src 'none'; style-src 'sha256-", policy, StringComparison.Ordinal);
        var metaPolicy = string.Join("; ", policy.Split("; ").Where(d => !d.StartsWith("frame-ancestors", StringComparison.Ordinal)));

        var run = Chromium.Render(PageWithPolicy(html, metaPolicy, "with-policy"));

        Assert.Equal(0, run.ExitCode);
        Assert.True(run.ConsoleLines.Count == 0, "console: " + string.Join("\n", run.ConsoleLines));
        Assert.Contains("<meta http-equiv=\"Content-Security-Policy\"", run.Dom, StringComparison.Ordinal);
        Assert.True(Png.Decode(run.Screenshot).CountNear(0xe8, 0xf5, 0xe9, 2) > 2_000, "the chart's none–minimal band (#e8f5e9) is not on screen: the style was blocked");
    }

    [Fact]
    public void Report_UnderPolicyWithoutItsStyleHash_StyleIsRefused()
    {
        var run = Chromium.Render(PageWithPolicy(Report(), "default-src 'none'; img-src data:", "without-hash"));

        Assert.Contains(run.ConsoleLines, l => l.Contains("Content Security Policy", StringComparison.Ordinal));
        Assert.True(Png.Decode(run.Screenshot).CountNear(0xe8, 0xf5, 0xe9, 2) < 2_000, "the band is drawn although its style was refused");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
