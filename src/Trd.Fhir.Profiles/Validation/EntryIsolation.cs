using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// When the validator throws on a Bundle as a whole, each entry still gets its own outcome: the Bundle is validated
/// without its entry resources, then every entry resource on its own (expressions re-rooted at
/// <c>Bundle.entry[i].resource</c>). An entry that throws too becomes one fatal issue at that entry; the others keep
/// their findings. In-bundle reference checks are lost in this fallback, which is said in an information issue.
/// </summary>
internal static class EntryIsolation
{
    public static OperationOutcome Validate(Bundle bundle, Func<Resource, OperationOutcome> validate, Exception first)
    {
        var oo = new OperationOutcome();
        oo.Issue.Add(new OperationOutcome.IssueComponent
        {
            Severity = OperationOutcome.IssueSeverity.Information,
            Code = OperationOutcome.IssueType.Informational,
            Details = new CodeableConcept { Text = $"The validator failed on the Bundle as a whole ({first.GetBaseException().Message}); its entries were validated one by one, without in-bundle reference checks." },
            Expression = ["Bundle"],
        });
        var shell = (Bundle)bundle.DeepCopy();
        foreach (var e in shell.Entry) e.Resource = null;
        oo.Issue.AddRange(Safe(shell, validate, "Bundle", "Bundle").Issue);
        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            if (bundle.Entry[i].Resource is not { } r) continue;
            oo.Issue.AddRange(Safe(r, validate, r.TypeName, $"Bundle.entry[{i}].resource").Issue);
        }
        return oo;
    }

    private static OperationOutcome Safe(Resource r, Func<Resource, OperationOutcome> validate, string root, string at)
    {
        OperationOutcome result;
        try
        {
            result = validate(r);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            result = new OperationOutcome();
            result.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Fatal,
                Code = OperationOutcome.IssueType.Exception,
                Details = new CodeableConcept { Text = $"Validation could not run on this resource: {ex.GetBaseException().Message}" },
                Expression = [root],
            });
        }
        if (root == at) return result;
        foreach (var issue in result.Issue)
        {
            issue.Expression = issue.Expression.Select(x => x is null || x == root ? at : x.StartsWith(root + ".", StringComparison.Ordinal) ? at + x[root.Length..] : x).ToList();
        }
        return result;
    }
}
