using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Clinical;

/// <summary>
/// The clinical read-out as FHIR, added to the protocol's mapped transaction Bundle (a copy; the input is not changed):
/// Thase–Rush and Maudsley as <c>trd-observation-staging</c> Observations, response and remission status as
/// <c>trd-observation-treatment-outcome</c> Observations, one <c>trd-flag-safety-signal</c> Flag per PHQ-9 with item 9 ≥ 1
/// (pointing at that item 9 Observation), and <c>Goal.achievementStatus</c> on the mapping's remission and response Goals
/// (found by their business identifiers). New entries are conditional creates on deterministic identifiers, like the
/// mapping's, and reference only entries before them. Pure: same protocol, read-out and Bundle → same result.
/// </summary>
public sealed class ClinicalToFhir(Identity identity)
{
    public static ClinicalToFhir Default { get; } = new(Identity.Default);

    public static readonly string StagingSystem = Profiles.Canonical.CodeSystem("trd-staging");
    public static readonly string TreatmentOutcomeProfile = ProfileUrls.TreatmentOutcome;
    public static readonly string SafetySignalProfile = ProfileUrls.SafetySignal;
    public const string GoalAchievementSystem = "http://terminology.hl7.org/CodeSystem/goal-achievement";
    public const string FlagCategorySystem = "http://terminology.hl7.org/CodeSystem/flag-category";
    public const string FlagDetailExtension = "http://hl7.org/fhir/StructureDefinition/flag-detail";

    public Identity Identity { get; } = identity;

    public Bundle AddTo(Bundle mapped, TrdProtocol protocol, ClinicalReadout readout)
    {
        ArgumentNullException.ThrowIfNull(mapped);
        ArgumentNullException.ThrowIfNull(protocol);
        ArgumentNullException.ThrowIfNull(readout);
        var bundle = (Bundle)mapped.DeepCopy();
        new Builder(bundle, protocol, readout, Identity).Build();
        return bundle;
    }

    private sealed class Builder(Bundle bundle, TrdProtocol p, ClinicalReadout r, Identity identity)
    {
        private readonly ResourceReference _subject = (ResourceReference)bundle.Entry.Select(e => e.Resource).OfType<Condition>().First().Subject.DeepCopy();

