using System.Globalization;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// The default, for people: one line per error or warning, <c>file:line:column: severity code: expression: message</c>
/// (line = the NDJSON line, or where the expression points in a JSON file), then a one-line summary that says what it
/// counts: <c>validated 200 file(s), 21,800 resource(s): 3 invalid, …</c> (a Bundle counts its entries, see
/// <see cref="ValidationTotals"/>), preceded, when codings of large external code systems could not be checked offline,
/// by <c>codes not checked offline: N coding(s) in K system(s) (system count, …) — use --tx URL to check them</c>.
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
        var unreadable = totals.Unreadable == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $", {totals.Unreadable:N0} unreadable");
        if (totals.NotCheckedOfflineSummary() is { } note) stdout.WriteLine(note);
        var verdict = totals.Failed == 0 ? "all valid" : string.Create(CultureInfo.InvariantCulture, $"{totals.Failed:N0} invalid");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"validated {totals.Files:N0} file(s), {totals.Resources:N0} resource(s): {verdict}, {totals.Errors:N0} error(s), {totals.Warnings:N0} warning(s){unreadable}"));
    }
}
