using Hl7.Fhir.Model;
using Hl7.Fhir.Utility;
using Trd.Fhir.Profiles.Store;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Internal consistency of definition resources beyond their FHIRPath invariants (which the Firely engine runs: csd-1
/// unique codes, sdf-8a differential paths start with the type, …):
/// <list type="bullet">
/// <item>CodeSystem (codesystem.html): <c>count</c> of a complete code system = its concepts, children included;
/// <c>content = not-present</c> carries no concepts; a <c>supplements</c> code system has <c>content = supplement</c>;
/// <c>concept.property.code</c> "is a reference to CodeSystem.property.code"; a <c>parent</c>/<c>child</c> property
/// names a code of this code system;</item>
/// <item>ValueSet (valueset.html#compose), for an included system we hold complete: <c>include.concept.code</c> is a code
/// of it; <c>filter.property</c> is "a property or a filter defined in the code system" (or <c>concept</c>/<c>code</c>);
/// the value of a hierarchy filter (is-a, descendent-of, is-not-a, generalizes) is a code of it;</item>
/// <item>SearchParameter, OperationDefinition, StructureDefinition: see DefinitionSearchParameter.cs, DefinitionOperation.cs,
/// DefinitionStructure.cs;</item>
/// <item>Questionnaire: que-12 as HL7 corrected it ("If there are more than one enableWhen, enableBehavior must be
/// specified": R4 4.0.1 wrote <c>count() &gt; 2</c>, the reference checks <c>&gt; 1</c>).</item>
/// </list>
/// </summary>
internal sealed partial class DefinitionRules(TrdResolver resolver)
{
    /// <summary>The resolver, for the other parts of this class (DefinitionSearchParameter.cs, DefinitionStructure.cs).</summary>
    private TrdResolver Resolver => resolver;

    /// <summary>Concept properties the specification defines for every code system (codesystem-concept-properties).</summary>
    private static readonly HashSet<string> StandardProperties = new(StringComparer.Ordinal)
    {
        "inactive", "deprecated", "notSelectable", "parent", "child", "status", "deprecationDate", "retirementDate",
    };

    private static readonly HashSet<FilterOperator> HierarchyOperators =
        [FilterOperator.IsA, FilterOperator.DescendentOf, FilterOperator.IsNotA, FilterOperator.Generalizes];

    public static void CodeSystem(CodeSystem cs, string path, List<IssueComponent> found)
    {
        var all = new List<(CodeSystem.ConceptDefinitionComponent Concept, string Path)>();
        var stack = new Stack<(CodeSystem.ConceptDefinitionComponent, string)>();
        for (var i = cs.Concept.Count - 1; i >= 0; i--) stack.Push((cs.Concept[i], $"{path}.concept[{i}]"));
        while (stack.Count > 0)
        {
            var (c, p) = stack.Pop();
            all.Add((c, p));
            for (var i = c.Concept.Count - 1; i >= 0; i--) stack.Push((c.Concept[i], $"{p}.concept[{i}]"));
        }

        if (cs.Count is { } count && cs.Content == CodeSystemContentMode.Complete && count != all.Count)
            found.Add(Error(IssueType.Invalid, "cs-count", $"CodeSystem.count is {count}, but this complete code system defines {all.Count} concept(s) (children included).", path + ".count"));
        if (cs.Content == CodeSystemContentMode.NotPresent && cs.Concept.Count > 0)
            found.Add(Error(IssueType.Invalid, "cs-not-present", "A code system with content 'not-present' must not list concepts.", path + ".concept[0]"));
        if (cs.Supplements is { Length: > 0 } && cs.Content is { } content && content != CodeSystemContentMode.Supplement)
            found.Add(Error(IssueType.BusinessRule, "cs-supplement", $"A code system that supplements another must have content 'supplement', not '{content.GetLiteral()}'.", path + ".content"));

        var declared = cs.Property.Select(p => p.Code).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var codes = all.Select(a => a.Concept.Code).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var (concept, p) in all)
        {
            for (var k = 0; k < concept.Property.Count; k++)
            {
                var prop = concept.Property[k];
                if (prop.Code is not { } code) continue;
                if (!declared.Contains(code) && !StandardProperties.Contains(code))
                    found.Add(Error(IssueType.BusinessRule, "cs-property-undeclared", $"Concept '{concept.Code}' has property '{code}', which the code system does not declare in CodeSystem.property.", $"{p}.property[{k}].code"));
                if (code is "parent" or "child" && cs.Content == CodeSystemContentMode.Complete && prop.Value is Code { Value: { } target } && !codes.Contains(target))
                    found.Add(Error(IssueType.BusinessRule, "cs-hierarchy", $"Concept '{concept.Code}' names '{target}' as its {code}, which is not a code of this code system.", $"{p}.property[{k}].value"));
            }
        }
    }

    public void ValueSet(ValueSet vs, string path, List<IssueComponent> found)
    {
        if (vs.Compose is not { } compose) return;
        Include(compose.Include, $"{path}.compose.include", found);
        Include(compose.Exclude, $"{path}.compose.exclude", found);
    }

    private void Include(List<ValueSet.ConceptSetComponent> sets, string path, List<IssueComponent> found)
    {
        for (var i = 0; i < sets.Count; i++)
        {
            var set = sets[i];
            if (set.System is not { Length: > 0 } system || !resolver.ResolvesWithoutZip(system)) continue;
            if (resolver.Resolve(system) is not CodeSystem { Content: CodeSystemContentMode.Complete } cs) continue;
            var codes = Codes(cs);
            for (var k = 0; k < set.Concept.Count; k++)
            {
                if (set.Concept[k].Code is { } code && !codes.Contains(code))
                    found.Add(Error(IssueType.CodeInvalid, "vs-code-unknown", $"The code '{code}' is not valid in the system {system}.", $"{path}[{i}].concept[{k}].code"));
            }
            var properties = cs.Property.Select(p => p.Code).Concat(cs.Filter.Select(f => f.Code)).OfType<string>()
                .Concat(["concept", "code"]).ToHashSet(StringComparer.Ordinal);
            for (var k = 0; k < set.Filter.Count; k++)
            {
                var filter = set.Filter[k];
                if (filter.Property is { } property && !properties.Contains(property) && !StandardProperties.Contains(property))
                    found.Add(Error(IssueType.BusinessRule, "vs-filter-property", $"The filter property '{property}' is neither a property nor a filter of the code system {system}.", $"{path}[{i}].filter[{k}].property"));
                else if (filter.Property is "concept" or "code" && filter.Op is { } op && HierarchyOperators.Contains(op) && filter.Value is { } value && !codes.Contains(value))
                    found.Add(Error(IssueType.CodeInvalid, "vs-filter-value", $"The filter value '{value}' ({op.GetLiteral()}) is not a code of the code system {system}.", $"{path}[{i}].filter[{k}].value"));
            }
        }
    }

    /// <summary>The <c>url</c> of a canonical resource is "an absolute URI" (resource.html#canonical, the definition of every
    /// canonical resource's <c>url</c>): a relative one (e.g. <c>ValueSet/x</c>), also in a contained resource, cannot be
    /// referenced by canonical — error, as the HL7 validator reports it.</summary>
    public static void CanonicalUrl(IVersionableConformanceResource resource, string path, List<IssueComponent> found)
    {
        if (resource.Url is not { Length: > 0 } url) return;
        if (DataTypeRules.IsAbsoluteUri(url)) return;
        found.Add(Error(IssueType.Invalid, "canonical-url-absolute",
            $"The canonical URL of this {((Resource)resource).TypeName} must be an absolute URI (e.g. http://example.org/fhir/{((Resource)resource).TypeName}/x or urn:uuid:…), not '{url}'.", path + ".url"));
    }

    /// <summary>que-12 as corrected: more than one enableWhen needs enableBehavior.</summary>
    public static void QuestionnaireItem(Questionnaire.ItemComponent item, string path, List<IssueComponent> found)
    {
        if (item.EnableWhen.Count > 1 && item.EnableBehavior is null)
            found.Add(Error(IssueType.Invariant, "que-12", $"Item '{item.LinkId}' has {item.EnableWhen.Count} enableWhen conditions but no enableBehavior (que-12: if there are more than one enableWhen, enableBehavior must be specified).", path));
    }

    /// <summary>Every code of <paramref name="cs"/>, nested concepts included, compared as the system says (caseSensitive).</summary>
    internal static HashSet<string> Codes(CodeSystem cs)
    {
        var codes = new HashSet<string>(cs.CaseSensitive == false ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        var stack = new Stack<CodeSystem.ConceptDefinitionComponent>(cs.Concept);
        while (stack.Count > 0)
        {
            var c = stack.Pop();
            if (c.Code is { } code) codes.Add(code);
            foreach (var child in c.Concept) stack.Push(child);
        }
        return codes;
    }

    private static IssueComponent Error(IssueType type, string rule, string message, string path) =>
        SupplementaryChecks.Issue(IssueSeverity.Error, type, rule, message, path);
}
