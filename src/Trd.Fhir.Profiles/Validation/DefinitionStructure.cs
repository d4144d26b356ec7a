using Hl7.Fhir.Model;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// StructureDefinition (structuredefinition.html, elementdefinition.html), beyond what the engine checks (sdf-* and eld-*
/// invariants: differential paths start with the type (sdf-8a), min ≤ max (eld-2), slice names are tokens (eld-16), …):
/// <list type="bullet">
/// <item>an element's <c>id</c> agrees with its <c>path</c> (elementdefinition.html#id: the path, each step followed by
/// <c>:sliceName</c> where it is a slice) and ends with its own <c>sliceName</c> — error;</item>
/// <item>each <c>type.code</c> is a FHIR type, a FHIRPath system type (<c>http://hl7.org/fhirpath/System.*</c>) or the URL
/// of a StructureDefinition (a logical model) — an unknown name is an error, an unknown URL (or any unknown type in a
/// logical model) a warning;</item>
/// <item>a slice (<c>sliceName</c>) follows the declaration of its slicing: an earlier differential element on the same
/// path with <c>slicing</c>, or a sliced element in the base (extensions are always sliced by url; choice elements by
/// type) — a warning: the HL7 tools assume a default slicing (R4's own familymemberhistory-genetic relies on it);</item>
/// <item>a constraint has its base's <c>type</c> and <c>kind</c> — error; its differential against its base:
/// DefinitionStructureBase.cs;</item>
/// <item><c>baseDefinition</c> resolves: a core URL that does not resolve is an error, any other a warning (the profile
/// was not checked against its base; fix: <c>--ig</c>).</item>
/// </list>
/// </summary>
internal sealed partial class DefinitionRules
{
    private const string CoreStructureDefinitions = "http://hl7.org/fhir/StructureDefinition/";

    public void Structure(StructureDefinition sd, string path, List<IssueComponent> found)
    {
        StructureDefinition? baseSd = null;
        if (sd.BaseDefinition is { Length: > 0 } baseUrl)
        {
            baseSd = Resolver.Resolve(baseUrl) as StructureDefinition;
            if (baseSd is null)
            {
                found.Add(baseUrl.StartsWith(CoreStructureDefinitions, StringComparison.Ordinal)
                    ? Error(IssueType.NotFound, "sd-base", $"The baseDefinition '{baseUrl}' is not a StructureDefinition of the FHIR R4 specification.", path + ".baseDefinition")
                    : Warning(IssueType.NotFound, "sd-base", $"The baseDefinition '{baseUrl}' cannot be resolved, so this profile was not checked against its base (fix: load the package that defines it with --ig).", path + ".baseDefinition"));
            }
        }
        var constrained = sd.Derivation == StructureDefinition.TypeDerivationRule.Constraint ? baseSd : null;
        if (constrained is not null)
        {
            // a constraint profiles its base's type (profiling.html): same type, same kind
            if (sd.Type is { Length: > 0 } type && constrained.Type is { Length: > 0 } baseType && type != baseType)
                found.Add(Error(IssueType.BusinessRule, "sd-constraint-type", $"This constraint is on type '{type}', but its base {constrained.Url} defines '{baseType}': a profile constrains the type of its base.", path + ".type"));
            if (sd.Kind is { } kind && constrained.Kind is { } baseKind && kind != baseKind)
                found.Add(Error(IssueType.BusinessRule, "sd-constraint-kind", $"This constraint is of kind '{Hl7.Fhir.Utility.EnumUtility.GetLiteral(kind)}', but its base {constrained.Url} is of kind '{Hl7.Fhir.Utility.EnumUtility.GetLiteral(baseKind)}'.", path + ".kind"));
        }
        var logical = sd.Kind == StructureDefinition.StructureDefinitionKind.Logical;
        if (sd.Differential is { } differential)
        {
            Elements(differential.Element, path + ".differential", constrained, logical, found);
            if (constrained is not null) AgainstBase(differential.Element, path + ".differential", constrained, found);
        }
        if (sd.Snapshot is { } snapshot) Elements(snapshot.Element, path + ".snapshot", null, logical, found);
    }

