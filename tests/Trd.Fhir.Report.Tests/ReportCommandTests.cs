using System.Text.Json;
using System.Text.RegularExpressions;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Report.Tests;

/// <summary><c>trd-fhir report</c> on the command line (in-process): inputs, options, formats, exit codes.</summary>
public sealed class ReportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-report-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Report_ExampleWithoutOutput_WritesHtmlToStdout()
    {
        var (exit, output, _) = Repo.Cli("report", Repo.Example("phase1-augmentation"), "--as-of", "2026-11-27");

        Assert.Equal(ExitCodes.Success, exit);
        Assert.StartsWith("<!DOCTYPE html>", output, StringComparison.Ordinal);
        Assert.Contains("<svg id=\"phq9-chart\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_FormatJson_SameNumbersAsTheHtml()
    {
        var html = Repo.Cli("report", Repo.Example("phase3-ect-esketamine"), "--as-of", "2026-11-27").Out;
        var (exit, json, _) = Repo.Cli("report", Repo.Example("phase3-ect-esketamine"), "--as-of", "2026-11-27", "--format", "json");

        Assert.Equal(ExitCodes.Success, exit);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var maudsley = root.GetProperty("staging").GetProperty("maudsley");
        Assert.Contains($"data-score=\"{maudsley.GetProperty("total").GetInt32()}\" data-band=\"{maudsley.GetProperty("band").GetString()}\"", html, StringComparison.Ordinal);
        Assert.Contains($"data-stage=\"{root.GetProperty("staging").GetProperty("thaseRush").GetProperty("stage").GetInt32()}\"", html, StringComparison.Ordinal);
        Assert.Equal(root.GetProperty("phq9").GetArrayLength(), Regex.Count(html, "<circle class=\"phq9-point"));
        Assert.Contains($"data-value=\"{root.GetProperty("outcome").GetProperty("responseThreshold").GetDecimal()}\"", html, StringComparison.Ordinal);
        Assert.Contains($"data-errors=\"{root.GetProperty("validation").GetProperty("errors").GetInt32()}\"", html, StringComparison.Ordinal);
        // phase 3 example: maudsley 11 (severe) — duration 3, severity 4, failures 2 (three), lithium +1, ECT +1
        Assert.Equal((11, "severe"), (maudsley.GetProperty("total").GetInt32(), maudsley.GetProperty("band").GetString()));
    }

    [Fact]
    public void Report_OutputFile_WritesItAndSummarisesOnStderr()
    {
        var target = Path.Combine(_dir, "report.html");

        var (exit, output, err) = Repo.Cli("report", Repo.Example("phase2-remission"), "-o", target, "--as-of", "2026-11-27");

        Assert.Equal(ExitCodes.Success, exit);
        Assert.Equal("", output);
        Assert.StartsWith("<!DOCTYPE html>", File.ReadAllText(target), StringComparison.Ordinal);
        Assert.Contains("validation 0 errors, 0 warnings", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_BaselinePhase2_UsesTheFirstPhq9InPhase2()
    {
        var (exit, json, _) = Repo.Cli("report", Repo.Example("phase2-tms-partial-response"), "--as-of", "2026-11-27", "--format", "json", "--baseline", "phase-2");

        Assert.Equal(ExitCodes.Success, exit);
        using var doc = JsonDocument.Parse(json);
        var outcome = doc.RootElement.GetProperty("outcome");
        Assert.Equal("2026-06-01", outcome.GetProperty("baseline").GetProperty("date").GetString());
        Assert.Equal(33.3m, outcome.GetProperty("improvementPercent").GetDecimal()); // 18 → 12
    }

    [Fact]
    public void Report_AsOfBeforeLaterData_IgnoresIt()
    {
        var (_, json, _) = Repo.Cli("report", Repo.Example("phase2-tms-partial-response"), "--as-of", "2026-06-10", "--format", "json");

        using var doc = JsonDocument.Parse(json);
        Assert.Equal(4, doc.RootElement.GetProperty("phq9").GetArrayLength());
        Assert.Equal("2026-06-10", doc.RootElement.GetProperty("asOf").GetString());
    }

    [Theory]
    [InlineData("--as-of", "27/11/2026", "is not a date")]
    [InlineData("--baseline", "phase-4", "is not one of first, phase-1")]
    [InlineData("--format", "pdf", "is not one of html, json")]
    public void Report_BadOption_UsageError(string option, string value, string message)
    {
        var (exit, _, err) = Repo.Cli("report", Repo.Example("phase1-augmentation"), option, value);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_NeitherFileNorServer_UsageError()
    {
        var (exit, _, err) = Repo.Cli("report");

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("give a protocol document or --server with --patient", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_FileAndServer_UsageError()
    {
        var (exit, _, _) = Repo.Cli("report", Repo.Example("phase1-augmentation"), "--server", "http://127.0.0.1:9/fhir", "--patient", "a|b");

        Assert.Equal(ExitCodes.UsageOrInput, exit);
    }

    [Fact]
    public void Report_ServerWithoutPatient_UsageError()
    {
        var (exit, _, err) = Repo.Cli("report", "--server", "http://127.0.0.1:9/fhir");

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("--server needs --patient system|value", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Report_InvalidProtocol_ProblemsAndUsageError()
    {
        var file = Path.Combine(_dir, "broken.json");
        File.WriteAllText(file, "{ \"id\": \"x\" }");

        var (exit, _, err) = Repo.Cli("report", file);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains($"{file}:", err, StringComparison.Ordinal);
    }
}
