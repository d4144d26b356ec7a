using System.Globalization;
using System.Net;
using System.Text;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Report;

/// <summary>The report's SVG pictures: the PHQ-9 chart (bands, thresholds, points) and the phase/session timeline.</summary>
public static partial class ReportHtml
{
    private static (DateOnly From, DateOnly To) Domain(TrdProtocol p, ClinicalReadout r)
    {
        var dates = p.Phases.SelectMany(ph => new[] { ph.Actual?.Start, ph.Actual?.End, ph.Planned.Start })
            .Where(d => d is not null && d <= r.AsOf).Select(d => d!.Value)
            .Concat(r.Phq9.Select(x => x.Date))
            .Append(r.AsOf).ToList();
        var from = dates.Min();
        var to = r.AsOf;
        if (to.DayNumber - from.DayNumber < 14)
            from = to.AddDays(-14);
        return (from.AddDays(-3), to.AddDays(3));
    }

    private static double X(DateOnly d, DateOnly from, DateOnly to, int width, int left, int right) =>
        left + (double)(d.DayNumber - from.DayNumber) / (to.DayNumber - from.DayNumber) * (width - left - right);

    private static void Phq9Chart(StringBuilder h, TrdProtocol p, ClinicalReadout r)
    {
        var (from, to) = Domain(p, r);
        const int plotBottom = ChartHeight - Bottom;
        double Y(decimal total) => Top + (double)(27 - total) / 27 * (plotBottom - Top);
        double Xd(DateOnly d) => X(d, from, to, ChartWidth, Left, Right);

        h.Append("<svg id=\"phq9-chart\" class=\"chart\" width=\"").Append(ChartWidth).Append("\" height=\"").Append(ChartHeight)
            .Append("\" viewBox=\"0 0 ").Append(ChartWidth).Append(' ').Append(ChartHeight).Append("\" role=\"img\" aria-labelledby=\"phq9-chart-title\" data-points=\"").Append(r.Phq9.Count).Append("\">\n");
        h.Append("<title id=\"phq9-chart-title\">PHQ-9 totals over time with severity bands, the response line (50 % of baseline) and the remission line (total below 5)</title>\n");
        foreach (var band in Enum.GetValues<Phq9Band>())
        {
            var range = Phq9Scoring.Range(band);
            var top = Y(range.Max + 0.5m > 27 ? 27 : range.Max + 0.5m);
            var bottom = Y(range.Min == 0 ? 0 : range.Min - 0.5m);
            h.Append("<rect class=\"band band-").Append(Kebab.Name(band)).Append("\" x=\"").Append(F(Left)).Append("\" y=\"").Append(F(top)).Append("\" width=\"")
                .Append(F(ChartWidth - Left - Right)).Append("\" height=\"").Append(F(bottom - top)).Append("\"><title>").Append(E(Phq9Scoring.Label(band))).Append(' ').Append(R(range)).Append("</title></rect>\n");
            h.Append("<text class=\"band-label\" x=\"").Append(F(ChartWidth - Right - 4)).Append("\" y=\"").Append(F(top + 12)).Append("\" text-anchor=\"end\">").Append(E(Phq9Scoring.Label(band))).Append("</text>\n");
        }
        // axes and ticks
        h.Append("<line class=\"axis\" x1=\"").Append(Left).Append("\" y1=\"").Append(plotBottom).Append("\" x2=\"").Append(ChartWidth - Right).Append("\" y2=\"").Append(plotBottom).Append("\"/>\n");
        h.Append("<line class=\"axis\" x1=\"").Append(Left).Append("\" y1=\"").Append(Top).Append("\" x2=\"").Append(Left).Append("\" y2=\"").Append(plotBottom).Append("\"/>\n");
        foreach (var tick in new[] { 0, 5, 10, 15, 20, 27 })
            h.Append("<text class=\"tick\" x=\"").Append(Left - 6).Append("\" y=\"").Append(F(Y(tick) + 4)).Append("\" text-anchor=\"end\">").Append(tick).Append("</text>\n");
        MonthTicks(h, from, to, d => Xd(d), plotBottom);
        // phase starts
        foreach (var phase in p.Phases.Where(ph => ph.Actual?.Start is { } s && s <= r.AsOf))
        {
            var x = Xd(phase.Actual!.Start!.Value);
            h.Append("<line class=\"phase-start\" x1=\"").Append(F(x)).Append("\" y1=\"").Append(Top).Append("\" x2=\"").Append(F(x)).Append("\" y2=\"").Append(plotBottom).Append("\"/>")
                .Append("<text class=\"phase-label\" x=\"").Append(F(x + 4)).Append("\" y=\"").Append(Top + 12).Append("\">Phase ").Append(phase.Number).Append("</text>\n");
        }
        // remission and response lines
        h.Append("<line id=\"remission-line\" class=\"threshold remission\" x1=\"").Append(Left).Append("\" y1=\"").Append(F(Y(Phq9Scoring.RemissionBelow))).Append("\" x2=\"").Append(ChartWidth - Right).Append("\" y2=\"").Append(F(Y(Phq9Scoring.RemissionBelow)))
            .Append("\" data-value=\"").Append(Phq9Scoring.RemissionBelow).Append("\"><title>Remission: total below 5</title></line>\n");
        h.Append("<text class=\"threshold-label\" x=\"").Append(Left + 6).Append("\" y=\"").Append(F(Y(Phq9Scoring.RemissionBelow) - 4)).Append("\">remission &lt; 5</text>\n");
        if (r.Outcome.ResponseThreshold is { } threshold)
        {
            h.Append("<line id=\"response-line\" class=\"threshold response\" x1=\"").Append(Left).Append("\" y1=\"").Append(F(Y(threshold))).Append("\" x2=\"").Append(ChartWidth - Right).Append("\" y2=\"").Append(F(Y(threshold)))
                .Append("\" data-value=\"").Append(N(threshold)).Append("\"><title>Response: total at or below ").Append(N(threshold)).Append(" (50 % of the baseline ").Append(r.Outcome.Baseline!.Total).Append(")</title></line>\n");
            h.Append("<text class=\"threshold-label\" x=\"").Append(Left + 6).Append("\" y=\"").Append(F(Y(threshold) - 4)).Append("\">response ≤ ").Append(N(threshold)).Append(" (50 % of baseline)</text>\n");
        }
        // today
        h.Append("<line id=\"phq9-today\" class=\"today\" x1=\"").Append(F(Xd(r.AsOf))).Append("\" y1=\"").Append(Top).Append("\" x2=\"").Append(F(Xd(r.AsOf))).Append("\" y2=\"").Append(plotBottom).Append("\"><title>As of ").Append(Format.Date(r.AsOf)).Append("</title></line>\n");
        // the series
        if (r.Phq9.Count > 0)
        {
            h.Append("<polyline id=\"phq9-line\" class=\"series\" points=\"");
            h.AppendJoin(' ', r.Phq9.Select(x => $"{F(Xd(x.Date))},{F(Y(x.Total))}"));
            h.Append("\"/>\n");
            foreach (var x in r.Phq9)
            {
                var flagged = x.Item9 is >= 1;
                h.Append("<circle class=\"phq9-point band-").Append(Kebab.Name(x.Band)).Append(flagged ? " item9-positive" : "").Append(x.IsBaseline ? " baseline" : "")
                    .Append("\" cx=\"").Append(F(Xd(x.Date))).Append("\" cy=\"").Append(F(Y(x.Total))).Append("\" r=\"").Append(flagged ? 6 : 4)
                    .Append("\" data-date=\"").Append(Format.Date(x.Date)).Append("\" data-total=\"").Append(x.Total).Append("\"><title>")
                    .Append(Format.Date(x.Date)).Append(": PHQ-9 ").Append(x.Total).Append(" (").Append(E(Phq9Scoring.Label(x.Band))).Append(')')
                    .Append(x.ImprovementPercent is { } pct ? $", {E(Format.Percent(pct))} from baseline" : "")
                    .Append(x.Item9 is { } i9 ? $", item 9 = {i9}" : ", item 9 not recorded").Append("</title></circle>\n");
            }
        }
        else
            h.Append("<text class=\"empty\" x=\"").Append(ChartWidth / 2).Append("\" y=\"").Append(ChartHeight / 2).Append("\" text-anchor=\"middle\">No PHQ-9 recorded</text>\n");
        h.Append("</svg>\n");
        h.Append("<p class=\"legend\"><span class=\"key key-series\"></span> PHQ-9 total <span class=\"key key-item9\"></span> item 9 ≥ 1 <span class=\"key key-response\"></span> response line <span class=\"key key-remission\"></span> remission line</p>\n");
    }

