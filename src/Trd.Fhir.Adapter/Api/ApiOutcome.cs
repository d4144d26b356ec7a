using System.Text;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using Microsoft.AspNetCore.Http;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Api;

/// <summary>Every error the API answers is an <see cref="OperationOutcome"/> (application/fhir+json) with a fitting status.</summary>
public static class ApiOutcome
{
    public const string FhirJson = "application/fhir+json";

    /// <summary>The system of <c>issue.details.coding</c> for protocol problem codes (<see cref="ProblemCode"/>).</summary>
    public const string ProblemCodeSystem = "https://trd-fhir.example.org/fhir/CodeSystem/problem-code";

    public static OperationOutcome Issue(OperationOutcome.IssueType type, string message, string? expression = null, OperationOutcome.IssueSeverity severity = OperationOutcome.IssueSeverity.Error)
    {
        var issue = new OperationOutcome.IssueComponent { Severity = severity, Code = type, Details = new CodeableConcept { Text = message } };
        if (expression is not null)
            issue.Expression = [expression];
        return new OperationOutcome { Issue = [issue] };
    }

    /// <summary>Protocol problems as issues: <c>expression</c> = the JSON path, <c>details.text</c> = the message,
    /// <c>diagnostics</c> = line/column and the fix.</summary>
    public static OperationOutcome From(IEnumerable<Problem> problems)
    {
        var outcome = new OperationOutcome();
        foreach (var p in problems)
        {
            var diagnostics = new StringBuilder();
            if (p.Line is { } line)
                diagnostics.Append("line ").Append(line).Append(", column ").Append(p.Column);
            if (p.Hint is not null)
                diagnostics.Append(diagnostics.Length > 0 ? "; " : "").Append("fix: ").Append(p.Hint);
            outcome.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = p.IsError ? OperationOutcome.IssueSeverity.Error : OperationOutcome.IssueSeverity.Warning,
                Code = TypeOf(p.Code),
                Details = new CodeableConcept(ProblemCodeSystem, p.Code.ToString(), p.Message),
                Diagnostics = diagnostics.Length > 0 ? diagnostics.ToString() : null,
                Expression = [p.Path],
            });
        }
        return outcome;
    }

    private static OperationOutcome.IssueType TypeOf(ProblemCode code) => code switch
    {
        ProblemCode.InvalidJson or ProblemCode.WrongType or ProblemCode.UnknownProperty => OperationOutcome.IssueType.Structure,
        ProblemCode.MissingProperty => OperationOutcome.IssueType.Required,
        ProblemCode.InvalidValue or ProblemCode.OutOfRange => OperationOutcome.IssueType.Value,
        ProblemCode.UnknownCode => OperationOutcome.IssueType.CodeInvalid,
        ProblemCode.Duplicate => OperationOutcome.IssueType.Duplicate,
        ProblemCode.UnknownReference => OperationOutcome.IssueType.NotFound,
        ProblemCode.SafetySignal => OperationOutcome.IssueType.Informational,
        ProblemCode.NotInterpretable => OperationOutcome.IssueType.NotSupported,
        _ => OperationOutcome.IssueType.BusinessRule,
    };

    public static bool HasErrors(OperationOutcome outcome) =>
        outcome.Issue.Any(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal);

    /// <summary>A FHIR resource as the response (application/fhir+json).</summary>
    public static IResult Fhir(Resource resource, int status = StatusCodes.Status200OK) =>
        Results.Text(Mapping.FhirJson.Serialize(resource), FhirJson, Encoding.UTF8, status);

    public static IResult Error(int status, OperationOutcome.IssueType type, string message, string? expression = null) =>
        Fhir(Issue(type, message, expression), status);

    /// <summary>Writes an outcome directly (middleware, auth challenges, rate-limit rejections).</summary>
    public static Task WriteAsync(HttpContext context, int status, OperationOutcome outcome)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = FhirJson;
        return context.Response.WriteAsync(Mapping.FhirJson.Serialize(outcome), context.RequestAborted);
    }
}
