using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// The default, for people: one line per error or warning, <c>file:line:column: severity code: expression: message</c>
/// (line = the NDJSON line, or where the expression points in a JSON file), then a one-line summary.
/// </summary>
internal sealed class ValidationOutputText(TextWriter stdout) : ValidationOutput
{
    public override void Write(ValidationResult result)
    {
        if (result.Unreadable) return; // said on stderr, with the fix, by the command
        foreach (var f in result.Findings())
        {
            var expression = f.Expression is null ? "" : $"{f.Expression}: ";
            stdout.WriteLine($"{f.Where(result.File)}: {f.Severity} {f.Code}: {expression}{f.Message}");
        }
    }

    public override void Complete(ValidationTotals totals)
    {
        var unreadable = totals.Unreadable == 0 ? "" : $", {totals.Unreadable} unreadable";
        var verdict = totals.Failed == 0 ? "all valid" : $"{totals.Failed} invalid";
        stdout.WriteLine($"validated {totals.Resources} resource(s) in {totals.Files} file(s): {verdict}, {totals.Errors} error(s), {totals.Warnings} warning(s){unreadable}");
    }
}
