namespace Trd.Fhir.Adapter.Protocol;

public enum ProblemSeverity { Error, Warning }

/// <summary>Every failure a user can cause has a code. Surfaces turn problems into OperationOutcome issues or CLI lines.</summary>
public enum ProblemCode
{
    InvalidJson,
    MissingProperty,
    UnknownProperty,
    WrongType,
    InvalidValue,
    UnknownCode,
    OutOfRange,
    Duplicate,
    UnknownReference,
    DateOrder,
    TotalMismatch,
    Inconsistent,
    SafetySignal,
    NotInterpretable,
}

/// <summary>
/// One problem, located by a path: a JSON path (<c>$.phq9[2].items[3]</c>) for protocol documents, a FHIRPath-like
/// location (<c>Bundle.entry[4].resource</c>) for FHIR input. <see cref="Line"/>/<see cref="Column"/> are set when known.
/// </summary>
public sealed record Problem(
    ProblemSeverity Severity,
    ProblemCode Code,
    string Path,
    string Message,
    string? Hint = null,
    int? Line = null,
    int? Column = null)
{
    public bool IsError => Severity == ProblemSeverity.Error;

    public override string ToString()
    {
        var where = Line is null ? Path : $"{Line}:{Column} {Path}";
        var hint = Hint is null ? "" : $" (fix: {Hint})";
        return $"{Severity.ToString().ToLowerInvariant()} {Code}: {where}: {Message}{hint}";
    }
}
