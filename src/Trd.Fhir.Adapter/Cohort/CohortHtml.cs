using System.Globalization;
using System.Net;
using System.Text;

namespace Trd.Fhir.Adapter.Cohort;

/// <summary>
/// The cohort read-out as ONE self-contained HTML file (inline CSS and SVG bar charts; no script, no external resource).
/// Sections carry stable ids: <c>summary</c>, <c>phases</c>, <c>outcomes</c>, <c>safety</c>, <c>staging</c>,
/// <c>adherence</c>, <c>data</c>. Patients appear only by their pseudonymous protocol id (review list).
/// </summary>
public static class CohortHtml
{
    private const int BarWidth = 520, BarHeight = 22, LabelWidth = 200;

    public static string Render(CohortResult result)
    {
        var t = result.Tally;
        var h = new StringBuilder(32 * 1024);
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>TRD cohort read-out</title>\n<style>\n")
         .Append("body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#1f2933;padding:0 1rem}h1{margin-bottom:.2rem}")
         .Append("section{margin:1.5rem 0}table{border-collapse:collapse}td,th{padding:.25rem .6rem;border-bottom:1px solid #d9e2ec;text-align:left}")
         .Append(".num{text-align:right;font-variant-numeric:tabular-nums}.notice{color:#52606d}.warn{color:#b44d12}svg text{font-size:13px;fill:#1f2933}</style>\n</head>\n<body>\n");

        h.Append("<header id=\"summary\"><h1>TRD cohort read-out</h1>\n<p>");
        h.Append(N(t.Patients)).Append(" patients (").Append(N(t.Rebuilt)).Append(" protocols rebuilt) from ").Append(N(result.Resources))
         .Append(" resources in ").Append(result.Files).Append(" NDJSON files, as of ").Append(D(t.AsOf)).Append(".</p>\n");
        h.Append("<p class=\"notice\">Decision support: figures follow the per-patient clinical rules (docs/clinical.md). Patients are listed only by pseudonymous protocol id.</p></header>\n");

        Chart(h, "phases", "Patients per phase", t.Phases);

        h.Append("<section id=\"outcomes\"><h2>Response and remission</h2>\n<table><tr><th></th><th class=\"num\">patients</th><th class=\"num\">of</th><th class=\"num\">rate</th><th>counted among</th></tr>\n");
        Row(h, "Response (latest PHQ-9 ≤ half the baseline)", t.Responders, t.ResponseEvaluable, "patients with a baseline PHQ-9 > 0 and a later one");
        Row(h, "Remission (latest PHQ-9 < 5)", t.Remitters, t.WithPhq9, "patients with at least one PHQ-9");
        h.Append("</table>\n<p>").Append(N(t.Phq9Assessments)).Append(" PHQ-9 assessments behind these figures; ").Append(N(t.TotalsOnlyAssessments)).Append(" of them carry only a total (no item scores).</p></section>\n");

        h.Append("<section id=\"safety\"><h2>Item 9 (thoughts of self-harm) ≥ 1</h2>\n<p>").Append(N(t.SignalAssessments)).Append(" assessments with item 9 ≥ 1, in ")
         .Append(N(t.NeedsReview.Count)).Append(" patients. ").Append(N(t.Item9Unknown)).Append(" patients have only PHQ-9 totals, so item 9 is unknown for them.</p>\n");
        if (t.NeedsReview.Count > 0)
        {
            h.Append("<h3>Needs review</h3>\n<table class=\"review\"><tr><th>protocol</th><th>latest signal</th><th class=\"num\">item 9</th><th class=\"num\">signals</th><th>on the latest PHQ-9</th></tr>\n");
            foreach (var r in t.NeedsReview.OrderByDescending(r => r.LatestSignal).ThenBy(r => r.ProtocolId, StringComparer.Ordinal))
                h.Append("<tr><td>").Append(E(r.ProtocolId)).Append("</td><td>").Append(D(r.LatestSignal)).Append("</td><td class=\"num\">").Append(r.Item9)
                 .Append("</td><td class=\"num\">").Append(r.Signals).Append("</td><td>").Append(r.OnLatestAssessment ? "<strong class=\"warn\">yes</strong>" : "no").Append("</td></tr>\n");
            h.Append("</table>\n");
        }
        h.Append("</section>\n");

        h.Append("<section id=\"staging\"><h2>Staging</h2>\n<p>").Append(N(t.Trd)).Append(" of ").Append(N(t.Rebuilt)).Append(" meet TRD (≥ 2 failed adequate trials).</p>\n");
        Chart(h, null, "Thase–Rush", t.ThaseRush);
        Chart(h, null, "Maudsley", t.Maudsley);
        h.Append("</section>\n");

        h.Append("<section id=\"adherence\"><h2>Adherence</h2>\n<p>").Append(N(t.PatientsBehind)).Append(" patients have at least one course behind schedule.</p>\n");
        Chart(h, null, "Courses by state", t.Adherence);
        h.Append("</section>\n");

        h.Append("<section id=\"data\"><h2>Data too old or missing</h2>\n<table>\n");
        h.Append("<tr><td>No PHQ-9 at all</td><td class=\"num\">").Append(N(t.NoPhq9)).Append("</td></tr>\n");
        h.Append("<tr><td>Latest PHQ-9 older than ").Append(t.StaleDays).Append(" days</td><td class=\"num\">").Append(N(t.StalePhq9)).Append("</td></tr>\n");
        foreach (var (reason, count) in t.NotRebuilt)
            h.Append("<tr><td>No protocol rebuilt: ").Append(E(reason)).Append("</td><td class=\"num\">").Append(N(count)).Append("</td></tr>\n");
        foreach (var (reason, count) in result.Skipped.OrderBy(s => s.Key, StringComparer.Ordinal))
            h.Append("<tr><td>Lines left out: ").Append(E(reason)).Append("</td><td class=\"num\">").Append(N(count)).Append("</td></tr>\n");
        if (result.InvalidResources > 0)
            h.Append("<tr><td>Resources failing validation</td><td class=\"num\">").Append(N(result.InvalidResources)).Append("</td></tr>\n");
        h.Append("</table></section>\n<footer><p>Generated by trd-fhir cohort. Self-contained: no script, no external resource.</p></footer>\n</body>\n</html>\n");
        return h.ToString();
    }

