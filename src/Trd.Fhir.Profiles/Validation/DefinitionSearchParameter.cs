using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Hl7.Fhir.Utility;
using Hl7.FhirPath;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// SearchParameter (searchparameter.html, search.html), beyond what the engine checks (the <c>base</c>/<c>target</c>
/// resource types through their required bindings, spd-1, a <c>component</c> without <c>definition</c>):
/// <list type="bullet">
/// <item><c>expression</c> is FHIRPath (fhirpath.html): it must parse — error (the HL7 validator compiles it too);</item>
/// <item><c>derivedFrom</c> "the definition … this search parameter was derived from": when it resolves, the same
/// <c>type</c>, and every <c>base</c> is a base of it — error; when it does not resolve, a warning (the derivation is not
/// checked);</item>
/// <item>a <c>composite</c> parameter defines its <c>component</c>s, and only a composite has them; <c>comparator</c>
/// (search.html#prefix: the prefixes apply to number, date and quantity), <c>modifier</c> (search.html#modifiers: by
/// type), <c>target</c> and <c>chain</c> (reference parameters only) consistent with <c>type</c> — warnings: R4 states no
/// invariant for them.</item>
/// </list>
/// Parse verdicts are cached per expression for the process.
/// </summary>
internal sealed partial class DefinitionRules
{
    private static readonly ConcurrentDictionary<string, string?> ParsedExpressions = new(StringComparer.Ordinal);

    private static readonly HashSet<SearchParamType> Prefixed = [SearchParamType.Number, SearchParamType.Date, SearchParamType.Quantity];

    /// <summary>search.html#modifiers (R4): the modifiers each type of parameter takes (<c>missing</c>: all of them).</summary>
    private static readonly Dictionary<SearchParamType, SearchParameter.SearchModifierCode[]> Modifiers = new()
    {
        [SearchParamType.String] = [SearchParameter.SearchModifierCode.Exact, SearchParameter.SearchModifierCode.Contains],
        [SearchParamType.Token] = [SearchParameter.SearchModifierCode.Text, SearchParameter.SearchModifierCode.Not, SearchParameter.SearchModifierCode.Above,
            SearchParameter.SearchModifierCode.Below, SearchParameter.SearchModifierCode.In, SearchParameter.SearchModifierCode.NotIn, SearchParameter.SearchModifierCode.OfType],
        [SearchParamType.Reference] = [SearchParameter.SearchModifierCode.Type, SearchParameter.SearchModifierCode.Identifier, SearchParameter.SearchModifierCode.Above, SearchParameter.SearchModifierCode.Below],
        [SearchParamType.Uri] = [SearchParameter.SearchModifierCode.Above, SearchParameter.SearchModifierCode.Below],
    };

    public void SearchParam(SearchParameter sp, string path, List<IssueComponent> found)
    {
        if (sp.Expression is { Length: > 0 } expression && ParseError(expression) is { } why)
            found.Add(Error(IssueType.Invalid, "sp-expression", $"SearchParameter.expression '{Shorten(expression)}' is not a valid FHIRPath expression: {why}", path + ".expression"));

        if (sp.Type is not { } type) return;
        var literal = type.GetLiteral();
        if (type == SearchParamType.Composite && sp.Component.Count == 0)
            found.Add(Warning(IssueType.Incomplete, "sp-composite", "A composite search parameter should define its components (SearchParameter.component): without them it cannot be used.", path + ".type"));
        if (type != SearchParamType.Composite && sp.Component.Count > 0)
            found.Add(Warning(IssueType.BusinessRule, "sp-composite", $"Only a composite search parameter has components; this one is of type '{literal}'.", path + ".component[0]"));
        if (!Prefixed.Contains(type))
        {
            var comparators = sp.Comparator.ToList();
            for (var k = 0; k < comparators.Count; k++)
            {
                if (comparators[k] is { } comparator && comparator != SearchParameter.SearchComparator.Eq)
                    found.Add(Warning(IssueType.BusinessRule, "sp-comparator", $"The comparator '{comparator.GetLiteral()}' applies to number, date and quantity parameters (search.html#prefix), not to a {literal} parameter.", $"{path}.comparator[{k}]"));
            }
        }
        if (type != SearchParamType.Special)
        {
            var allowed = Modifiers.GetValueOrDefault(type) ?? [];
            var modifiers = sp.Modifier.ToList();
            for (var k = 0; k < modifiers.Count; k++)
            {
                if (modifiers[k] is { } modifier && modifier != SearchParameter.SearchModifierCode.Missing && !allowed.Contains(modifier))
                    found.Add(Warning(IssueType.BusinessRule, "sp-modifier", $"The modifier ':{modifier.GetLiteral()}' does not apply to a {literal} parameter (search.html#modifiers).", $"{path}.modifier[{k}]"));
            }
        }
        if (type != SearchParamType.Reference && sp.Target.Any())
            found.Add(Warning(IssueType.BusinessRule, "sp-target", $"SearchParameter.target names the types a reference parameter points to; this one is of type '{literal}'.", path + ".target[0]"));
        if (type != SearchParamType.Reference && sp.Chain.Any())
            found.Add(Warning(IssueType.BusinessRule, "sp-chain", $"Only a reference parameter can be chained; this one is of type '{literal}'.", path + ".chain[0]"));

        if (sp.DerivedFrom is { Length: > 0 } derivedFrom)
        {
            if (Resolver.Resolve(derivedFrom) is not SearchParameter parent)
            {
                found.Add(Warning(IssueType.NotFound, "sp-derived-from", $"The search parameter '{derivedFrom}' this one is derived from cannot be resolved, so the derivation was not checked (fix: load the package that defines it with --ig).", path + ".derivedFrom"));
                return;
            }
            if (parent.Type is { } parentType && parentType != type)
                found.Add(Error(IssueType.BusinessRule, "sp-derived-from", $"This search parameter is of type '{literal}', but the one it is derived from ({derivedFrom}) is of type '{parentType.GetLiteral()}'.", path + ".type"));
            var bases = parent.Base.Select(b => b?.GetLiteral()).OfType<string>().ToHashSet(StringComparer.Ordinal);
            var mine = sp.Base.ToList();
            for (var k = 0; k < mine.Count; k++)
            {
                if (mine[k]?.GetLiteral() is { } b && !bases.Contains(b) && !bases.Contains("Resource") && !bases.Contains("DomainResource"))
                    found.Add(Error(IssueType.BusinessRule, "sp-derived-from", $"The base '{b}' is not a base of the search parameter this one is derived from ({derivedFrom}: {string.Join(", ", bases.Order(StringComparer.Ordinal))}).", $"{path}.base[{k}]"));
            }
        }
    }

    /// <summary>Why <paramref name="expression"/> does not parse as FHIRPath, or null (syntax only: functions are not bound,
    /// so an extension function the SDK does not know is no error). Cached per expression.</summary>
    private static string? ParseError(string expression)
    {
        if (ParsedExpressions.TryGetValue(expression, out var known)) return known;
        string? error = null;
        try
        {
            new FhirPathCompiler().Parse(expression);
        }
        catch (FormatException e)
        {
            error = e.Message.StartsWith("Compilation failed: ", StringComparison.Ordinal) ? e.Message["Compilation failed: ".Length..] : e.Message;
        }
        if (ParsedExpressions.Count < 4096) ParsedExpressions[expression] = error;
        return error;
    }

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";

    private static IssueComponent Warning(IssueType type, string rule, string message, string path) =>
        SupplementaryChecks.Issue(IssueSeverity.Warning, type, rule, message, path);
}