        public void Build()
        {
            SetGoalStatus("goal-remission", GoalStatus(r.Phq9, Phq9Scoring.IsRemission));
            // The response Goal's target is half the first PHQ-9 (the mapping's baseline), whatever the read-out's baseline rule.
            if (r.Phq9.Count > 0)
                SetGoalStatus("goal-response", GoalStatus(r.Phq9, t => Phq9Scoring.IsResponse(r.Phq9[0].Total, t)));

            var trials = Enumerable.Range(1, p.PriorTrials.Count).Select(i => Ref("MedicationStatement", $"prior-trial-{i}")).ToList();
            var s = r.Staging;
            var thaseRush = Staging("thase-rush-stage", "Thase–Rush stage", s.ThaseRushStage,
                $"Thase–Rush stage {s.ThaseRushRoman}: {s.ThaseRushBasis}. {s.FailedAdequateTrials} failed adequate antidepressant trial(s); TRD (≥ 2): {(s.Trd ? "yes" : "no")}.");
            thaseRush.DerivedFrom = trials;
            Add(thaseRush, "clinical/thase-rush-stage", ProfileUrls.Staging);

            if (s.Maudsley is { } m && r.Outcome.Baseline is { } b)
            {
                var maudsley = Staging("maudsley-score", "Maudsley Staging Method score", m.Total,
                    $"Maudsley Staging Method {m.Total} ({m.Band.ToString().ToLowerInvariant()}): duration {m.DurationScore} ({m.DurationMonths} months), severity {m.SeverityScore} (baseline PHQ-9 {b.Total}), failures {m.FailureScore} ({m.Failures}), augmentation {(m.Augmentation ? 1 : 0)}, ECT {(m.Ect ? 1 : 0)}.");
                maudsley.DerivedFrom = [.. trials, Phq9Total(b.Date)];
                Add(maudsley, "clinical/maudsley-score", ProfileUrls.Staging);
            }

            if (r.Outcome is { Baseline: { } first, Latest: { } latest } outcome && latest.Date >= first.Date && first.Total > 0)
            {
                var response = Outcome("response", "Response", outcome.Response, latest.Date,
                    $"PHQ-9 {first.Total} on {Format.Date(first.Date)} (baseline, {outcome.Rule}) → {latest.Total} on {Format.Date(latest.Date)}: {Format.Percent(outcome.ImprovementPercent!.Value)} improvement; response needs ≥ 50 % (total ≤ {outcome.ResponseThreshold!.Value.ToString("0.#", CultureInfo.InvariantCulture)}).");
                response.DerivedFrom = first.Date == latest.Date ? [Phq9Total(first.Date)] : [Phq9Total(first.Date), Phq9Total(latest.Date)];
                Add(response, "clinical/response-status", TreatmentOutcomeProfile);
            }
            if (r.Outcome.Latest is { } last)
            {
                var remission = Outcome("remission", "Remission", r.Outcome.Remission, last.Date,
                    $"Latest PHQ-9 {last.Total} on {Format.Date(last.Date)}; remission needs a total below {Phq9Scoring.RemissionBelow}.");
                remission.DerivedFrom = [Phq9Total(last.Date)];
                Add(remission, "clinical/remission-status", TreatmentOutcomeProfile);
            }

            var assessments = r.Phq9;
            foreach (var signal in r.SafetySignals)
            {
                var cleared = assessments.FirstOrDefault(a => a.Date > signal.Date && a.Item9 == 0);
                var flag = new Flag
                {
                    Status = cleared is null ? Flag.FlagStatus.Active : Flag.FlagStatus.Inactive,
                    Category = [new CodeableConcept(FlagCategorySystem, "safety", "Safety", null)],
                    Code = new CodeableConcept(Codes.Phq9Flag, "suicidal-ideation", "Suicidal ideation reported",
                        $"PHQ-9 item 9 = {signal.Item9} on {Format.Date(signal.Date)}: clinician review of suicide risk"),
                    Subject = (ResourceReference)_subject.DeepCopy(),
                    Period = new Period { Start = Format.Date(signal.Date), End = cleared is null ? null : Format.Date(cleared.Date) },
                };
                flag.Extension.Add(new Extension(FlagDetailExtension, Ref("Observation", $"phq9-{Format.Date(signal.Date)}/item-9")));
                Add(flag, $"clinical/safety-signal/phq9-{Format.Date(signal.Date)}", SafetySignalProfile);
            }
        }

        /// <summary>
        /// goal-achievement from the PHQ-9 series: no assessment after the first → in-progress; latest meets the target →
        /// achieved (sustaining when the one before met it too); otherwise improving / worsening / no-change against the one before.
        /// </summary>
        private static (string Code, string Display)? GoalStatus(IReadOnlyList<Phq9Point> series, Func<int, bool> met)
        {
            if (series.Count == 0)
                return null;
            if (series.Count == 1)
                return met(series[0].Total) ? ("achieved", "Achieved") : ("in-progress", "In Progress");
            var (previous, latest) = (series[^2].Total, series[^1].Total);
            if (met(latest))
                return met(previous) ? ("sustaining", "Sustaining") : ("achieved", "Achieved");
            return latest < previous ? ("improving", "Improving") : latest > previous ? ("worsening", "Worsening") : ("no-change", "No Change");
        }

        private void SetGoalStatus(string local, (string Code, string Display)? status)
        {
            var identifier = identity.For("Goal", p.Id, local);
            var goal = bundle.Entry.Select(e => e.Resource).OfType<Goal>()
                .FirstOrDefault(g => g.Identifier.Any(i => i.System == identifier.System && i.Value == identifier.Value));
            if (goal is null || status is not { } s)
                return;
            goal.AchievementStatus = new CodeableConcept(GoalAchievementSystem, s.Code, s.Display, null);
        }

        private Observation Staging(string code, string display, int value, string note) => new()
        {
            Status = ObservationStatus.Final,
            Category = [new CodeableConcept(Codes.ObservationCategory, "survey", "Survey", null)],
            Code = new CodeableConcept(StagingSystem, code, display, null),
            Subject = (ResourceReference)_subject.DeepCopy(),
            Effective = new FhirDateTime(Format.Date(r.AsOf)),
            Value = new Integer(value),
            Note = [new Annotation { Text = note }],
        };

        private Observation Outcome(string code, string display, bool value, DateOnly effective, string note) => new()
        {
            Status = ObservationStatus.Final,
            Category = [new CodeableConcept(Codes.ObservationCategory, "survey", "Survey", null)],
            Code = new CodeableConcept(Codes.GoalSystem, code, display, null),
            Subject = (ResourceReference)_subject.DeepCopy(),
            Effective = new FhirDateTime(Format.Date(effective)),
            Value = new FhirBoolean(value),
            Note = [new Annotation { Text = note }],
        };

        private ResourceReference Phq9Total(DateOnly date) => Ref("Observation", $"phq9-{Format.Date(date)}/total");

        private ResourceReference Ref(string resourceType, string local) => new(Identity.FullUrl(identity.For(resourceType, p.Id, local)));

        private void Add(DomainResource resource, string local, string profile) =>
            bundle.Entry.Add(identity.ConditionalCreate(resource, p.Id, local, profile));

    }
}
