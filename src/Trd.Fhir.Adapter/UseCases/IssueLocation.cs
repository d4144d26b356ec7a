using System.Text.Json;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>Where issues point in a JSON file, and which of our profiles apply per resource type.</summary>
public static class IssueLocation
{
    /// <summary>
    /// Where a FHIRPath issue expression (<c>Bundle.entry[2].resource.value</c>) starts in the JSON: its JSON path
    /// (<c>$.entry[2].resource.valueQuantity</c>, choice elements by their typed name), or its nearest located ancestor.
    /// </summary>
    public static (int Line, int Column)? Locate(Dictionary<string, (int Line, int Column)> index, string expression)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(expression);
        var path = "$";
        index.TryGetValue(path, out var found);
        (int, int)? best = index.ContainsKey(path) ? found : null;
        var steps = expression.Split('.');
        for (var s = 1; s < steps.Length; s++)
        {
            var step = steps[s];
            if (step.Contains('(', StringComparison.Ordinal)) break;
            var open = step.IndexOf('[', StringComparison.Ordinal);
            var name = open < 0 ? step : step[..open];
            var candidate = $"{path}.{name}";
            if (!index.ContainsKey(candidate))
            {
                var choice = index.Keys.Where(key => key.Length > candidate.Length && key.StartsWith(candidate, StringComparison.Ordinal)
                        && char.IsUpper(key[candidate.Length]) && key.IndexOfAny(['.', '['], candidate.Length) < 0)
                    .Order(StringComparer.Ordinal).FirstOrDefault();
                if (choice is null) break;
                candidate = choice;
            }
            path = candidate;
            best = index[path];
            if (open < 0) continue;
            candidate = path + step[open..];
            if (!index.TryGetValue(candidate, out var item)) break;
            path = candidate;
            best = item;
        }
        return best;
    }

    /// <summary>Our resource profiles (embedded profiles/*.json) by the resource type they constrain.</summary>
    public static IEnumerable<(string Type, List<string> Urls)> OurResourceProfiles()
    {
        var asm = typeof(TrdValidator).Assembly;
        var found = new List<(string Type, string Url)>();
        foreach (var name in asm.GetManifestResourceNames().Where(n => n.StartsWith("profiles/StructureDefinition-", StringComparison.Ordinal)))
        {
            using var stream = asm.GetManifestResourceStream(name)!;
            using var doc = JsonDocument.Parse(stream);
            var root = doc.RootElement;
            if (root.TryGetProperty("kind", out var kind) && kind.GetString() == "resource"
                && root.TryGetProperty("type", out var type) && root.TryGetProperty("url", out var url))
                found.Add((type.GetString()!, url.GetString()!));
        }
        return found.GroupBy(f => f.Type, StringComparer.Ordinal).Select(g => (g.Key, g.Select(f => f.Url).Order(StringComparer.Ordinal).ToList()));
    }
}
