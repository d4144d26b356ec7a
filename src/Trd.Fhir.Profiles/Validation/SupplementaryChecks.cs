using System.Collections;
using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Store;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Rules of the FHIR specification the Firely engine does not check, run after it on the same instance and added to
/// its outcome (issue 12 item 3): Coding and Attachment rules, codes against their code systems, Bundle rules,
/// QuestionnaireResponse against its Questionnaire, definition resources' consistency. Each rule family lives in its own file; every one is a single pass over the instance.
/// </summary>
internal sealed class SupplementaryChecks(TrdResolver resolver, bool unknownAsWarning, RemoteTerminology? remote = null, bool reportNotChecked = false, bool countNotChecked = false)
{
    /// <summary>Unknown extensions under these URL prefixes are warnings (<see cref="TrdValidatorOptions.AllowedExtensionPrefixes"/>).</summary>
    public IReadOnlyList<string> AllowedExtensionPrefixes { get; init; } = [];

    private readonly CodeRules _codes = new(resolver, remote, reportNotChecked);
    private readonly DefinitionRules _definitions = new(resolver);
    private readonly ExtensionRules _extensions = new(resolver);

    public void Apply(OperationOutcome oo, Resource instance)
    {
        if (unknownAsWarning) UnknownArtifacts.Consolidate(oo, AllowedExtensionPrefixes);
        NarrativeRules.RelaxMissingAlt(oo);
        var found = new List<OperationOutcome.IssueComponent>();
        var questionnaires = new QuestionnaireResponseRules(resolver, instance);
        var engineErrors = EngineErrors(oo);
        var codes = _codes.Begin(engineErrors);
        foreach (var (path, node) in Walk(instance, instance.TypeName))
        {
            try
            {
                if (node is Extension extension) _extensions.Check(extension, path, engineErrors, found);
                else Dispatch(node, path, questionnaires, codes, _definitions, engineErrors, found);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // the POCO holds what the lenient parser kept (e.g. a wrong-typed primitive): the engine reports that already
                found.Add(Issue(OperationOutcome.IssueSeverity.Information, OperationOutcome.IssueType.Informational, "check-skipped",
                    $"A supplementary check could not read this element ({e.GetBaseException().Message}); it was skipped.", path));
            }
        }
        codes.Complete(found);
        oo.Issue.AddRange(found);
        if (countNotChecked) CodesNotCheckedOffline.Attach(oo, codes.NotCheckedOffline);
    }

    private static void Dispatch(Base node, string path, QuestionnaireResponseRules questionnaires, CodeRules.Scope codes, DefinitionRules definitions, HashSet<string> engineErrors, List<OperationOutcome.IssueComponent> found)
    {
            if (node is IVersionableConformanceResource conformance) DefinitionRules.CanonicalUrl(conformance, path, found);
            switch (node)
            {
                case Coding c:
                    if (DataTypeRules.Coding(c, path, found)) codes.Coding(c, path, found);
                    break;
                case Attachment a:
                    DataTypeRules.Attachment(a, path, found);
                    break;
                case Bundle b:
                    BundleRules.Check(b, path, found);
                    break;
                case QuestionnaireResponse qr:
                    questionnaires.Check(qr, path, found);
                    break;
                case Questionnaire.ItemComponent item:
                    DefinitionRules.QuestionnaireItem(item, path, found);
                    break;
                case CodeSystem cs:
                    DefinitionRules.CodeSystem(cs, path, found);
                    break;
                case ValueSet vs:
                    definitions.ValueSet(vs, path, found);
                    break;
                case SearchParameter sp:
                    definitions.SearchParam(sp, path, found);
                    break;
                case OperationDefinition op:
                    DefinitionRules.Operation(op, path, found);
                    break;
                case StructureDefinition sd:
                    definitions.Structure(sd, path, found);
                    break;
                case XHtml div:
                    NarrativeRules.Div(div, path, engineErrors, found);
                    break;
                case Markdown md:
                    NarrativeRules.Markdown(md, path, found);
                    break;
            }
    }

    /// <summary>The paths the engine reported an error or fatal issue at: the rules leave those elements alone (a code, a
    /// narrative or a nested extension already found invalid is not reported twice).</summary>
    private static HashSet<string> EngineErrors(OperationOutcome engineOutcome)
    {
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var i in engineOutcome.Issue)
        {
            if (i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal) reported.UnionWith(i.Expression.OfType<string>());
        }
        return reported;
    }

    /// <summary>Every element of the instance with its FHIRPath (list items indexed), contained and entry resources included.</summary>
    internal static IEnumerable<(string Path, Base Node)> Walk(Base root, string rootPath)
    {
        var stack = new Stack<(string, Base)>();
        stack.Push((rootPath, root));
        while (stack.Count > 0)
        {
            var (path, node) = stack.Pop();
            yield return (path, node);
            if (node is PrimitiveType) continue;
            var children = new List<(string, Base)>();
            foreach (var (name, value) in node.EnumerateElements())
            {
                if (value is Base single)
                    children.Add(($"{path}.{name}", single));
                else if (value is IEnumerable list and not string)
                {
                    var i = 0;
                    foreach (var item in list)
                    {
                        if (item is Base b) children.Add(($"{path}.{name}[{i}]", b));
                        i++;
                    }
                }
            }
            for (var k = children.Count - 1; k >= 0; k--) stack.Push(children[k]);
        }
    }

    internal static OperationOutcome.IssueComponent Issue(OperationOutcome.IssueSeverity severity, OperationOutcome.IssueType type, string rule, string message, string path) => new()
    {
        Severity = severity,
        Code = type,
        Details = new CodeableConcept("https://trd-fhir.example.org/fhir/CodeSystem/validation-rule", rule, message),
        Expression = [path],
    };
}
