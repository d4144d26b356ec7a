using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using FhirDuration = Hl7.Fhir.Model.Duration;
using FhirRange = Hl7.Fhir.Model.Range;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>A resource with where it came from (<c>Bundle.entry[3]</c>) and the fullUrl it was known by, if any.</summary>
public sealed record SourcedResource(Resource Resource, string Location, string? FullUrl);

public sealed record ReverseResult(TrdProtocol? Protocol, IReadOnlyList<Problem> Problems);

/// <summary>
/// FHIR → protocol, the tolerant reader used by pull. Reads what Trd.Fhir wrote (business identifiers, project codes and
/// extensions) and what other systems hold: PHQ-9 totals as valueInteger, valueQuantity or valueString, items as LA-coded
/// CodeableConcepts or numbers, panels with or without hasMember, loose items grouped by date. Pure. Anything it cannot
/// interpret is reported as a problem with its location, never dropped silently.
/// </summary>
public sealed class FhirToProtocol(Identity identity)
{
    public static FhirToProtocol Default { get; } = new(Identity.Default);

    public static IReadOnlyList<SourcedResource> Entries(Bundle bundle) =>
        bundle.Entry.Select((e, i) => (e, i)).Where(x => x.e.Resource is not null)
            .Select(x => new SourcedResource(x.e.Resource!, $"Bundle.entry[{x.i}]", x.e.FullUrl)).ToArray();

    public ReverseResult Read(IReadOnlyList<SourcedResource> resources) => new Reader(resources, identity).Read();

    private sealed class Reader
    {
        private readonly IReadOnlyList<SourcedResource> _all;
        private readonly Identity _identity;
        private readonly Dictionary<string, SourcedResource> _byReference = new(StringComparer.Ordinal);
        private readonly HashSet<Resource> _used = new(ReferenceEqualityComparer.Instance);
        private readonly List<Problem> _problems = [];
        private string _protocolId = "";

        public Reader(IReadOnlyList<SourcedResource> all, Identity identity)
        {
            _all = all;
            _identity = identity;
            foreach (var r in all)
            {
                if (r.FullUrl is { } fullUrl)
                    _byReference.TryAdd(fullUrl, r);
                if (r.Resource.Id is { } id)
                    _byReference.TryAdd($"{r.Resource.TypeName}/{id}", r);
            }
        }

        public ReverseResult Read()
        {
            var patient = FindPatient();
            if (patient is null)
                return new ReverseResult(null, _problems);
            _protocolId = FindProtocolId(patient);
            MarkDerivedGoals();
            var protocol = new TrdProtocol(
                _protocolId,
                patient,
                ReadDiagnosis(),
                ReadTrials(),
                ReadCareTeam(),
                ReadPhases(out var orders),
                ReadSessions(orders),
                ReadPhq9());
            foreach (var r in _all.Where(r => !_used.Contains(r.Resource) && r.Resource is not Patient))
                Warn(r.Location, ProblemCode.NotInterpretable, $"{r.Resource.TypeName}{(r.Resource.Id is { } id ? "/" + id : "")} is not part of a TRD protocol as Trd.Fhir reads it; left out");
            return new ReverseResult(_problems.Any(p => p.IsError) ? null : protocol, _problems);
        }

        // ---- helpers ----

        private IEnumerable<(T Resource, string Location)> OfType<T>() where T : Resource =>
            _all.Where(r => r.Resource is T).Select(r => ((T)r.Resource, r.Location));

        private void Warn(string path, ProblemCode code, string message, string? hint = null) =>
            _problems.Add(new Problem(ProblemSeverity.Warning, code, path, message, hint));

        private void Fail(string path, ProblemCode code, string message, string? hint = null) =>
            _problems.Add(new Problem(ProblemSeverity.Error, code, path, message, hint));

        private SourcedResource? Resolve(ResourceReference? reference)
        {
            if (reference?.Reference is not { } text)
                return null;
            if (_byReference.TryGetValue(text, out var found))
                return found;
            var history = text.IndexOf("/_history/", StringComparison.Ordinal);
            if (history > 0)
                text = text[..history];
            var parts = text.Split('/');
            return parts.Length >= 2 && _byReference.TryGetValue($"{parts[^2]}/{parts[^1]}", out found) ? found : null;
        }

        private string? Local(Resource resource) => _identity.LocalPart(resource, _protocolId);

        private static bool Has(CodeableConcept? concept, string system, string code) =>
            concept?.Coding.Any(c => c.System == system && c.Code == code) == true;

        private static string? CodeIn(CodeableConcept? concept, string system) =>
            concept?.Coding.FirstOrDefault(c => c.System == system)?.Code;

