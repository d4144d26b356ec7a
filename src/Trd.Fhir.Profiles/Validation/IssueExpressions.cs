using System.Collections;
using System.Text;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Makes issue expressions plain FHIRPath a client can match on: the validator writes an index after every step
/// (<c>Observation.code[0]</c>, <c>Bundle.entry[2].resource[0]</c>); we drop <c>[0]</c> where the element cannot repeat,
/// which does not change what the path selects. Whether a step repeats is read from the instance's own POCO model (so a
/// <c>resource</c> inside a Bundle entry continues with the entry resource's real type). Indexes on repeating elements are
/// kept. At the first step that cannot be followed (a function call, an unknown element kept by the lenient parser, an
/// index out of range) the rest of the expression is left exactly as the validator wrote it.
/// </summary>
internal static class IssueExpressions
{
    public static void Normalise(OperationOutcome oo, Resource instance)
    {
        foreach (var issue in oo.Issue)
        {
            if (!issue.Expression.Any()) continue;
            issue.Expression = issue.Expression.Select(e => e is null ? e! : Normalise(e, instance)).ToList();
        }
    }

    public static string Normalise(string expression, Resource instance)
    {
        var steps = expression.Split('.');
        if (steps.Length < 2 || steps[0] != instance.TypeName || expression.Contains('(', StringComparison.Ordinal)) return expression;

        var sb = new StringBuilder(steps[0]);
        object? current = instance;
        for (var i = 1; i < steps.Length; i++)
        {
            var step = steps[i];
            var (name, index) = Split(step);
            var repeats = true;
            var next = current is Base b ? Follow(b, name, index, out repeats) : null;
            if (next is null)
            {
                sb.Append('.').Append(string.Join('.', steps[i..]));
                return sb.ToString();
            }
            sb.Append('.').Append(repeats || index != 0 ? step : name);
            current = next;
        }
        return sb.ToString();
    }

    private static (string Name, int? Index) Split(string step)
    {
        var open = step.IndexOf('[', StringComparison.Ordinal);
        if (open < 0 || !step.EndsWith(']')) return (step, null);
        return int.TryParse(step.AsSpan(open + 1, step.Length - open - 2), out var n) ? (step[..open], n) : (step, null);
    }

    /// <summary>The child at <paramref name="name"/>[<paramref name="index"/>], or null when it cannot be followed.</summary>
    private static object? Follow(Base parent, string name, int? index, out bool repeats)
    {
        repeats = true;
        var mapping = ModelInfo.ModelInspector.FindOrImportClassMapping(parent.GetType());
        var property = mapping?.FindMappedElementByName(name) ?? mapping?.FindMappedElementByChoiceName(name);
        if (property?.NativeProperty is null) return null;
        repeats = property.IsCollection;
        object? value;
        try
        {
            value = property.NativeProperty.GetValue(parent);
        }
        catch (System.Reflection.TargetInvocationException)
        {
            return null; // the POCO holds a shape its getter refuses (Recoverable parsing); keep the validator's path
        }
        if (value is IList list)
        {
            var i = index ?? 0;
            return i >= 0 && i < list.Count ? list[i] : null;
        }
        return index is null or 0 ? value : null;
    }
}