    private void Elements(List<ElementDefinition> elements, string path, StructureDefinition? baseSd, bool logical, List<IssueComponent> found)
    {
        var sliced = new HashSet<string>(StringComparer.Ordinal);
        HashSet<string>? baseSliced = null;
        for (var i = 0; i < elements.Count; i++)
        {
            var e = elements[i];
            var at = $"{path}.element[{i}]";
            if (e.Path is not { Length: > 0 } elementPath) continue;
            if (e.ElementId is { Length: > 0 } id && IdProblem(id, elementPath, e.SliceName) is { } problem)
                found.Add(Error(IssueType.Invalid, "sd-element-id", $"Element id '{id}' does not agree with its path '{elementPath}'{problem} (elementdefinition.html#id).", at + ".id"));
            for (var k = 0; k < e.Type.Count; k++)
            {
                if (e.Type[k].Code is not { Length: > 0 } code || IsKnownType(code)) continue;
                // a logical model may name types of its own family: an unknown one is a warning there
                found.Add(code.Contains(':', StringComparison.Ordinal) || logical
                    ? Warning(IssueType.NotFound, "sd-type", $"The type '{code}' of {elementPath} cannot be resolved to a StructureDefinition (fix: load the package that defines it with --ig).", $"{at}.type[{k}].code")
                    : Error(IssueType.CodeInvalid, "sd-type", $"The type '{code}' of {elementPath} is not a FHIR type.", $"{at}.type[{k}].code"));
            }
            if (e.Slicing is not null) sliced.Add(elementPath);
            if (baseSd is not null && e.SliceName is { Length: > 0 } slice && !sliced.Contains(elementPath) && !elementPath.EndsWith("[x]", StringComparison.Ordinal)
                && !elementPath.EndsWith(".extension", StringComparison.Ordinal) && !elementPath.EndsWith(".modifierExtension", StringComparison.Ordinal))
            {
                baseSliced ??= baseSd.Snapshot?.Element.Where(b => b.Slicing is not null).Select(b => b.Path).OfType<string>().ToHashSet(StringComparer.Ordinal) ?? [];
                if (!baseSliced.Contains(elementPath) && baseSd.Snapshot is not null)
                    found.Add(Warning(IssueType.Structure, "sd-slicing", $"Slice '{slice}' of {elementPath} comes before any slicing of {elementPath}: neither an earlier element of the differential nor the base declares it (elementdefinition.html#slicing; a default slicing is assumed).", at));
            }
        }
    }

    /// <summary>Why <paramref name="id"/> does not agree with <paramref name="path"/> and <paramref name="sliceName"/>, or null.</summary>
    private static string? IdProblem(string id, string path, string? sliceName)
    {
        var steps = id.Split('.');
        var unsliced = string.Join('.', steps.Select(s => s.IndexOf(':', StringComparison.Ordinal) is var c and >= 0 ? s[..c] : s));
        if (unsliced != path) return $": without its slice names the id is '{unsliced}'";
        if (sliceName is { Length: > 0 })
        {
            var last = steps[^1];
            var colon = last.IndexOf(':', StringComparison.Ordinal);
            // a reslice's id ends with ':slice/reslice', and its sliceName is 'slice/reslice'
            if (colon < 0 || last[(colon + 1)..] != sliceName) return $": the element is slice '{sliceName}', so the id ends with ':{sliceName}'";
        }
        return null;
    }

    private bool IsKnownType(string code) =>
        ModelInfo.IsCoreModelType(code) || code.StartsWith("http://hl7.org/fhirpath/System.", StringComparison.Ordinal)
        || (code.Contains(':', StringComparison.Ordinal) && Resolver.Resolve(code) is StructureDefinition);
}
