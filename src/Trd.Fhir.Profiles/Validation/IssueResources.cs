using System.Collections;
using System.Text;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Names the resource an issue expression points into when that is not the top-level one: a Bundle entry's resource
/// or a contained resource. The name goes into the path as a FHIRPath comment, as the HL7 reference validator writes
/// it (<c>Bundle.entry[2].resource/*Observation/abc*/.value</c>), so the annotated path still selects the same node.
/// A resource is named <c>Type/id</c>; a Bundle entry resource without an id by its <c>fullUrl</c>; a contained one
/// without an id by its type.
/// </summary>
public static class IssueResources
{
    /// <summary>The annotated expression and the innermost named resource (null when the expression stays in <paramref name="root"/>).</summary>
    public static (string Expression, string? Resource) Annotate(string expression, Resource root)
    {
        ArgumentNullException.ThrowIfNull(expression);
        ArgumentNullException.ThrowIfNull(root);
        if (!expression.StartsWith(root.TypeName + ".", StringComparison.Ordinal) || expression.Contains('(', StringComparison.Ordinal))
            return (expression, null);
        var steps = expression.Split('.');
        var sb = new StringBuilder(steps[0]);
        object? current = root;
        Bundle.EntryComponent? entry = null;
        string? named = null;
        for (var i = 1; i < steps.Length; i++)
        {
            var (name, index) = Split(steps[i]);
            sb.Append('.').Append(steps[i]);
            if (current is not Base b || Child(b, name, index) is not { } next)
            {
                sb.Append('.').AppendJoin('.', steps[(i + 1)..]);
                return (sb.ToString().TrimEnd('.'), named);
            }
            if (next is Resource r && (name == "resource" || name == "contained"))
            {
                named = Label(r, name == "resource" ? entry?.FullUrl : null);
                sb.Append("/*").Append(named).Append("*/");
            }
            entry = next as Bundle.EntryComponent;
            current = next;
        }
        return (sb.ToString(), named);
    }

    /// <summary><c>Type/id</c>, else the Bundle entry's fullUrl, else the type.</summary>
    public static string Label(Resource r, string? fullUrl = null) =>
        r.Id is { Length: > 0 } id ? $"{r.TypeName}/{id}" : fullUrl is { Length: > 0 } url ? $"{r.TypeName} {url}" : r.TypeName;

    private static (string Name, int? Index) Split(string step)
    {
        var open = step.IndexOf('[', StringComparison.Ordinal);
        if (open < 0 || !step.EndsWith(']')) return (step, null);
        return int.TryParse(step.AsSpan(open + 1, step.Length - open - 2), out var n) ? (step[..open], n) : (step, null);
    }

    private static object? Child(Base parent, string name, int? index)
    {
        var mapping = Hl7.Fhir.Model.ModelInfo.ModelInspector.FindOrImportClassMapping(parent.GetType());
        var property = mapping?.FindMappedElementByName(name) ?? mapping?.FindMappedElementByChoiceName(name);
        if (property?.NativeProperty is null) return null;
        object? value;
        try
        {
            value = property.NativeProperty.GetValue(parent);
        }
        catch (System.Reflection.TargetInvocationException)
        {
            return null;
        }
        if (value is IList list)
        {
            var i = index ?? 0;
            return i >= 0 && i < list.Count ? list[i] : null;
        }
        return index is null or 0 ? value : null;
    }
}
