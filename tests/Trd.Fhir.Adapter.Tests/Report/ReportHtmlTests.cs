using System.Text.RegularExpressions;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Report;
using Trd.Fhir.Adapter.Tests.Clinical;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Tests.Mapping;
using static Trd.Fhir.Adapter.Tests.Clinical.ClinicalTestData;

namespace Trd.Fhir.Adapter.Tests.Report;

public partial class ReportHtmlTests
{
    private static ClinicalReport Report(TrdProtocol protocol, string today = "2026-11-27", IReadOnlyList<ValidationFinding>? findings = null) =>
        new(protocol, ClinicalReadout.Read(protocol, Clock(today)), 42, findings ?? []);

    private static ClinicalReport Example(string name) => Report(ProtocolToFhirTests.Example(name));

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Render_Example_HasEverySectionById(string example)
    {
        var html = ReportHtml.Render(Example(example));

        foreach (var id in new[] { "summary", "outcome", "hints", "safety", "phq9-chart", "remission-line", "timeline", "today-line", "adherence", "adherence-table", "staging", "thase-rush", "maudsley", "validation" })
            Assert.Contains($"id=\"{id}\"", html, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Render_Example_SelfContainedWithoutScriptOrUrlAttributes(string example)
    {
        var html = ReportHtml.Render(Example(example));

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<iframe", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(UrlAttribute(), html);
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\s(src|href|xlink:href|srcset|action|data|poster|xmlns)\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex UrlAttribute();

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Render_Example_OnePointPerPhq9AndOneMarkPerSession(string example)
    {
        var report = Example(example);

        var html = ReportHtml.Render(report);

        Assert.Equal(report.Readout.Phq9.Count, Regex.Count(html, "<circle class=\"phq9-point"));
        Assert.Contains($"data-points=\"{report.Readout.Phq9.Count}\"", html, StringComparison.Ordinal);
        Assert.Equal(report.Protocol.Sessions.Count(s => s.Date <= report.Readout.AsOf), Regex.Count(html, "<rect class=\"session session-"));
        Assert.Contains("<svg id=\"phq9-chart\" class=\"chart\" width=\"960\" height=\"360\"", html, StringComparison.Ordinal);
        Assert.Matches("<svg id=\"timeline\" class=\"chart\" width=\"960\" height=\"[1-9][0-9]+\"", html);
    }

    [Fact]
    public void Render_TmsExample_ResponseLineAtHalfTheBaselineAndItem9Rings()
    {
        // baseline 21 → response line at 10.5; item 9 = 1 on four assessments
        var html = ReportHtml.Render(Example("phase2-tms-partial-response"));

        Assert.Contains("id=\"response-line\" class=\"threshold response\"", html, StringComparison.Ordinal);
        Assert.Contains("data-value=\"10.5\"", html, StringComparison.Ordinal);
        Assert.Equal(4, Regex.Count(html, "<circle class=\"phq9-point [^\"]*item9-positive"));
        Assert.Contains("<dd id=\"response\" class=\"no\">no (needs total ≤ 10.5)</dd>", html, StringComparison.Ordinal);
        Assert.Contains("<dd id=\"maudsley\" data-score=\"9\" data-band=\"moderate\">", html, StringComparison.Ordinal);
        Assert.Contains("data-code=\"phase-2-eligible\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_NoPhq9_SaysSoAndHasNoResponseLine()
    {
        var html = ReportHtml.Render(Report(Build(phases: [Phase(1, "2026-11-02", null)])));

        Assert.Contains("No PHQ-9 recorded", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"response-line\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_TextFromData_IsHtmlEncoded()
    {
        var protocol = Build([Phq9("2026-11-02", 12)], [Phase(1, "2026-11-02", null)]) with { Id = "a<b>&\"c" };

        var html = ReportHtml.Render(Report(protocol, findings: [new ValidationFinding("error", "Observation.value", "<bad> & worse")]));

        Assert.DoesNotContain("a<b>", html, StringComparison.Ordinal);
        Assert.Contains("a&lt;b&gt;&amp;&quot;c", html, StringComparison.Ordinal);
        Assert.Contains("&lt;bad&gt; &amp; worse", html, StringComparison.Ordinal);
        Assert.Contains("data-errors=\"1\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Example_NoPatientNameOrBirthDate()
    {
        var html = ReportHtml.Render(Example("phase3-ect-esketamine"));

        Assert.DoesNotContain("birth", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Dr. ", html, StringComparison.Ordinal); // not even the care team's names
    }
}
