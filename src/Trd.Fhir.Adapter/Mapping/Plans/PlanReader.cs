using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using static Trd.Fhir.Adapter.Mapping.ReadContext;
using FhirDuration = Hl7.Fhir.Model.Duration;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// Plans family, FHIR → protocol: the diagnosis (Condition), prior trials (MedicationStatement), CareTeam, our derived
/// Goals, and the phase CarePlans (their activities are read by <see cref="OrderReader"/>).
/// </summary>
internal sealed class PlanReader(ReadContext r, OrderReader orders)
{
    public void MarkDerivedGoals()
    {
        foreach (var (goal, _) in r.OfType<Goal>())
        {
            if (r.Local(goal) is "goal-remission" or "goal-response")
                r.Use(goal);
        }
    }

    // ---- diagnosis, trials, team ----

    public Diagnosis? ReadDiagnosis()
    {
        var conditions = r.OfType<Condition>().ToArray();
        var (condition, _) = conditions.FirstOrDefault(c => r.Local(c.Resource) == "diagnosis");
        condition ??= conditions.Select(c => c.Resource).FirstOrDefault(c => Has(c.Code, Codes.Snomed, Codes.TrdDisorder.Code!) || CodeIn(c.Code, Codes.Icd10Cm) is { } icd && ProtocolChecks.Icd10CmCodes.Contains(icd));
        if (condition is null)
            return null;
        r.Use(condition);
        var icd10 = CodeIn(condition.Code, Codes.Icd10Cm);
        if (icd10 is not null && !ProtocolChecks.Icd10CmCodes.Contains(icd10))
        {
            r.Warn(r.Location(condition), ProblemCode.UnknownCode, $"ICD-10-CM {icd10} is not one of the depressive-disorder codes the protocol uses; left out");
            icd10 = null;
        }
        var onset = condition.Onset is FhirDateTime dt ? ToDate(dt.Value) : null;
        return icd10 is null && onset is null ? null : new Diagnosis(icd10, onset);
    }

    public IReadOnlyList<PriorTrial> ReadTrials()
    {
        var trials = new List<(int Order, PriorTrial Trial)>();
        foreach (var (statement, at) in r.OfType<MedicationStatement>())
        {
            var drug = statement.Medication is CodeableConcept med ? Codes.DrugKeyOf(med.Coding) : null;
            var weeks = statement.Dosage.Select(d => d.Timing?.Repeat?.Bounds).OfType<FhirDuration>().Select(TimingMap.WeeksOf).FirstOrDefault(w => w is not null);
            var outcome = statement.StatusReason.Select(x => ProjectCode<TrialOutcome>(x, Codes.TrialOutcomeSystem)).FirstOrDefault(o => o is not null) ?? TrialOutcome.Unknown;
            if (drug is null || weeks is null || Drugs.Find(drug)?.IsAntidepressant != true)
            {
                r.Warn(at, ProblemCode.NotInterpretable, "MedicationStatement is not a prior antidepressant trial Trd.Fhir can read (needs a known antidepressant and a duration)", "code the drug in RxNorm and give dosage.timing.repeat.boundsDuration");
                continue;
            }
            r.Use(statement);
            var dose = statement.Dosage.SelectMany(d => d.DoseAndRate).Select(d => d.Dose).OfType<Quantity>().Select(TimingMap.Milligrams).FirstOrDefault(q => q is not null);
            var order = r.Local(statement) is { } local && local.StartsWith("prior-trial-", StringComparison.Ordinal) && int.TryParse(local["prior-trial-".Length..], CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue;
            trials.Add((order, new PriorTrial(drug, dose, weeks.Value, outcome)));
        }
        return trials.OrderBy(t => t.Order).Select(t => t.Trial).ToArray();
    }

    public IReadOnlyList<CareTeamMember> ReadCareTeam()
    {
        var members = new List<CareTeamMember>();
        foreach (var (team, at) in r.OfType<CareTeam>())
        {
            r.Use(team);
            foreach (var participant in team.Participant)
            {
                var role = participant.Role.Select(x => ProjectCode<CareTeamRole>(x, Codes.CareTeamRoleSystem)).FirstOrDefault(x => x is not null);
                if (role is null)
                {
                    r.Warn(at, ProblemCode.NotInterpretable, "a care team participant has no role Trd.Fhir knows; left out", $"code the role in {Codes.CareTeamRoleSystem}");
                    continue;
                }
                members.Add(new CareTeamMember(role.Value, participant.Member?.Display));
            }
        }
        return members;
    }

    public IReadOnlyList<Phase> ReadPhases()
    {
        var phases = new List<Phase>();
        foreach (var (plan, at) in r.OfType<CarePlan>())
        {
            if (plan.Category.Any(c => Has(c, Codes.CarePlanKind, "protocol")))
            {
                r.Use(plan);
                continue;
            }
            var number = plan.Category.Select(c => CodeIn(c, Codes.CarePlanKind)).FirstOrDefault(c => c is "phase-1" or "phase-2" or "phase-3");
            if (number is null)
            {
                r.Warn(at, ProblemCode.NotInterpretable, "CarePlan is not a TRD protocol phase (no category phase-1/2/3); left out");
                continue;
            }
            r.Use(plan);
            var status = plan.Status switch
            {
                RequestStatus.Active or RequestStatus.OnHold => PhaseStatus.Active,
                RequestStatus.Completed => PhaseStatus.Completed,
                RequestStatus.Revoked => PhaseStatus.Stopped,
                _ => PhaseStatus.Planned,
            };
            var planned = plan.GetExtensionValue<Period>(Codes.ExtPlannedPeriod) ?? plan.Period;
            var minimum = plan.GetExtensionValue<FhirDuration>(Codes.ExtMinimumDuration) is { Value: { } v, Code: var unit }
                ? new MinimumDuration((int)v, unit == "mo" ? DurationUnit.Month : DurationUnit.Week) : null;
            var interventions = new List<Intervention>();
            for (var i = 0; i < plan.Activity.Count; i++)
                orders.ReadActivity(plan.Activity[i], $"{at}.resource.activity[{i}]", interventions);
            phases.Add(new Phase(
                int.Parse(number[^1..], CultureInfo.InvariantCulture),
                status,
                new DatePeriod(ToDate(planned?.Start), ToDate(planned?.End)),
                status == PhaseStatus.Planned ? null : new DatePeriod(ToDate(plan.Period?.Start), ToDate(plan.Period?.End)),
                minimum,
                interventions));
        }
        return phases.OrderBy(p => p.Number).ToArray();
    }
}
