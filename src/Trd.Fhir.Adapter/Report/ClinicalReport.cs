using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Report;

/// <summary>One issue the validator raised on the mapped Bundle (errors, warnings; information is left out).</summary>
public sealed record ValidationFinding(string Severity, string Where, string Message)
{
    public static IReadOnlyList<ValidationFinding> From(OperationOutcome outcome) => outcome.Issue
        .Where(i => i.Severity is not OperationOutcome.IssueSeverity.Information)
        .Select(i => new ValidationFinding(
            i.Severity?.ToString().ToLowerInvariant() ?? "error",
            string.Join(", ", i.Expression),
            i.Details?.Text ?? i.Diagnostics ?? ""))
        .ToList();
}

/// <summary>
/// What a report shows: the protocol (for the timeline), its clinical read-out, and the validation of its mapped Bundle
/// (with the clinical resources added). <see cref="ResourceCount"/> is the number of entries validated.
/// </summary>
public sealed record ClinicalReport(TrdProtocol Protocol, ClinicalReadout Readout, int ResourceCount, IReadOnlyList<ValidationFinding> Validation)
{
    /// <summary>The report of <paramref name="protocol"/>: its mapped Bundle with the clinical resources of
    /// <paramref name="readout"/> added, validated by <paramref name="validateBundle"/> (the caller's validator; Clinical stays pure).</summary>
    public static ClinicalReport Build(TrdProtocol protocol, ClinicalReadout readout, Identity identity, Func<Bundle, OperationOutcome> validateBundle)
    {
        ArgumentNullException.ThrowIfNull(validateBundle);
        var bundle = new ClinicalToFhir(identity).AddTo(new ProtocolToFhir(identity).Map(protocol), protocol, readout);
        return new ClinicalReport(protocol, readout, bundle.Entry.Count, ValidationFinding.From(validateBundle(bundle)));
    }

    public int Errors => Validation.Count(v => v.Severity is "error" or "fatal");

    public int Warnings => Validation.Count(v => v.Severity == "warning");

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    /// <summary>The report as JSON: the same numbers as the HTML (read-out records as they are, enum values in kebab-case).</summary>
    public string ToJson() => JsonSerializer.Serialize(new
    {
        protocolId = Readout.ProtocolId,
        patient = new { system = Protocol.Patient.System, value = Protocol.Patient.Value },
        asOf = Readout.AsOf,
        baselineRule = Readout.Outcome.Rule.ToString(),
        phq9 = Readout.Phq9,
        outcome = new
        {
            baseline = Readout.Outcome.Baseline is { } b ? new { date = b.Date, total = b.Total } : null,
            latest = Readout.Outcome.Latest is { } l ? new { date = l.Date, total = l.Total } : null,
            improvementPercent = Readout.Outcome.ImprovementPercent,
            responseThreshold = Readout.Outcome.ResponseThreshold,
            remissionBelow = Phq9Scoring.RemissionBelow,
            response = Readout.Outcome.Response,
            remission = Readout.Outcome.Remission,
            note = Readout.Outcome.Note,
        },
        safetySignals = Readout.SafetySignals,
        adherence = Readout.Adherence.Select(c => new
        {
            c.InterventionId, c.Kind, c.Phase, c.Schedule, c.Planned, c.Start, c.Until, c.ExpectedToDate, c.Delivered, c.Missed, c.Stopped, c.Shortfall, c.State,
        }),
        gates = Readout.Gates.Select(g => new
        {
            g.Phase, g.State, minimumDuration = g.MinimumDuration, g.Start, g.EvaluatedOn, g.GateDate, g.WeeksInPhase,
            baselineTotal = g.Baseline?.Total, latestTotal = g.Latest?.Total, latestDate = g.Latest?.Date, g.ImprovementPercent, g.NextPhaseStarted,
        }),
        hints = Readout.Hints,
        staging = new
        {
            trials = Readout.Staging.Trials.Select(t => new
            {
                t.Trial.Drug, drugClass = t.Class, t.Trial.DailyDoseMg, t.Trial.Weeks, outcome = t.Trial.Outcome, t.MinimumAdequateDailyMg,
                t.AdequateDose, t.AdequateDuration, t.Adequate, t.Failed, t.FailedAdequate, t.Reason,
            }),
            Readout.Staging.FailedAdequateTrials,
            trd = Readout.Staging.Trd,
            thaseRush = new { stage = Readout.Staging.ThaseRushStage, roman = Readout.Staging.ThaseRushRoman, basis = Readout.Staging.ThaseRushBasis },
            maudsley = Readout.Staging.Maudsley is { } m ? new
            {
                m.Total, m.Band, m.DurationMonths, m.DurationScore, m.BaselineBand, m.PsychoticFeatures, m.SeverityScore, m.Failures, m.FailureScore,
                augmentation = m.Augmentation ? 1 : 0, ect = m.Ect ? 1 : 0,
            } : null,
            maudsleyNotComputed = Readout.Staging.MaudsleyNotComputed,
        },
        validation = new { resources = ResourceCount, errors = Errors, warnings = Warnings, findings = Validation },
    }, Json) + "\n";
}
