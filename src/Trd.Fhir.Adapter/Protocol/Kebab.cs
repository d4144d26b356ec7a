using System.Collections.Concurrent;
using System.Text;

namespace Trd.Fhir.Adapter.Protocol;

/// <summary>Enum names as they appear in documents and codes: <c>LeftDlpfc</c> ⇄ <c>left-dlpfc</c>, <c>Phq9Monitoring</c> ⇄ <c>phq9-monitoring</c>.</summary>
public static class Kebab
{
    private static readonly ConcurrentDictionary<Type, Dictionary<string, object>> Parsers = new();

    public static string Name<T>(T value) where T : struct, Enum => ToKebab(value.ToString());

    public static IReadOnlyCollection<string> Names<T>() where T : struct, Enum => Enum.GetValues<T>().Select(Name).ToArray();

    public static bool TryParse<T>(string text, out T value) where T : struct, Enum
    {
        var map = Parsers.GetOrAdd(typeof(T), _ => Enum.GetValues<T>().ToDictionary(v => Name(v), v => (object)v, StringComparer.Ordinal));
        if (map.TryGetValue(text, out var found))
        {
            value = (T)found;
            return true;
        }
        value = default;
        return false;
    }

    public static string ToKebab(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (var i = 0; i < pascal.Length; i++)
        {
            var c = pascal[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(pascal[i - 1]) || char.IsDigit(pascal[i - 1])))
                sb.Append('-');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
