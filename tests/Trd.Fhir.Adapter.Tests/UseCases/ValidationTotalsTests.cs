using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>The totals of a validation run count what they say: files read, the resources in them, the invalid ones.</summary>
public sealed class ValidationTotalsTests
{
    private static OperationOutcome Outcome(params (OperationOutcome.IssueSeverity Severity, string? Expression)[] issues)
    {
        var oo = new OperationOutcome();
        foreach (var (severity, expression) in issues)
        {
            var issue = new OperationOutcome.IssueComponent { Severity = severity, Code = OperationOutcome.IssueType.Invalid, Details = new CodeableConcept { Text = "x" } };
            if (expression is not null) issue.Expression = [expression];
            oo.Issue.Add(issue);
        }
        return oo;
    }

    private static ValidationResult Result(string file, OperationOutcome outcome, int resources = 1, int? line = null, bool unreadable = false) =>
        new(file, line, null, outcome, [], [], unreadable) { ResourceCount = resources };

    private const OperationOutcome.IssueSeverity Error = OperationOutcome.IssueSeverity.Error;
    private const OperationOutcome.IssueSeverity Warning = OperationOutcome.IssueSeverity.Warning;

    [Fact]
    public void Add_BundleWithErrorsInTwoEntries_CountsItsEntriesAndTwoInvalid()
    {
        var totals = new ValidationTotals();

        totals.Add(Result("b.json", Outcome((Error, "Bundle.entry[3].resource.code"), (Error, "Bundle.entry[3].resource.status"), (Error, "Bundle.entry[7].resource"), (Warning, "Bundle.entry[1].resource")), resources: 109));

        Assert.Equal((1, 109, 2, 3, 1, 0), (totals.Files, totals.Resources, totals.Failed, totals.Errors, totals.Warnings, totals.Unreadable));
    }

    [Fact]
    public void Add_BundleLevelErrorOnly_CountsOneInvalid()
    {
        var totals = new ValidationTotals();

        totals.Add(Result("b.json", Outcome((Error, "Bundle.type")), resources: 40));

        Assert.Equal((1, 40, 1), (totals.Files, totals.Resources, totals.Failed));
    }

    [Fact]
    public void Add_NdjsonLinesOfOneFileThenAnotherFile_FilesCountOnceResourcesPerLine()
    {
        var totals = new ValidationTotals();

        totals.Add(Result("a.ndjson", Outcome(), line: 1));
        totals.Add(Result("a.ndjson", Outcome((Error, "Observation.value")), line: 2));
        totals.Add(Result("a.ndjson", Outcome(), line: 3));
        totals.Add(Result("missing.json", Outcome((OperationOutcome.IssueSeverity.Fatal, null)), unreadable: true));
        totals.Add(Result("c.json", Outcome((Warning, "Condition.code"))));

        Assert.Equal((2, 4, 1, 1, 1, 1), (totals.Files, totals.Resources, totals.Failed, totals.Errors, totals.Warnings, totals.Unreadable));
    }
}
