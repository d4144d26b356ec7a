using System.Text.Json.Serialization;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Cohort;

/// <summary>A protocol whose PHQ-9 item 9 (thoughts of self-harm) scored ≥ 1: listed by its pseudonymous protocol id only.</summary>
public sealed record ReviewEntry(string ProtocolId, DateOnly LatestSignal, int Item9, int Signals, bool OnLatestAssessment);

/// <summary>
/// The cohort read-out, added up one patient at a time (nothing per patient is kept except the review list): patients
/// per phase, response and remission with the PHQ-9 counts behind them, item-9 signals and who needs review, staging,
/// adherence, and data too old or missing. Rules are the Clinical ones (docs/clinical.md), applied per protocol.
/// </summary>
public sealed class CohortTally(DateOnly asOf, int staleDays)
{
    public DateOnly AsOf { get; } = asOf;
    public int StaleDays { get; } = staleDays;

    [JsonInclude]
    public long Patients { get; private set; }
    [JsonInclude]
    public long Rebuilt { get; private set; }
    [JsonInclude]
    public SortedDictionary<string, long> NotRebuilt { get; private set; } = new(StringComparer.Ordinal);
    [JsonInclude]
    public SortedDictionary<string, long> Phases { get; private set; } = new(StringComparer.Ordinal);

    [JsonInclude]
    public long Phq9Assessments { get; private set; }
    [JsonInclude]
    public long WithPhq9 { get; private set; }
    [JsonInclude]
    public long ResponseEvaluable { get; private set; }
    [JsonInclude]
    public long Responders { get; private set; }
    [JsonInclude]
    public long Remitters { get; private set; }

    [JsonInclude]
    public long SignalAssessments { get; private set; }
    [JsonInclude]
    public List<ReviewEntry> NeedsReview { get; private set; } = [];

    [JsonInclude]
    public long Trd { get; private set; }
    [JsonInclude]
    public SortedDictionary<string, long> ThaseRush { get; private set; } = new(StringComparer.Ordinal);
    [JsonInclude]
    public SortedDictionary<string, long> Maudsley { get; private set; } = new(StringComparer.Ordinal);

    [JsonInclude]
    public SortedDictionary<string, long> Adherence { get; private set; } = new(StringComparer.Ordinal);
    [JsonInclude]
    public long PatientsBehind { get; private set; }

    [JsonInclude]
    public long NoPhq9 { get; private set; }
    [JsonInclude]
    public long StalePhq9 { get; private set; }
    [JsonInclude]
    public long TotalsOnlyAssessments { get; private set; }
    [JsonInclude]
    public long Item9Unknown { get; private set; }

    public void AddNotRebuilt(string reason)
    {
        Patients++;
        NotRebuilt[reason] = NotRebuilt.GetValueOrDefault(reason) + 1;
    }

    public void Add(TrdProtocol protocol, ClinicalReadout readout)
    {
        Patients++;
        Rebuilt++;
        Count(Phases, PhaseLabel(protocol));

        var assessments = readout.Phq9;
        Phq9Assessments += assessments.Count;
        var outcome = readout.Outcome;
        if (outcome.Latest is { } latest)
        {
            WithPhq9++;
            if (outcome.Remission)
                Remitters++;
            if (latest.Date < AsOf.AddDays(-StaleDays))
                StalePhq9++;
        }
        else
        {
            NoPhq9++;
        }
        if (outcome.Baseline is { Total: > 0 } baseline && outcome.Latest is { } last && last.Date > baseline.Date)
        {
            ResponseEvaluable++;
            if (outcome.Response)
                Responders++;
        }

        var totalsOnly = assessments.Count(a => a.Item9 is null);
        TotalsOnlyAssessments += totalsOnly;
        if (assessments.Count > 0 && totalsOnly == assessments.Count)
            Item9Unknown++;
        SignalAssessments += readout.SafetySignals.Count;
        if (readout.SafetySignals.Count > 0)
        {
            var newest = readout.SafetySignals[^1];
            NeedsReview.Add(new ReviewEntry(protocol.Id, newest.Date, newest.Item9, readout.SafetySignals.Count, assessments.Count > 0 && assessments[^1].Date == newest.Date));
        }

        if (readout.Staging.Trd)
            Trd++;
        Count(ThaseRush, "stage " + readout.Staging.ThaseRushRoman);
        Count(Maudsley, readout.Staging.Maudsley is { } m ? m.Band.ToString().ToLowerInvariant() : "not computed");

        foreach (var course in readout.Adherence)
            Count(Adherence, Kebab(course.State.ToString()));
        if (readout.Adherence.Any(c => c.State == AdherenceState.Behind))
            PatientsBehind++;
    }

