using System.Diagnostics;
using System.Text.Json;

namespace Trd.Fhir.Report.Tests;

/// <summary>What one headless Chromium run of a page gave: the DOM after load, its log, the screenshot, the network log.</summary>
internal sealed record ChromiumRun(int ExitCode, string Dom, string Log, byte[] Screenshot, IReadOnlyList<string> PageRequests)
{
    /// <summary>Console messages and uncaught errors of the page (Chromium logs them as <c>…:CONSOLE…</c> lines).</summary>
    public IReadOnlyList<string> ConsoleLines => Log.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal) || l.Contains("Uncaught", StringComparison.Ordinal)).ToList();
}

/// <summary>
/// Headless Debian Chromium (<c>/usr/bin/chromium</c>), one process per page, a fresh profile each time, no network:
/// host resolution is mapped to nothing and the proxy points at a closed port, so a page that tries to fetch anything
/// fails — and the NetLog records that it tried. A missing Chromium FAILS the test with the install command.
/// </summary>
internal static class Chromium
{
    public const string Path = "/usr/bin/chromium";

    public const string InstallCommand = "sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium";

    public static void RequireInstalled()
    {
        if (!File.Exists(Path))
            Assert.Fail($"{Path} is missing: the report's browser tests need Debian Chromium. Install it with `{InstallCommand}` (./test.sh does this on a fresh machine).");
    }

    public static ChromiumRun Render(string htmlFile, int width = 1280, int height = 2000)
    {
        RequireInstalled();
        var work = Directory.CreateTempSubdirectory("trd-chromium-").FullName;
        try
        {
            var png = System.IO.Path.Combine(work, "page.png");
            var netLog = System.IO.Path.Combine(work, "net.json");
            var start = new ProcessStartInfo(Path)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                $"--user-data-dir={System.IO.Path.Combine(work, "profile")}",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
                "--enable-logging=stderr", "--v=0", $"--log-net-log={netLog}",
                $"--window-size={width},{height}", $"--screenshot={png}", "--dump-dom",
                new Uri(System.IO.Path.GetFullPath(htmlFile)).AbsoluteUri,
            })
            {
                start.ArgumentList.Add(arg);
            }
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"chromium did not finish rendering {htmlFile} within 2 minutes");
            }
            return new ChromiumRun(process.ExitCode, stdout.Result, stderr.Result, File.Exists(png) ? File.ReadAllBytes(png) : [], PageRequests(netLog));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// URLs the page itself asked for (NetLog URL_REQUEST_START_JOB events whose network isolation key is the file:// page),
    /// leaving out Chromium's own background traffic, which has no page behind it.
    /// </summary>
    private static List<string> PageRequests(string netLog)
    {
        if (!File.Exists(netLog))
            return [];
        var text = File.ReadAllText(netLog).TrimEnd();
        if (!text.EndsWith('}'))
            text = text.TrimEnd(',', '\n', '\r') + "]}"; // a NetLog cut short on exit lacks its closing brackets
        using var json = JsonDocument.Parse(text);
        var startJob = json.RootElement.GetProperty("constants").GetProperty("logEventTypes").GetProperty("URL_REQUEST_START_JOB").GetInt32();
        var urls = new List<string>();
        foreach (var e in json.RootElement.GetProperty("events").EnumerateArray())
        {
            if (e.GetProperty("type").GetInt32() != startJob || !e.TryGetProperty("params", out var p) || !p.TryGetProperty("url", out var url))
                continue;
            var key = p.TryGetProperty("network_isolation_key", out var k) ? k.ToString() : "";
            if (key.Contains("file://", StringComparison.Ordinal))
                urls.Add(url.GetString()!);
        }
        return urls;
    }
}