        private static T? ProjectCode<T>(CodeableConcept? concept, string system) where T : struct, Enum =>
            CodeIn(concept, system) is { } code && Kebab.TryParse<T>(code, out var value) ? value : null;

        private static DateOnly? ToDate(string? fhirDate) =>
            fhirDate is { Length: >= 10 } && DateOnly.TryParseExact(fhirDate[..10], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : null;

        private static DateOnly? EffectiveDate(DataType? effective) => effective switch
        {
            FhirDateTime dt => ToDate(dt.Value),
            Period p => ToDate(p.Start),
            Instant i => i.Value is { } v ? DateOnly.FromDateTime(v.UtcDateTime) : null,
            _ => null,
        };

        // ---- patient and protocol identity ----

        private PatientRef? FindPatient()
        {
            var subjects = _all.Select(r => r.Resource switch
            {
                CarePlan x => x.Subject,
                Condition x => x.Subject,
                Goal x => x.Subject,
                CareTeam x => x.Subject,
                MedicationRequest x => x.Subject,
                MedicationStatement x => x.Subject,
                ServiceRequest x => x.Subject,
                Procedure x => x.Subject,
                Observation x => x.Subject,
                _ => null,
            }).Where(s => s is not null).Select(s => s!).ToArray();

            var patients = OfType<Patient>().ToArray();
            foreach (var subject in subjects)
            {
                if (subject.Identifier is { System: { } system, Value: { } value })
                    return new PatientRef(system, value, LiteralPatient(subject.Reference));
                if (Resolve(subject)?.Resource is Patient patient && Best(patient.Identifier) is { } id)
                    return new PatientRef(id.System!, id.Value!, LiteralPatient(subject.Reference) ?? (patient.Id is { } pid ? $"Patient/{pid}" : null));
            }
            if (patients.Length == 1 && Best(patients[0].Resource.Identifier) is { } only)
                return new PatientRef(only.System!, only.Value!, patients[0].Resource.Id is { } pid ? $"Patient/{pid}" : null);
            Fail("Bundle", ProblemCode.MissingProperty, "cannot tell which patient these resources belong to", "include the Patient (with an identifier) or give subjects a logical identifier");
            return null;
        }

        private static string? LiteralPatient(string? reference)
        {
            if (reference is null || reference.Contains('?', StringComparison.Ordinal) || reference.StartsWith("urn:", StringComparison.Ordinal))
                return null;
            var parts = reference.Split('/');
            var at = Array.LastIndexOf(parts, "Patient");
            return at >= 0 && at + 1 < parts.Length && ProtocolReader.IdPattern().IsMatch(parts[at + 1]) ? $"Patient/{parts[at + 1]}" : null;
        }

        /// <summary>The patient identifier to key the protocol on: a medical record number if marked, else the first usable one.</summary>
        private static Identifier? Best(IEnumerable<Identifier> identifiers)
        {
            var usable = identifiers.Where(i => i.System is not null && !string.IsNullOrWhiteSpace(i.Value)).ToArray();
            return usable.FirstOrDefault(i => Has(i.Type, "http://terminology.hl7.org/CodeSystem/v2-0203", "MR")) ?? usable.FirstOrDefault();
        }

        private string FindProtocolId(PatientRef patient)
        {
            foreach (var (plan, _) in OfType<CarePlan>())
            {
                if (Has(plan.Category.FirstOrDefault(c => Has(c, Codes.CarePlanKind, "protocol")), Codes.CarePlanKind, "protocol") && _identity.ProtocolIdOf(plan, plan.Identifier) is { } id)
                    return id;
            }
            foreach (var r in _all)
            {
                var identifiers = Identity.IdentifiersOf(r.Resource);
                if (_identity.ProtocolIdOf(r.Resource, identifiers) is { } id && ProtocolReader.IdPattern().IsMatch(id))
                    return id;
            }
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{patient.System}|{patient.Value}"));
            return "pulled-" + Convert.ToHexStringLower(hash)[..16];
        }

        /// <summary>The remission and response goals are derived from the protocol: ours are read as such; other Goals are reported.</summary>
        private void MarkDerivedGoals()
        {
            foreach (var (goal, _) in OfType<Goal>())
            {
                if (Local(goal) is "goal-remission" or "goal-response")
                    _used.Add(goal);
            }
        }

        // ---- diagnosis, trials, team ----

        private Diagnosis? ReadDiagnosis()
        {
            var conditions = OfType<Condition>().ToArray();
            var (condition, _) = conditions.FirstOrDefault(c => Local(c.Resource) == "diagnosis");
            condition ??= conditions.Select(c => c.Resource).FirstOrDefault(c => Has(c.Code, Codes.Snomed, Codes.TrdDisorder.Code!) || CodeIn(c.Code, Codes.Icd10Cm) is { } icd && ProtocolChecks.Icd10CmCodes.Contains(icd));
            if (condition is null)
                return null;
            _used.Add(condition);
            var icd10 = CodeIn(condition.Code, Codes.Icd10Cm);
            if (icd10 is not null && !ProtocolChecks.Icd10CmCodes.Contains(icd10))
            {
                Warn(Location(condition), ProblemCode.UnknownCode, $"ICD-10-CM {icd10} is not one of the depressive-disorder codes the protocol uses; left out");
                icd10 = null;
            }
            var onset = condition.Onset is FhirDateTime dt ? ToDate(dt.Value) : null;
            return icd10 is null && onset is null ? null : new Diagnosis(icd10, onset);
        }

        private string Location(Resource resource) => _all.First(r => ReferenceEquals(r.Resource, resource)).Location;

        private IReadOnlyList<PriorTrial> ReadTrials()
        {
            var trials = new List<(int Order, PriorTrial Trial)>();
            foreach (var (statement, at) in OfType<MedicationStatement>())
            {
                var drug = statement.Medication is CodeableConcept med ? Codes.DrugKeyOf(med.Coding) : null;
                var weeks = statement.Dosage.Select(d => d.Timing?.Repeat?.Bounds).OfType<FhirDuration>().Select(WeeksOf).FirstOrDefault(w => w is not null);
                var outcome = statement.StatusReason.Select(r => ProjectCode<TrialOutcome>(r, Codes.TrialOutcomeSystem)).FirstOrDefault(o => o is not null) ?? TrialOutcome.Unknown;
                if (drug is null || weeks is null || Drugs.Find(drug)?.IsAntidepressant != true)
                {
                    Warn(at, ProblemCode.NotInterpretable, "MedicationStatement is not a prior antidepressant trial Trd.Fhir can read (needs a known antidepressant and a duration)", "code the drug in RxNorm and give dosage.timing.repeat.boundsDuration");
                    continue;
                }
                _used.Add(statement);
                var dose = statement.Dosage.SelectMany(d => d.DoseAndRate).Select(d => d.Dose).OfType<Quantity>().Select(Milligrams).FirstOrDefault(q => q is not null);
                var order = Local(statement) is { } local && local.StartsWith("prior-trial-", StringComparison.Ordinal) && int.TryParse(local["prior-trial-".Length..], CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue;
                trials.Add((order, new PriorTrial(drug, dose, weeks.Value, outcome)));
            }
            return trials.OrderBy(t => t.Order).Select(t => t.Trial).ToArray();
        }

        private IReadOnlyList<CareTeamMember> ReadCareTeam()
        {
            var members = new List<CareTeamMember>();
            foreach (var (team, at) in OfType<CareTeam>())
            {
                _used.Add(team);
                foreach (var participant in team.Participant)
                {
                    var role = participant.Role.Select(r => ProjectCode<CareTeamRole>(r, Codes.CareTeamRoleSystem)).FirstOrDefault(r => r is not null);
                    if (role is null)
                    {
                        Warn(at, ProblemCode.NotInterpretable, "a care team participant has no role Trd.Fhir knows; left out", $"code the role in {Codes.CareTeamRoleSystem}");
                        continue;
                    }
                    members.Add(new CareTeamMember(role.Value, participant.Member?.Display));
                }
            }
            return members;
        }

        // ---- phases and interventions ----

        private IReadOnlyList<Phase> ReadPhases(out Dictionary<Resource, (string InterventionId, TmsStage? Stage)> orders)
        {
            orders = new(ReferenceEqualityComparer.Instance);
            var phases = new List<Phase>();
            foreach (var (plan, at) in OfType<CarePlan>())
            {
                if (plan.Category.Any(c => Has(c, Codes.CarePlanKind, "protocol")))
                {
                    _used.Add(plan);
                    continue;
                }
                var number = plan.Category.Select(c => CodeIn(c, Codes.CarePlanKind)).FirstOrDefault(c => c is "phase-1" or "phase-2" or "phase-3");
                if (number is null)
                {
                    Warn(at, ProblemCode.NotInterpretable, "CarePlan is not a TRD protocol phase (no category phase-1/2/3); left out");
                    continue;
                }
                _used.Add(plan);
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
                    ReadActivity(plan.Activity[i], $"{at}.resource.activity[{i}]", interventions, orders);
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

        private void ReadActivity(CarePlan.ActivityComponent activity, string at, List<Intervention> interventions, Dictionary<Resource, (string, TmsStage?)> orders)
        {
            if (activity.Detail is { } detail)
            {
                if (Has(detail.Code, Codes.Intervention, Codes.SleepChronotherapy))
                {
                    var components = detail.Extension.Where(e => e.Url == Codes.ExtSleepComponent).Select(e => e.Value is Coding c && Kebab.TryParse<SleepComponent>(c.Code ?? "", out var s) ? s : (SleepComponent?)null).OfType<SleepComponent>().ToArray();
                    interventions.Add(new SleepIntervention(activity.ElementId ?? "sleep", detail.Status switch
                    {
                        CarePlan.CarePlanActivityStatus.InProgress => InterventionStatus.Active,
                        CarePlan.CarePlanActivityStatus.Completed => InterventionStatus.Completed,
                        CarePlan.CarePlanActivityStatus.Stopped or CarePlan.CarePlanActivityStatus.Cancelled => InterventionStatus.Stopped,
                        _ => InterventionStatus.Planned,
                    }, components, detail.Description));
                }
                else
                    Warn(at, ProblemCode.NotInterpretable, "activity detail is not an intervention Trd.Fhir knows; left out");
                return;
            }
            var target = Resolve(activity.Reference);
            if (target is null)
            {
                Warn(at, ProblemCode.UnknownReference, $"activity reference '{activity.Reference?.Reference}' is not among the resources read; left out", "pull or include the referenced order");
                return;
            }
            switch (target.Resource)
            {
                case MedicationRequest request:
                    if (ReadMedication(request, target.Location) is { } medication)
                    {
                        _used.Add(request);
                        interventions.Add(medication);
                        orders[request] = (medication.Id, null);
                    }
                    break;
                case ServiceRequest request:
                    ReadServiceRequest(request, target.Location, interventions, orders);
                    break;
                default:
                    Warn(at, ProblemCode.NotInterpretable, $"activity references a {target.Resource.TypeName}; left out");
                    break;
            }
        }

        private string InterventionId(Resource resource, string fallback, params string[] suffixes)
        {
            var local = Local(resource) ?? fallback;
            foreach (var suffix in suffixes)
            {
                if (local.EndsWith(suffix, StringComparison.Ordinal) && local.Length > suffix.Length)
                    return local[..^suffix.Length];
            }
            return local;
        }

        private static InterventionStatus StatusOf(RequestStatus? status) => status switch
        {
            RequestStatus.Active or RequestStatus.OnHold => InterventionStatus.Active,
            RequestStatus.Completed => InterventionStatus.Completed,
            RequestStatus.Revoked => InterventionStatus.Stopped,
            _ => InterventionStatus.Planned,
        };

        private MedicationIntervention? ReadMedication(MedicationRequest request, string at)
        {
            var drug = request.Medication is CodeableConcept concept ? Codes.DrugKeyOf(concept.Coding) : null;
            if (drug is null)
            {
                Warn(at, ProblemCode.UnknownCode, "MedicationRequest names a drug Trd.Fhir does not know; left out", "code the drug with one of the RxNorm codes in docs/mapping.md");
                return null;
            }
            var known = Drugs.Find(drug)!;
            var role = request.Category.Select(c => ProjectCode<MedicationRole>(c, Codes.MedicationRoleSystem)).FirstOrDefault(r => r is not null)
                ?? (drug == "esketamine" ? MedicationRole.Esketamine : drug == "ketamine" ? MedicationRole.Ketamine : known.IsAugmentation ? MedicationRole.Augment : MedicationRole.Continue);
            var dosage = request.DosageInstruction.FirstOrDefault();
            var dose = dosage?.DoseAndRate.Select(d => d.Dose).OfType<Quantity>().Select(Milligrams).FirstOrDefault(q => q is not null);
            var schedule = ReadTiming(dosage?.Timing, at);
            if (dose is null || schedule is null)
            {
                Warn(at, ProblemCode.NotInterpretable, "MedicationRequest has no dose in mg or no timing Trd.Fhir can read; left out", "give dosageInstruction.doseAndRate.doseQuantity (mg) and timing.repeat");
                return null;
            }
            var status = request.Status switch
            {
                MedicationRequest.MedicationrequestStatus.Active or MedicationRequest.MedicationrequestStatus.OnHold => InterventionStatus.Active,
                MedicationRequest.MedicationrequestStatus.Completed => InterventionStatus.Completed,
                MedicationRequest.MedicationrequestStatus.Stopped or MedicationRequest.MedicationrequestStatus.Cancelled => InterventionStatus.Stopped,
                _ => InterventionStatus.Planned,
            };
            var supervised = request.GetExtensionValue<FhirBoolean>(Codes.ExtSupervised)?.Value ?? false;
            return new MedicationIntervention(InterventionId(request, drug), status, drug, role, dose.Value, schedule, supervised);
        }

        private void ReadServiceRequest(ServiceRequest request, string at, List<Intervention> interventions, Dictionary<Resource, (string, TmsStage?)> orders)
        {
            var code = request.Code;
            var status = StatusOf(request.Status);
            var schedule = ReadTiming(request.Occurrence as Timing, at);
            string? id = null;
            TmsStage? stage = null;
            if (Has(code, Codes.Intervention, Codes.TmsAcuteCourse) || Has(code, Codes.Intervention, Codes.TmsMaintenanceCourse))
            {
                var acute = Has(code, Codes.Intervention, Codes.TmsAcuteCourse);
                stage = acute ? TmsStage.Acute : TmsStage.Maintenance;
                id = InterventionId(request, "tms", acute ? "-acute" : "-maintenance");
                if (schedule is null)
                    return;
                var parameters = ReadTmsParameters(request);
                var existing = interventions.OfType<TmsIntervention>().FirstOrDefault(t => t.Id == id);
                var updated = existing is null
                    ? new TmsIntervention(id, status, schedule, acute ? null : schedule, parameters)
                    : acute ? existing with { Acute = schedule, Status = status, Parameters = parameters ?? existing.Parameters } : existing with { Maintenance = schedule };
                Replace(interventions, existing, updated);
            }
            else if (Has(code, Codes.Intervention, Codes.HrvPractice) || Has(code, Codes.Intervention, Codes.HrvReview))
            {
                var practice = Has(code, Codes.Intervention, Codes.HrvPractice);
                id = InterventionId(request, "hrv", practice ? "-practice" : "-review");
                if (schedule is null)
                    return;
                var existing = interventions.OfType<HrvBiofeedbackIntervention>().FirstOrDefault(h => h.Id == id);
                var updated = existing is null
                    ? new HrvBiofeedbackIntervention(id, status, schedule, schedule)
                    : practice ? existing with { Practice = schedule } : existing with { Review = schedule };
                Replace(interventions, existing, updated);
            }
            else if (Has(code, Codes.Intervention, Codes.EctCourse))
            {
                id = InterventionId(request, "ect");
                if (schedule is null)
                    return;
                var indications = request.ReasonCode.Select(r => ProjectCode<EctIndication>(r, Codes.EctIndicationSystem)).OfType<EctIndication>().ToArray();
                interventions.Add(new EctIntervention(id, status, indications, ReadEctParameters(request)?.Placement, schedule));
            }
            else if (Has(code, Codes.Intervention, Codes.EsketamineAdministration) || Has(code, Codes.Intervention, Codes.KetamineAdministration))
            {
                // The supervised-administration order of a medication: the MedicationRequest carries the intervention.
                id = InterventionId(request, Has(code, Codes.Intervention, Codes.EsketamineAdministration) ? "esketamine" : "ketamine", "-administration");
            }
            else if (Has(code, Codes.Loinc, Codes.Phq9Panel))
            {
                id = InterventionId(request, "phq9-monitoring");
                if (schedule is null)
                    return;
                interventions.Add(new Phq9MonitoringIntervention(id, status, schedule));
            }
            else if (PsychotherapyModalityOf(code) is { } modality)
            {
                id = InterventionId(request, Kebab.Name(modality));
                if (schedule is null)
                    return;
                interventions.Add(new PsychotherapyIntervention(id, status, modality, schedule));
            }
            else
            {
                Warn(at, ProblemCode.NotInterpretable, $"ServiceRequest code '{code?.Coding.FirstOrDefault()?.Code ?? code?.Text}' is not a TRD intervention Trd.Fhir knows; left out");
                return;
            }
            _used.Add(request);
            orders[request] = (id, stage);
        }

        private static void Replace(List<Intervention> interventions, Intervention? existing, Intervention updated)
        {
            var index = existing is null ? -1 : interventions.IndexOf(existing);
            if (index >= 0)
                interventions[index] = updated;
            else if (!interventions.Contains(updated))
                interventions.Add(updated);
        }

        private static PsychotherapyModality? PsychotherapyModalityOf(CodeableConcept? code)
        {
            if (Has(code, Codes.Intervention, Codes.Ipsrt))
                return PsychotherapyModality.Ipsrt;
            return CodeIn(code, Codes.Snomed) switch
            {
                "228557008" or "183383008" => PsychotherapyModality.Cbt,
                "443730003" or "304822001" => PsychotherapyModality.Ipt,
                "75516001" or "18512000" => PsychotherapyModality.Other,
                _ => null,
            };
        }

        private Schedule? ReadTiming(Timing? timing, string at)
        {
            var repeat = timing?.Repeat;
            var unit = repeat?.PeriodUnit switch
            {
                Timing.UnitsOfTime.D => ScheduleUnit.Day,
                Timing.UnitsOfTime.Wk => ScheduleUnit.Week,
                _ => (ScheduleUnit?)null,
            };
            if (repeat is null || unit is null)
            {
                Warn(at, ProblemCode.NotInterpretable, "no timing Trd.Fhir can read (needs timing.repeat with periodUnit d or wk); left out");
                return null;
            }
            int? minutes = repeat.Duration is { } duration
                ? repeat.DurationUnit switch { Timing.UnitsOfTime.Min => (int)duration, Timing.UnitsOfTime.H => (int)(duration * 60), _ => null }
                : null;
            IntRange? weeks = repeat.Bounds switch
            {
                FhirDuration d when WeeksOf(d) is { } w => IntRange.Exactly(w),
                FhirRange { Low: { } low, High: { } high } when WeeksOf(low) is { } l && WeeksOf(high) is { } h => new IntRange(l, h),
                _ => null,
            };
            IntRange? sessions = repeat.Count is { } count ? new IntRange(count, repeat.CountMax ?? count) : null;
            return new Schedule(repeat.Frequency ?? 1, repeat.FrequencyMax, (int)(repeat.Period ?? 1), unit.Value, minutes, weeks, sessions);
        }

        private static int? WeeksOf(Quantity quantity) => quantity.Code switch
        {
            "wk" => (int?)quantity.Value,
            "d" when quantity.Value is { } days && days % 7 == 0 => (int)(days / 7),
            _ => null,
        };

        private static decimal? Milligrams(Quantity quantity) => quantity.Code switch
        {
            "mg" => quantity.Value,
            "g" => quantity.Value * 1000,
            _ => null,
        };

        private static TmsParameters? ReadTmsParameters(DomainResource resource)
        {
            var extension = resource.GetExtension(Codes.ExtTmsParameters);
            if (extension is null)
                return null;
            var target = extension.GetExtensionValue<Coding>("target") is { Code: { } code } && Kebab.TryParse<TmsTarget>(code, out var t) ? t : (TmsTarget?)null;
            var motor = extension.GetExtensionValue<Quantity>("motorThreshold")?.Value;
            return new TmsParameters(
                target,
                extension.GetExtensionValue<Quantity>("frequency")?.Value is { } hz ? ProtocolWriter.Normalize(hz) : null,
                motor is { } m ? (int)m : null,
                extension.GetExtensionValue<Integer>("pulses")?.Value);
        }

        private static EctSessionParameters? ReadEctParameters(DomainResource resource)
        {
            var extension = resource.GetExtension(Codes.ExtEctParameters);
            if (extension is null)
                return null;
            var placement = extension.GetExtensionValue<Coding>("electrodePlacement") is { Code: { } code } && Kebab.TryParse<ElectrodePlacement>(code, out var p) ? p : (ElectrodePlacement?)null;
            var seconds = extension.GetExtensionValue<Quantity>("seizureDuration")?.Value;
            return new EctSessionParameters(
                placement,
                extension.GetExtensionValue<Quantity>("charge")?.Value is { } mc ? ProtocolWriter.Normalize(mc) : null,
                seconds is { } s ? (int)s : null);
        }

        // ---- sessions ----

        private IReadOnlyList<DeliveredSession> ReadSessions(Dictionary<Resource, (string InterventionId, TmsStage? Stage)> orders)
        {
            var sessions = new List<DeliveredSession>();
            foreach (var (procedure, at) in OfType<Procedure>())
            {
                if (procedure.Status is EventStatus.EnteredInError)
                {
                    _used.Add(procedure);
                    Warn(at, ProblemCode.NotInterpretable, "Procedure with status entered-in-error skipped");
                    continue;
                }
                var order = procedure.BasedOn.Select(Resolve).FirstOrDefault(r => r is not null && orders.ContainsKey(r.Resource));
                var date = procedure.Performed switch
                {
                    FhirDateTime dt => ToDate(dt.Value),
                    Period p => ToDate(p.Start),
                    _ => null,
                };
                if (order is null || date is null)
                {
                    Warn(at, ProblemCode.NotInterpretable, "Procedure is not a session of a known TRD order (basedOn) or has no performed date; left out", "set basedOn to the course's ServiceRequest and performedDateTime");
                    continue;
                }
                _used.Add(procedure);
                var (interventionId, stage) = orders[order.Resource];
                var status = procedure.Status switch
                {
                    EventStatus.Completed => SessionStatus.Completed,
                    EventStatus.NotDone => SessionStatus.Missed,
                    _ => SessionStatus.Stopped,
                };
                var local = Local(procedure);
                var key = local?.StartsWith("session/", StringComparison.Ordinal) == true ? local["session/".Length..] : null;
                var dose = procedure.GetExtensionValue<Quantity>(Codes.ExtAdministeredDose) is { } q ? Milligrams(q) : null;
                var session = new DeliveredSession(null, interventionId, stage, date.Value, status, ReadTmsParameters(procedure), ReadEctParameters(procedure), dose is { } d ? ProtocolWriter.Normalize(d) : null);
                if (key is not null && key != session.Key)
                    session = session with { Id = key };
                sessions.Add(session);
            }
            return ProtocolWriter.CanonicalOrder(sessions);
        }

        // ---- PHQ-9 ----

        private sealed class Draft(DateOnly date, string location)
        {
            public DateOnly Date { get; } = date;
            public string Location { get; } = location;
            public int?[] Items { get; } = new int?[9];
            public int? Total { get; set; }
            public Phq9Difficulty? Difficulty { get; set; }
        }

        private IReadOnlyList<Phq9Assessment> ReadPhq9()
        {
            var observations = OfType<Observation>().Where(o => o.Resource.Status is not (ObservationStatus.EnteredInError or ObservationStatus.Cancelled)).ToArray();
            foreach (var (skipped, at) in OfType<Observation>().Except(observations))
            {
                _used.Add(skipped);
                Warn(at, ProblemCode.NotInterpretable, $"Observation with status {Kebab.ToKebab(skipped.Status.ToString()!)} skipped");
            }
            var drafts = new List<Draft>();
            // 1. panels: members through hasMember, or components on the panel itself
            foreach (var (panel, at) in observations.Where(o => Has(o.Resource.Code, Codes.Loinc, Codes.Phq9Panel)))
            {
                if (EffectiveDate(panel.Effective) is not { } date)
                {
                    Warn(at, ProblemCode.NotInterpretable, "PHQ-9 panel has no effective date; left out");
                    continue;
                }
                _used.Add(panel);
                var draft = new Draft(date, at);
                foreach (var member in panel.HasMember)
                {
                    if (Resolve(member) is { Resource: Observation o } found)
                        Absorb(draft, o.Code, o.Value, found.Location, o);
                    else
                        Warn(at, ProblemCode.UnknownReference, $"PHQ-9 panel member '{member.Reference}' is not among the resources read", "include the panel's member Observations");
                }
                for (var i = 0; i < panel.Component.Count; i++)
                    Absorb(draft, panel.Component[i].Code, panel.Component[i].Value, $"{at}.resource.component[{i}]", null);
                if (panel.Value is not null)
                    Absorb(draft, new CodeableConcept(Codes.Loinc, Codes.Phq9Total), panel.Value, at, null);
                drafts.Add(draft);
            }
            // 2. loose items and totals (no panel, or a panel without hasMember): grouped by day
            foreach (var (o, at) in observations.Where(o => !_used.Contains(o.Resource) && IsPhq9Part(o.Resource.Code)))
            {
                if (EffectiveDate(o.Effective) is not { } date)
                {
                    _used.Add(o);
                    Warn(at, ProblemCode.NotInterpretable, "PHQ-9 observation has no effective date; left out");
                    continue;
                }
                var draft = drafts.FirstOrDefault(d => d.Date == date && (d.Total is null || !Has(o.Code, Codes.Loinc, Codes.Phq9Total)));
                if (draft is null)
                    drafts.Add(draft = new Draft(date, at));
                Absorb(draft, o.Code, o.Value, at, o);
            }
            return Finish(drafts);
        }

        private static bool IsPhq9Part(CodeableConcept? code) =>
            Has(code, Codes.Loinc, Codes.Phq9Total) || Has(code, Codes.Loinc, Codes.Phq9DifficultyItem) || Has(code, Codes.Loinc, "44256-6")
            || Codes.Phq9Items.Any(i => Has(code, Codes.Loinc, i.Code));

        private void Absorb(Draft draft, CodeableConcept? code, DataType? value, string at, Observation? source)
        {
            if (source is not null)
                _used.Add(source);
            var item = Codes.Phq9Items.Select((x, i) => (x.Code, i)).FirstOrDefault(x => Has(code, Codes.Loinc, x.Code));
            if (item.Code is not null)
            {
                var score = Score(value);
                if (score is null)
                    Warn(at, ProblemCode.NotInterpretable, $"PHQ-9 item {item.i + 1} ({item.Code}) has no score Trd.Fhir can read (LA6568-5…LA6571-9, or 0–3)");
                else
                    draft.Items[item.i] = score;
                return;
            }
            if (Has(code, Codes.Loinc, Codes.Phq9Total))
            {
                var total = Total(value);
                if (total is null)
                    Warn(at, ProblemCode.NotInterpretable, "PHQ-9 total (44261-6) has no value Trd.Fhir can read (an integer 0–27 as valueInteger, valueQuantity or valueString)");
                else
                    draft.Total = total;
                return;
            }
            if (Has(code, Codes.Loinc, Codes.Phq9DifficultyItem) || Has(code, Codes.Loinc, "44256-6"))
            {
                var answer = (value as CodeableConcept)?.Coding.Select(c => Codes.DifficultyAnswers.Select((a, i) => (a.Code, i)).FirstOrDefault(a => a.Code == c.Code)).FirstOrDefault(a => a.Code is not null);
                if (answer?.Code is null)
                    Warn(at, ProblemCode.NotInterpretable, "PHQ-9 difficulty item has no LL359-1 answer Trd.Fhir can read");
                else
                    draft.Difficulty = (Phq9Difficulty)answer.Value.i;
                return;
            }
            Warn(at, ProblemCode.NotInterpretable, $"'{code?.Coding.FirstOrDefault()?.Code}' is not a PHQ-9 item; left out");
        }

        private static int? Score(DataType? value)
        {
            switch (value)
            {
                case CodeableConcept concept:
                    foreach (var coding in concept.Coding)
                    {
                        var index = Codes.Phq9Answers.Select((a, i) => (a.Code, i)).FirstOrDefault(a => a.Code == coding.Code);
                        if (index.Code is not null)
                            return index.i;
                        var ordinal = coding.GetExtensionValue<FhirDecimal>("http://hl7.org/fhir/StructureDefinition/ordinalValue")?.Value
                            ?? coding.GetExtensionValue<FhirDecimal>("http://hl7.org/fhir/StructureDefinition/itemWeight")?.Value;
                        if (ordinal is >= 0 and <= 3 && ordinal == Math.Floor(ordinal.Value))
                            return (int)ordinal.Value;
                    }
                    return null;
                default:
                    return Total(value) is { } n && n <= 3 ? n : null;
            }
        }

        private static int? Total(DataType? value)
        {
            decimal? number = value switch
            {
                Integer i => i.Value,
                Quantity q => q.Value,
                FhirString s when decimal.TryParse(s.Value?.Trim(), NumberStyles.Number, CultureInfo.InvariantCulture, out var d) => d,
                _ => null,
            };
            return number is >= 0 and <= 27 && number == Math.Floor(number.Value) ? (int)number.Value : null;
        }

        private List<Phq9Assessment> Finish(List<Draft> drafts)
        {
            var assessments = new List<Phq9Assessment>();
            foreach (var draft in drafts.OrderBy(d => d.Date))
            {
                if (assessments.Any(a => a.Date == draft.Date))
                {
                    Warn(draft.Location, ProblemCode.Duplicate, $"a second PHQ-9 on {draft.Date:yyyy-MM-dd}; the first one is kept");
                    continue;
                }
                var complete = draft.Items.All(i => i is not null);
                if (!complete && draft.Items.Any(i => i is not null))
                    Warn(draft.Location, ProblemCode.NotInterpretable, $"PHQ-9 on {draft.Date:yyyy-MM-dd} has {draft.Items.Count(i => i is not null)} of 9 item scores; items left out, total kept");
                var items = complete ? draft.Items.Select(i => i!.Value).ToArray() : null;
                if (items is not null && draft.Total is { } stated && stated != items.Sum())
                    Warn(draft.Location, ProblemCode.TotalMismatch, $"PHQ-9 on {draft.Date:yyyy-MM-dd}: stated total {stated} is not the item sum {items.Sum()}; the item sum is used");
                var total = items?.Sum() ?? draft.Total;
                if (total is null)
                {
                    Warn(draft.Location, ProblemCode.NotInterpretable, $"PHQ-9 on {draft.Date:yyyy-MM-dd} has neither nine item scores nor a total; left out");
                    continue;
                }
                assessments.Add(new Phq9Assessment(draft.Date, items, draft.Difficulty, total.Value));
            }
            return assessments;
        }
    }
}