    /// <summary>Adds another tally's figures to this one (partitions of one cohort, read out by different workers).</summary>
    public void Merge(CohortTally other)
    {
        Patients += other.Patients;
        Rebuilt += other.Rebuilt;
        Phq9Assessments += other.Phq9Assessments;
        WithPhq9 += other.WithPhq9;
        ResponseEvaluable += other.ResponseEvaluable;
        Responders += other.Responders;
        Remitters += other.Remitters;
        SignalAssessments += other.SignalAssessments;
        Trd += other.Trd;
        PatientsBehind += other.PatientsBehind;
        NoPhq9 += other.NoPhq9;
        StalePhq9 += other.StalePhq9;
        TotalsOnlyAssessments += other.TotalsOnlyAssessments;
        Item9Unknown += other.Item9Unknown;
        NeedsReview.AddRange(other.NeedsReview);
        foreach (var (target, source) in new[] { (NotRebuilt, other.NotRebuilt), (Phases, other.Phases), (ThaseRush, other.ThaseRush), (Maudsley, other.Maudsley), (Adherence, other.Adherence) })
        {
            foreach (var (key, count) in source)
                target[key] = target.GetValueOrDefault(key) + count;
        }
    }

    /// <summary>The phase a protocol is in: the highest active phase, else the highest completed or stopped one, else not started.</summary>
    public static string PhaseLabel(TrdProtocol protocol)
    {
        if (protocol.Phases.Where(p => p.Status == PhaseStatus.Active).MaxBy(p => p.Number) is { } active)
            return $"phase {active.Number} active";
        if (protocol.Phases.Where(p => p.Status is PhaseStatus.Completed or PhaseStatus.Stopped).MaxBy(p => p.Number) is { } ended)
            return $"phase {ended.Number} {(ended.Status == PhaseStatus.Completed ? "completed" : "stopped")}";
        return "not started";
    }

    public static decimal? Rate(long part, long whole) => whole == 0 ? null : Math.Round(100m * part / whole, 1);

    private static void Count(SortedDictionary<string, long> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

    private static string Kebab(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>The read-out as a plain object for JSON.</summary>
    public object ToJson(long resources, IReadOnlyDictionary<string, long> skipped, long invalid) => new
    {
        asOf = AsOf.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
        patients = Patients,
        rebuilt = Rebuilt,
        notRebuilt = NotRebuilt,
        resources,
        skippedLines = skipped,
        invalidResources = invalid,
        phases = Phases,
        phq9 = new { assessments = Phq9Assessments, patientsWithPhq9 = WithPhq9, totalsOnlyAssessments = TotalsOnlyAssessments },
        response = new { responders = Responders, evaluable = ResponseEvaluable, ratePercent = Rate(Responders, ResponseEvaluable) },
        remission = new { remitters = Remitters, evaluable = WithPhq9, ratePercent = Rate(Remitters, WithPhq9) },
        safety = new
        {
            signalAssessments = SignalAssessments,
            patientsWithSignal = NeedsReview.Count,
            needsReview = NeedsReview.OrderByDescending(r => r.LatestSignal).ThenBy(r => r.ProtocolId, StringComparer.Ordinal)
                .Select(r => new { protocol = r.ProtocolId, latestSignal = r.LatestSignal.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), item9 = r.Item9, signals = r.Signals, onLatestAssessment = r.OnLatestAssessment }),
            patientsItem9Unknown = Item9Unknown,
        },
        staging = new { trd = Trd, thaseRush = ThaseRush, maudsley = Maudsley },
        adherence = new { courses = Adherence, patientsBehind = PatientsBehind },
        dataQuality = new { noPhq9 = NoPhq9, latestPhq9OlderThanDays = StaleDays, stalePhq9 = StalePhq9 },
    };
}
