using Hl7.Fhir.Model;
using Hl7.Fhir.Utility;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// OperationDefinition (operationdefinition.html, operations.html), beyond what the engine checks (opd-1 a type or parts,
/// opd-2 searchType only for a string, opd-3 a binding's value set, the type codes through their binding). At every level
/// of <c>parameter</c> / <c>part</c>:
/// <list type="bullet">
/// <item>a name is used once per direction (<c>in</c>, <c>out</c>): the <c>Parameters</c> resource carrying them tells
/// parameters apart by name only — error;</item>
/// <item><c>min</c> ≤ <c>max</c> (as eld-2 for elements) — error;</item>
/// <item>a <c>binding</c> only on a coded type (code, Coding, CodeableConcept, Quantity, string, uri: as eld-11 for
/// elements) — error;</item>
/// <item>a parameter is a value (<c>type</c>) or a group of <c>part</c>s, not both; <c>targetProfile</c> only for a
/// Reference or canonical — warnings (R4 says it in the element definitions, with no invariant).</item>
/// </list>
/// </summary>
internal sealed partial class DefinitionRules
{
    private static readonly HashSet<string> CodedTypes = new(StringComparer.Ordinal) { "code", "Coding", "CodeableConcept", "Quantity", "string", "uri", "Duration" };

    public static void Operation(OperationDefinition op, string path, List<IssueComponent> found)
    {
        var stack = new Stack<(List<OperationDefinition.ParameterComponent> Parameters, string Path)>();
        stack.Push((op.Parameter, path + ".parameter"));
        while (stack.Count > 0)
        {
            var (parameters, at) = stack.Pop();
            var seen = new HashSet<(OperationParameterUse?, string)>();
            for (var i = 0; i < parameters.Count; i++)
            {
                var p = parameters[i];
                var here = $"{at}[{i}]";
                if (p.Name is { Length: > 0 } name && !seen.Add((p.Use, name)))
                    found.Add(Error(IssueType.BusinessRule, "opd-name-unique", $"The {p.Use?.GetLiteral() ?? ""} parameter '{name}' is defined more than once at this level: a Parameters resource tells parameters apart by name.", here + ".name"));
                if (p.Min is { } min && p.Max is { Length: > 0 } max && max != "*" && int.TryParse(max, out var most) && min > most)
                    found.Add(Error(IssueType.Invariant, "opd-min-max", $"Parameter '{p.Name}' has min {min} greater than max {max}.", here));
                var type = p.TypeElement?.JsonValue as string;
                if (p.Binding is not null && type is not null && !CodedTypes.Contains(type))
                    found.Add(Error(IssueType.BusinessRule, "opd-binding", $"Parameter '{p.Name}' of type '{type}' has a binding, but only coded types (code, Coding, CodeableConcept, Quantity, string, uri) can be bound to a value set.", here + ".binding"));
                if (type is not null && p.Part.Count > 0)
                    found.Add(Warning(IssueType.BusinessRule, "opd-type-and-parts", $"Parameter '{p.Name}' has both a type ('{type}') and parts: a parameter is either a value of its type or a group of parts.", here + ".part[0]"));
                if (p.TargetProfile.Any() && type is not null && type is not ("Reference" or "canonical"))
                    found.Add(Warning(IssueType.BusinessRule, "opd-target-profile", $"Parameter '{p.Name}' of type '{type}' has a targetProfile, which applies to Reference and canonical parameters only.", here + ".targetProfile[0]"));
                if (p.Part.Count > 0) stack.Push((p.Part, here + ".part"));
            }
        }
    }
}
