using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>A patient by business identifier, as <c>system|value</c>.</summary>
public readonly record struct PatientKey(string System, string Value)
{
    /// <summary>Where the CLI and the API show an example.</summary>
    public const string Example = "https://hospital.example.org/mrn|12345";

    /// <summary><c>system|value</c>, both parts non-empty.</summary>
    public static bool TryParse(string? text, out PatientKey patient)
    {
        var bar = text?.IndexOf('|', StringComparison.Ordinal) ?? -1;
        var ok = text is not null && bar > 0 && bar < text.Length - 1;
        patient = ok ? new PatientKey(text![..bar], text[(bar + 1)..]) : default;
        return ok;
    }
}

/// <summary>A pull's outcome: the rebuilt protocol (null when none could be), what was read, notes and problems;
/// <see cref="PatientNotFound"/> when the server has no such patient.</summary>
public sealed record PulledProtocol(TrdProtocol? Protocol, int ResourcesRead, IReadOnlyList<string> Notes, IReadOnlyList<Problem> Problems)
{
    /// <summary>Every PHQ-9 with item 9 ≥ 1 met while reading (also in <see cref="Problems"/> as SafetySignal warnings).</summary>
    public IReadOnlyList<Phq9SafetySignal> SafetySignals { get; init; } = [];

    public bool PatientNotFound => Protocol is null && ResourcesRead == 0 && Problems.Any(p => p.Code == ProblemCode.UnknownReference && p.Path == "Patient");
}

/// <summary>The pull use case (CLI <c>pull</c> and <c>report --server</c>, API <c>GET /patients/{patient}/protocol</c> and
/// <c>…/report</c>): the patient's TRD resources from the FHIR server, read back into a protocol document.</summary>
public sealed class PullProtocol(PullWorkflow pull)
{
    public async Task<PulledProtocol> PullAsync(PatientKey patient, DateTimeOffset? since, CancellationToken cancellationToken)
    {
        var result = await pull.PullAsync(patient.System, patient.Value, since, cancellationToken);
        // Notices: every PHQ-9 safety signal (item 9 ≥ 1) and the unkeyed-id warning, shown with the problems, never dropped.
        return new PulledProtocol(result.Result.Protocol, result.ResourcesRead, result.Notes, [.. result.Result.Problems, .. result.Result.Notices])
        {
            SafetySignals = result.Result.SafetySignals,
        };
    }
}