    private static void MonthTicks(StringBuilder h, DateOnly from, DateOnly to, Func<DateOnly, double> x, int y)
    {
        var months = (to.Year - from.Year) * 12 + to.Month - from.Month;
        var step = Math.Max(1, (months + 11) / 12);
        for (var d = new DateOnly(from.Year, from.Month, 1).AddMonths(1); d <= to; d = d.AddMonths(step))
        {
            var px = x(d);
            h.Append("<line class=\"grid\" x1=\"").Append(F(px)).Append("\" y1=\"").Append(y).Append("\" x2=\"").Append(F(px)).Append("\" y2=\"").Append(y + 5).Append("\"/>")
                .Append("<text class=\"tick\" x=\"").Append(F(px)).Append("\" y=\"").Append(y + 18).Append("\" text-anchor=\"middle\">").Append(d.ToString("yyyy-MM", CultureInfo.InvariantCulture)).Append("</text>\n");
        }
    }

    // ---------------- timeline ----------------

    private static void Timeline(StringBuilder h, TrdProtocol p, ClinicalReadout r)
    {
        var (from, to) = Domain(p, r);
        var courses = r.Adherence.Where(c => c.State != AdherenceState.NotStarted || p.Sessions.Any(s => s.Intervention == c.InterventionId)).ToList();
        var lanes = p.Phases.Count + courses.Count;
        var height = Top + Math.Max(1, lanes) * LaneHeight + Bottom;
        double Xd(DateOnly d) => X(d, from, to, ChartWidth, TimelineLabel, Right);
        var sessions = p.Sessions.Where(s => s.Date <= r.AsOf).ToList();

        h.Append("<svg id=\"timeline\" class=\"chart\" width=\"").Append(ChartWidth).Append("\" height=\"").Append(height).Append("\" viewBox=\"0 0 ").Append(ChartWidth).Append(' ').Append(height)
            .Append("\" role=\"img\" aria-labelledby=\"timeline-title\" data-lanes=\"").Append(lanes).Append("\" data-sessions=\"").Append(sessions.Count).Append("\">\n");
        h.Append("<title id=\"timeline-title\">Protocol phases (planned outline, actual bar) and the sessions delivered per course</title>\n");
        var lane = 0;
        foreach (var phase in p.Phases)
        {
            var y = Top + lane++ * LaneHeight;
            h.Append("<g class=\"lane phase-lane\" data-phase=\"").Append(phase.Number).Append("\"><text class=\"lane-label\" x=\"8\" y=\"").Append(y + 18).Append("\">Phase ").Append(phase.Number).Append(" (").Append(Kebab.Name(phase.Status)).Append(")</text>");
            if (phase.Planned.Start is { } ps && ps <= to)
            {
                var pe = phase.Planned.End is { } e && e < to ? e : to;
                h.Append("<rect class=\"phase-planned\" x=\"").Append(F(Xd(ps))).Append("\" y=\"").Append(y + 4).Append("\" width=\"").Append(F(Math.Max(1, Xd(pe) - Xd(ps)))).Append("\" height=\"").Append(LaneHeight - 8)
                    .Append("\"><title>Phase ").Append(phase.Number).Append(" planned ").Append(Format.Date(ps)).Append(" → ").Append(phase.Planned.End is { } pend ? Format.Date(pend) : "open").Append("</title></rect>");
            }
            if (phase.Actual?.Start is { } start && start <= r.AsOf)
            {
                var end = phase.Actual.End is { } e && e < r.AsOf ? e : r.AsOf;
                h.Append("<rect class=\"phase-actual phase-").Append(phase.Number).Append("\" x=\"").Append(F(Xd(start))).Append("\" y=\"").Append(y + 8).Append("\" width=\"").Append(F(Math.Max(2, Xd(end) - Xd(start)))).Append("\" height=\"").Append(LaneHeight - 16)
                    .Append("\"><title>Phase ").Append(phase.Number).Append(" actual ").Append(Format.Date(start)).Append(" → ").Append(phase.Actual.End is { } aend ? Format.Date(aend) : "ongoing").Append("</title></rect>");
            }
            h.Append("</g>\n");
        }
        foreach (var course in courses)
        {
            var y = Top + lane++ * LaneHeight;
            var own = sessions.Where(s => s.Intervention == course.InterventionId && (course.Kind switch
            {
                CourseKind.TmsAcute => (s.Stage ?? TmsStage.Acute) == TmsStage.Acute,
                CourseKind.TmsMaintenance => s.Stage == TmsStage.Maintenance,
                _ => true,
            })).ToList();
            h.Append("<g class=\"lane course-lane\" data-intervention=\"").Append(E(course.InterventionId)).Append("\" data-kind=\"").Append(Kebab.Name(course.Kind)).Append("\" data-sessions=\"").Append(own.Count).Append("\">")
                .Append("<text class=\"lane-label\" x=\"8\" y=\"").Append(y + 18).Append("\">").Append(E(PhaseGates.CourseName(course.Kind))).Append(" (").Append(E(course.InterventionId)).Append(") ")
                .Append(course.State is AdherenceState.OnTrack or AdherenceState.Behind ? $"{course.Delivered}/{R(course.ExpectedToDate)}" : E(StateText(course))).Append("</text>");
            h.Append("<line class=\"lane-rule\" x1=\"").Append(TimelineLabel).Append("\" y1=\"").Append(y + LaneHeight / 2).Append("\" x2=\"").Append(ChartWidth - Right).Append("\" y2=\"").Append(y + LaneHeight / 2).Append("\"/>");
            foreach (var s in own)
            {
                var x = Xd(s.Date);
                var status = Kebab.Name(s.Status);
                h.Append("<rect class=\"session session-").Append(status).Append("\" x=\"").Append(F(x - 2)).Append("\" y=\"").Append(y + 6).Append("\" width=\"4\" height=\"").Append(LaneHeight - 12)
                    .Append("\" data-date=\"").Append(Format.Date(s.Date)).Append("\"><title>").Append(Format.Date(s.Date)).Append(": ").Append(E(PhaseGates.CourseName(course.Kind))).Append(' ').Append(status).Append("</title></rect>");
            }
            h.Append("</g>\n");
        }
        var axis = Top + lanes * LaneHeight + 4;
        h.Append("<line class=\"axis\" x1=\"").Append(TimelineLabel).Append("\" y1=\"").Append(axis).Append("\" x2=\"").Append(ChartWidth - Right).Append("\" y2=\"").Append(axis).Append("\"/>\n");
        MonthTicks(h, from, to, Xd, axis);
        h.Append("<line id=\"today-line\" class=\"today\" x1=\"").Append(F(Xd(r.AsOf))).Append("\" y1=\"").Append(Top).Append("\" x2=\"").Append(F(Xd(r.AsOf))).Append("\" y2=\"").Append(axis).Append("\"><title>As of ").Append(Format.Date(r.AsOf)).Append("</title></line>\n");
        h.Append("</svg>\n<p class=\"legend\"><span class=\"key key-planned\"></span> planned <span class=\"key key-actual\"></span> actual <span class=\"key key-completed\"></span> completed session <span class=\"key key-missed\"></span> missed <span class=\"key key-stopped\"></span> stopped</p>\n");
    }

    // ---------------- helpers ----------------
}
