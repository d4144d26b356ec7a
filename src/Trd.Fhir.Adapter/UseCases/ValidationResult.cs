using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Utility;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>
/// The outcome of validating one input unit: a file (a resource or a Bundle) or one NDJSON line. <see cref="Positions"/>
/// runs parallel to <c>Outcome.Issue</c>: where in the file each issue points, when known.
/// </summary>
public sealed record ValidationResult(
    string File,
    int? Line,
    string? Label,
    OperationOutcome Outcome,
    IReadOnlyList<(int Line, int Column)?> Positions,
    IReadOnlyList<string> EntryLabels,
    bool Unreadable = false,
    IReadOnlyList<(string Expression, string? Resource)?>? Resources = null)
{
    /// <summary>Issue <paramref name="k"/>'s expression with the Bundle entry / contained resource it points into named
    /// (<c>Bundle.entry[2].resource/*Observation/abc*/.value</c>), and that resource; else the plain expression.</summary>
    public (string? Expression, string? Resource) Where(int k) =>
        Resources is not null && k < Resources.Count && Resources[k] is { } r ? r : (Outcome.Issue[k].Expression.FirstOrDefault(), null);

    public bool HasErrors => Outcome.Issue.Any(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal);

    /// <summary>The resources this unit holds: a Bundle counts its entries (an empty one counts as itself), any other
    /// resource — or an NDJSON line that could not be read as one — counts once.</summary>
    public int ResourceCount { get; init; } = 1;

    /// <summary>The resources of this unit with an error or fatal issue: in a Bundle, the entries the errors point into (an
    /// error on the Bundle itself counts once when no entry has one); otherwise 1 or 0.</summary>
    public int InvalidResources
    {
        get
        {
            if (!HasErrors) return 0;
            var entries = Findings().Where(f => f.IsError).Select(f => f.EntryIndex).OfType<int>().Distinct().Count();
            return Math.Clamp(entries, 1, Math.Max(1, ResourceCount));
        }
    }

    /// <summary>Error, fatal and warning issues with their position (information issues are left to the JSON format).</summary>
    public IEnumerable<Finding> Findings()
    {
        for (var k = 0; k < Outcome.Issue.Count; k++)
        {
            var issue = Outcome.Issue[k];
            if (issue.Severity is not (OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal or OperationOutcome.IssueSeverity.Warning))
                continue;
            var at = k < Positions.Count ? Positions[k] : null;
            yield return new Finding(
                issue.Severity.GetLiteral() ?? "error",
                Finding.CodeOf(issue),
                Where(k).Expression,
                Finding.MessageOf(issue),
                at?.Line ?? Line,
                at?.Column);
        }
    }
}

/// <summary>One issue as the text, JUnit and SARIF formats print it.</summary>
public readonly partial record struct Finding(string Severity, string Code, string? Expression, string Message, int? Line, int? Column)
{
    public bool IsError => Severity is "error" or "fatal";

    /// <summary>The <c>file[:line[:column]]</c> prefix editors and CI logs link.</summary>
    public string Where(string file) => Line is not { } line ? file : Column is { } column ? $"{file}:{line}:{column}" : $"{file}:{line}";

    public static string CodeOf(OperationOutcome.IssueComponent issue) => issue.Code?.GetLiteral() ?? "processing";

    public static string MessageOf(OperationOutcome.IssueComponent issue) =>
        JsonReaderPosition().Replace(issue.Details?.Text ?? issue.Diagnostics ?? issue.Details?.Coding.FirstOrDefault()?.Code ?? "(no message)", "");

    /// <summary>System.Text.Json's own " LineNumber: 0 | BytePositionInLine: 32." suffix: the position is reported separately.</summary>
    [GeneratedRegex(@" ?LineNumber: \d+ \| BytePositionInLine: \d+\.?")]
    private static partial Regex JsonReaderPosition();

    /// <summary>The Bundle entry an expression points into (<c>Bundle.entry[3].resource…</c> → 3), or null.</summary>
    public int? EntryIndex
    {
        get
        {
            const string prefix = "Bundle.entry[";
            if (Expression is not { } e || !e.StartsWith(prefix, StringComparison.Ordinal)) return null;
            var close = e.IndexOf(']', prefix.Length);
            return close > 0 && int.TryParse(e.AsSpan(prefix.Length, close - prefix.Length), out var n) ? n : null;
        }
    }
}

/// <summary>Totals over a run, printed by the text format and used for the exit code. <see cref="Files"/> counts the files
/// that were read (an unreadable or missing one is counted in <see cref="Unreadable"/> instead), <see cref="Resources"/> the
/// resources in them (a Bundle counts its entries, an NDJSON file its lines), <see cref="Failed"/> those with an error.
/// Results arrive in input order, so the lines of one NDJSON file come together.</summary>
public sealed class ValidationTotals
{
    private readonly Dictionary<string, long> _notChecked = new(StringComparer.Ordinal);
    private string? _lastFile;

    public int Resources { get; private set; }
    public int Files { get; private set; }
    public int Failed { get; private set; }
    public int Errors { get; private set; }
    public int Warnings { get; private set; }
    public int Unreadable { get; private set; }

    public void Add(ValidationResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.Unreadable)
        {
            Unreadable++;
            return;
        }
        if (!string.Equals(r.File, _lastFile, StringComparison.Ordinal))
        {
            Files++;
            _lastFile = r.File;
        }
        Resources += r.ResourceCount;
        Failed += r.InvalidResources;
        foreach (var (system, count) in Trd.Fhir.Profiles.Validation.CodesNotCheckedOffline.Read(r.Outcome))
            _notChecked[system] = _notChecked.GetValueOrDefault(system) + count;
        foreach (var f in r.Findings())
        {
            if (f.IsError) Errors++;
            else Warnings++;
        }
    }

    /// <summary>Codings of large external code systems (SNOMED CT, LOINC, …) not checked in this run, per system, most first.</summary>
    public IReadOnlyList<(string System, long Count)> NotCheckedOffline =>
        _notChecked.OrderByDescending(n => n.Value).ThenBy(n => n.Key, StringComparer.Ordinal).Select(n => (n.Key, n.Value)).ToList();

    /// <summary>The run's note on codes not checked offline, or null when every coding was checked (or none was there):
    /// <c>codes not checked offline: 1,234 coding(s) in 2 system(s) (http://loinc.org 1,200, http://snomed.info/sct 34) — use --tx URL to check them</c>.</summary>
    public string? NotCheckedOfflineSummary()
    {
        var systems = NotCheckedOffline;
        if (systems.Count == 0) return null;
        var each = string.Join(", ", systems.Select(s => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{s.System} {s.Count:N0}")));
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"codes not checked offline: {systems.Sum(s => s.Count):N0} coding(s) in {systems.Count} system(s) ({each}) — use --tx URL to check them");
    }
}