    private static void Chart(StringBuilder h, string? id, string title, IReadOnlyDictionary<string, long> counts)
    {
        if (id is not null)
            h.Append("<section id=\"").Append(id).Append("\">");
        h.Append("<h3>").Append(E(title)).Append("</h3>\n");
        var max = Math.Max(1, counts.Values.DefaultIfEmpty(0).Max());
        h.Append("<svg role=\"img\" aria-label=\"").Append(E(title)).Append("\" width=\"").Append(LabelWidth + BarWidth + 80).Append("\" height=\"").Append(Math.Max(1, counts.Count) * (BarHeight + 6)).Append("\">\n");
        var y = 0;
        foreach (var (label, count) in counts)
        {
            var width = (int)Math.Round((double)BarWidth * count / max);
            h.Append("<text x=\"0\" y=\"").Append(y + 16).Append("\">").Append(E(label)).Append("</text>")
             .Append("<rect x=\"").Append(LabelWidth).Append("\" y=\"").Append(y).Append("\" width=\"").Append(Math.Max(1, width)).Append("\" height=\"").Append(BarHeight).Append("\" fill=\"#3e7cb1\"/>")
             .Append("<text class=\"count\" x=\"").Append(LabelWidth + width + 6).Append("\" y=\"").Append(y + 16).Append("\">").Append(N(count)).Append("</text>\n");
            y += BarHeight + 6;
        }
        h.Append("</svg>\n");
        if (id is not null)
            h.Append("</section>\n");
    }

    private static void Row(StringBuilder h, string label, long part, long whole, string among)
    {
        var rate = CohortTally.Rate(part, whole);
        h.Append("<tr><td>").Append(E(label)).Append("</td><td class=\"num\">").Append(N(part)).Append("</td><td class=\"num\">").Append(N(whole))
         .Append("</td><td class=\"num\">").Append(rate is { } r ? r.ToString("0.0", CultureInfo.InvariantCulture) + " %" : "–").Append("</td><td>").Append(E(among)).Append("</td></tr>\n");
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string D(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
