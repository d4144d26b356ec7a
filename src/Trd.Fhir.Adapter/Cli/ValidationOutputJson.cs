using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>--format json</c>: one OperationOutcome per input (per line for NDJSON inputs), one compact JSON document per
/// output line (NDJSON), so a run of any size streams. Each outcome names its input in the
/// <see cref="InputExtension"/> extension (sub-extensions <c>file</c> and, for NDJSON, <c>line</c>) and each issue
/// carries <c>location</c> = <c>file[:line[:column]]</c>. A valid input gets one information issue, since an
/// OperationOutcome needs at least one. Codings of large external code systems not checked offline (no <c>--tx</c>) follow
/// as <c>codes-not-checked-offline</c> extensions, one per system (<see cref="Trd.Fhir.Profiles.Validation.CodesNotCheckedOffline"/>).
/// </summary>
internal sealed class ValidationOutputJson(TextWriter stdout) : ValidationOutput
{
    public static readonly string InputExtension = Trd.Fhir.Profiles.Canonical.StructureDefinition("validation-input");

    /// <summary>On an issue inside a Bundle entry or contained resource: that resource, <c>Type/id</c> (or by fullUrl).</summary>
    public static readonly string ResourceExtension = Trd.Fhir.Profiles.Canonical.StructureDefinition("validation-resource");

    public override void Write(ValidationResult result)
    {
        var oo = result.Outcome;
        var input = new Extension { Url = InputExtension };
        input.Extension.Add(new Extension("file", new FhirString(result.File)));
        if (result.Line is { } line) input.Extension.Add(new Extension("line", new Integer(line)));
        oo.Extension.Insert(0, input); // first: the codings not checked offline, per system, follow (CodesNotCheckedOffline)
        for (var k = 0; k < oo.Issue.Count; k++)
        {
            var at = k < result.Positions.Count ? result.Positions[k] : null;
            var where = new Finding("", "", null, "", at?.Line ?? result.Line, at?.Column).Where(result.File);
            oo.Issue[k].Location = [where];
            if (result.Where(k).Resource is { } named) oo.Issue[k].Extension.Add(new Extension(ResourceExtension, new FhirString(named)));
        }
        if (oo.Issue.Count == 0)
        {
            oo.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Information,
                Code = OperationOutcome.IssueType.Informational,
                Details = new CodeableConcept { Text = "No issues: the resource conforms." },
                Location = [new Finding("", "", null, "", result.Line, null).Where(result.File)],
            });
        }
        stdout.WriteLine(FhirJson.Serialize(oo, pretty: false));
    }

    public override void Complete(ValidationTotals totals)
    {
    }
}
