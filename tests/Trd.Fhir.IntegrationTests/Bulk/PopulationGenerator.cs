using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.IntegrationTests.Sync;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.IntegrationTests.Bulk;

/// <summary>What the generator put in: the cohort figures a correct read-out must report, counted from the generator's own choices.</summary>
public sealed class PopulationTruth
{
    public long Patients { get; set; }
    public long Phq9Assessments { get; set; }
    public long WithPhq9 { get; set; }
    public long NoPhq9 { get; set; }
    public long ResponseEvaluable { get; set; }
    public long Responders { get; set; }
    public long Remitters { get; set; }
    public long SignalAssessments { get; set; }
    public long TotalsOnlyAssessments { get; set; }
    public long Item9Unknown { get; set; }
    public long Trd { get; set; }
    public long Stale { get; set; }
    public SortedDictionary<string, long> Phases { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> ThaseRush { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> Maudsley { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> Adherence { get; } = new(StringComparer.Ordinal);
    public long PatientsBehind { get; set; }
    public SortedSet<string> NeedsReview { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Synthetic TRD population: N patients with realistic courses (phase 1 augmentation, active or completed; CBT sessions;
/// 0–6 PHQ-9 every two weeks from a baseline of 12–26, improving, flat or worsening; 60 % with the nine item scores, some
/// with item 9 ≥ 1; the rest totals only; 0–2 failed adequate prior trials in one or two classes). Deterministic per seed.
/// Writes what a Bulk Data export of the EHR would hold: the Patients and the mapped resources, ids and <c>Type/id</c>
/// references, one NDJSON file per type (split every <c>linesPerFile</c> lines), plus <c>truth.json</c>. All data synthetic.
/// </summary>
public static class PopulationGenerator
{
    public static readonly DateOnly AsOf = new(2026, 12, 1);
    public const int StaleDays = 90;
    private static readonly Regex UrnUuid = new("urn:uuid:([0-9a-f\\-]{36})", RegexOptions.Compiled);

    public static IEnumerable<(TrdProtocol Protocol, Patient Patient)> Patients(int count, int seed, string tag, PopulationTruth truth)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
            yield return One(random, tag, i, truth);
    }

    private static (TrdProtocol, Patient) One(Random random, string tag, int index, PopulationTruth truth)
    {
        var patientId = $"{tag}-{index}";
        var value = $"POP-{tag}-{index:D6}".ToUpperInvariant();
        var start = new DateOnly(2026, 1, 5).AddDays(random.Next(0, 240));
        var completed = random.Next(5) == 0;
        var withItems = random.Next(10) < 6;
        var count = random.Next(10) == 0 ? 0 : random.Next(1, 7);
        var baseline = random.Next(12, 27);
        var trend = random.Next(3); // improving, flat, worsening
        var phq9 = new List<Phq9Assessment>();
        for (var k = 0; k < count; k++)
        {
            var total = k == 0 ? baseline : Math.Clamp(trend switch { 0 => baseline - k * random.Next(2, 6), 1 => baseline + random.Next(-2, 3), _ => baseline + k }, 0, 27);
            IReadOnlyList<int>? items = null;
            if (withItems)
            {
                var item9 = Math.Max(total >= 2 && random.Next(8) == 0 ? random.Next(1, 3) : 0, total - 24); // 8 other items hold at most 24
                var rest = new int[8];
                for (var left = total - item9; left > 0;)
                {
                    var slot = random.Next(8);
                    if (rest[slot] < 3)
                    {
                        rest[slot]++;
                        left--;
                    }
                }
                items = [.. rest, item9];
            }
            phq9.Add(new Phq9Assessment(start.AddDays(14 * k), items, null, total));
        }
        var failedTrials = random.Next(3);
        var trials = new List<PriorTrial>();
        if (failedTrials >= 1)
            trials.Add(new PriorTrial("sertraline", 150, 8, TrialOutcome.NonResponse));
        if (failedTrials >= 2)
            trials.Add(new PriorTrial("venlafaxine", 225, 8, TrialOutcome.NonResponse));
        trials.Add(new PriorTrial("escitalopram", 5, 3, TrialOutcome.Intolerance)); // not adequate: never counts
        Schedule Daily(int times) => new(times, null, 1, ScheduleUnit.Day, null, null, null);
        var onsetMonthsBefore = random.Next(12, 48);
        var sessionCount = random.Next(0, 6);
        var end = start.AddDays(12 * 7);
        var protocol = new TrdProtocol(
            $"pop-{tag}-{index:D6}",
            new PatientRef(SyntheticProtocols.PatientSystem, value, $"Patient/{patientId}"),
            new Diagnosis("F33.2", start.AddMonths(-onsetMonthsBefore)),
            trials,
            [new CareTeamMember(CareTeamRole.Psychiatry, null)],
            [
                new Phase(1, completed ? PhaseStatus.Completed : PhaseStatus.Active, new DatePeriod(start, end), new DatePeriod(start, completed ? end : null), new MinimumDuration(12, DurationUnit.Week),
                [
                    new MedicationIntervention("venlafaxine", InterventionStatus.Active, "venlafaxine", MedicationRole.Continue, 225, Daily(1), false),
                    new MedicationIntervention("lithium", InterventionStatus.Active, "lithium-carbonate", MedicationRole.Augment, 300, Daily(2), false),
                    new PsychotherapyIntervention("cbt", completed ? InterventionStatus.Completed : InterventionStatus.Active, PsychotherapyModality.Cbt, new Schedule(1, null, 1, ScheduleUnit.Week, 50, IntRange.Exactly(12), null)),
                ]),
            ],
            Enumerable.Range(0, sessionCount).Select(k => new DeliveredSession(null, "cbt", null, start.AddDays(3 + 7 * k), SessionStatus.Completed, null, null, null)).ToArray(),
            phq9);

        // the truth, from the choices above
        truth.Patients++;
        Add(truth.Phases, completed ? "phase 1 completed" : "phase 1 active");
        truth.Phq9Assessments += count;
        if (count == 0)
        {
            truth.NoPhq9++;
        }
        else
        {
            truth.WithPhq9++;
            var latest = phq9[^1];
            if (latest.Total < 5)
                truth.Remitters++;
            if (count >= 2 && baseline > 0)
            {
                truth.ResponseEvaluable++;
                if (2 * latest.Total <= baseline)
                    truth.Responders++;
            }
            if (latest.Date < AsOf.AddDays(-StaleDays))
                truth.Stale++;
            if (withItems)
            {
                var signals = phq9.Count(a => a.Items![8] >= 1);
                truth.SignalAssessments += signals;
                if (signals > 0)
                    truth.NeedsReview.Add(protocol.Id);
            }
            else
            {
                truth.TotalsOnlyAssessments += count;
                truth.Item9Unknown++;
            }
        }
        if (failedTrials >= 2)
            truth.Trd++;
        Add(truth.ThaseRush, "stage " + Staging.Roman(failedTrials));
        Add(truth.Maudsley, MaudsleyBand(start.AddMonths(-onsetMonthsBefore), count == 0 ? null : baseline, failedTrials));
        // adherence: one course, CBT weekly with 12 sessions planned; sessions delivered weekly from start + 3 days
        if (completed && sessionCount == 0)
        {
            Add(truth.Adherence, "not-recorded"); // a completed course without any session: not judged as missed
        }
        else
        {
            var from = sessionCount > 0 ? start.AddDays(3) : start;
            var until = completed ? start.AddDays(3 + 7 * (sessionCount - 1)) : AsOf; // a completed course ends at its last session
            var expected = Math.Min(12, (until.DayNumber - from.DayNumber + 1 + 6) / 7); // weekly, counting a session on the first day
            var behind = sessionCount < expected;
            Add(truth.Adherence, behind ? "behind" : "on-track");
            if (behind)
                truth.PatientsBehind++;
        }
        var patient = new Patient
        {
            Id = patientId,
            Identifier = [new Identifier(SyntheticProtocols.PatientSystem, value)],
            Name = [new HumanName { Family = "Synthetic", Given = [$"Pop{index}"] }],
            BirthDate = new DateOnly(1950, 1, 1).AddDays(random.Next(0, 18000)).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
        };
        return (protocol, patient);
    }

    /// <summary>
    /// The Maudsley band from the Staging Method's rules (docs/clinical.md), worked out here from the generator's choices: not
    /// computed without a baseline PHQ-9 or a failed adequate trial; else duration (whole months from onset to the read-out
    /// date: ≤ 12 → 1, 13–24 → 2, more → 3) + baseline severity (0–4 → 1, 5–9 → 2, 10–19 → 3, 20+ → 4) + failures (1–2 → 1)
    /// + 1 for the lithium augmentation in a started phase (no ECT); 3–6 mild, 7–10 moderate, 11–15 severe.
    /// </summary>
    private static string MaudsleyBand(DateOnly onset, int? baseline, int failedTrials)
    {
        if (baseline is not { } total || failedTrials == 0)
            return "not computed";
        var months = (AsOf.Year - onset.Year) * 12 + AsOf.Month - onset.Month - (AsOf.Day < onset.Day ? 1 : 0);
        var score = (months <= 12 ? 1 : months <= 24 ? 2 : 3) + (total <= 4 ? 1 : total <= 9 ? 2 : total <= 19 ? 3 : 4) + 1 + 1;
        return score <= 6 ? "mild" : score <= 10 ? "moderate" : "severe";
    }

    private static void Add(SortedDictionary<string, long> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

    /// <summary>Writes N patients in Bulk Data layout to <paramref name="directory"/>; returns the truth (also written as truth.json).</summary>
    public static PopulationTruth WriteBulk(string directory, int count, int seed, string tag, int linesPerFile = 100_000)
    {
        Directory.CreateDirectory(directory);
        var truth = new PopulationTruth();
        var writers = new Dictionary<string, (StreamWriter Writer, int Lines, int File)>(StringComparer.Ordinal);
        void Write(string type, string json)
        {
            if (!writers.TryGetValue(type, out var w) || w.Lines >= linesPerFile)
            {
                w.Writer?.Dispose();
                var n = w.Writer is null ? 1 : w.File + 1;
                w = (new StreamWriter(Path.Combine(directory, $"{type}-{n}.ndjson")), 0, n);
            }
            w.Writer.Write(json);
            w.Writer.Write('\n');
            writers[type] = (w.Writer, w.Lines + 1, w.File);
        }
        foreach (var (protocol, patient) in Patients(count, seed, tag, truth))
        {
            Write("Patient", FhirJson.Serialize(patient, pretty: false));
            var bundle = ProtocolToFhir.Default.Map(protocol);
            var types = bundle.Entry.Where(e => e.FullUrl?.StartsWith("urn:uuid:", StringComparison.Ordinal) == true)
                .ToDictionary(e => e.FullUrl!["urn:uuid:".Length..], e => e.Resource!.TypeName, StringComparer.Ordinal);
            foreach (var entry in bundle.Entry)
            {
                var resource = entry.Resource!;
                resource.Id = entry.FullUrl!["urn:uuid:".Length..];
                var json = UrnUuid.Replace(FhirJson.Serialize(resource, pretty: false), m => types.TryGetValue(m.Groups[1].Value, out var t) ? $"{t}/{m.Groups[1].Value}" : m.Value);
                Write(resource.TypeName, json);
            }
        }
        foreach (var (writer, _, _) in writers.Values)
            writer.Dispose();
        File.WriteAllText(Path.Combine(directory, "truth.json"), System.Text.Json.JsonSerializer.Serialize(new
        {
            truth.Patients, truth.Phases, truth.Phq9Assessments, truth.WithPhq9, truth.NoPhq9, truth.ResponseEvaluable, truth.Responders, truth.Remitters,
            truth.SignalAssessments, NeedsReview = truth.NeedsReview.Count, truth.TotalsOnlyAssessments, truth.Item9Unknown, truth.Trd, truth.ThaseRush, truth.Stale,
            truth.Maudsley, truth.Adherence, truth.PatientsBehind,
        }));
        return truth;
    }
}

/// <summary>
/// Writes a population for tests/perf/cohort-scale.sh: <c>TRD_POPULATION_N</c> patients (default 50) to
/// <c>TRD_POPULATION_DIR</c> (default a temporary directory, removed). Trait PopulationBench, so only the script runs it with a large N.
/// </summary>
public sealed class PopulationGeneratorTests
{
    [Fact]
    [Trait("Category", "PopulationBench")]
    public void WriteBulk_NPatients_OnePatientLinePerPatientAndTheTruthFile()
    {
        var n = int.TryParse(Environment.GetEnvironmentVariable("TRD_POPULATION_N"), out var v) ? v : 50;
        var target = Environment.GetEnvironmentVariable("TRD_POPULATION_DIR");
        var dir = target ?? Directory.CreateTempSubdirectory("trd-population-").FullName;
        try
        {
            var truth = PopulationGenerator.WriteBulk(dir, n, seed: 42, tag: "bench");
            Assert.Equal(n, truth.Patients);
            Assert.Equal(n, Directory.GetFiles(dir, "Patient-*.ndjson").Sum(f => File.ReadLines(f).LongCount()));
            Assert.True(File.Exists(Path.Combine(dir, "truth.json")));
        }
        finally
        {
            if (target is null)
                Directory.Delete(dir, recursive: true);
        }
    }
}
