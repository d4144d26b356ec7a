using System.Globalization;
using System.Text.Json;

namespace Trd.Fhir.Adapter.Protocol;

/// <summary>
/// Reads values out of a parsed JSON document while collecting every problem with its JSON path, instead of stopping at
/// the first one. Each accessor returns null when the value is missing or wrong, after recording why.
/// </summary>
internal sealed class JsonCursor
{
    /// <summary>Problems kept; beyond this many, a hostile document (a million wrong items) is only counted.</summary>
    public const int MaxProblems = 1000;

    /// <summary>Items accepted in one array (a protocol has tens of sessions and assessments, not tens of thousands).</summary>
    public const int MaxItems = 10_000;

    private readonly List<Problem> _problems = [];
    private int _droppedErrors;

    public IReadOnlyList<Problem> Problems => _problems;

    /// <summary>Problems found beyond <see cref="MaxProblems"/>, not kept.</summary>
    public int Dropped { get; private set; }

    public bool HasErrors => _droppedErrors > 0 || _problems.Any(p => p.IsError);

    public void Error(string path, ProblemCode code, string message, string? hint = null) =>
        Add(new Problem(ProblemSeverity.Error, code, path, message, hint));

    public void Warning(string path, ProblemCode code, string message, string? hint = null) =>
        Add(new Problem(ProblemSeverity.Warning, code, path, message, hint));

    public void Add(Problem problem)
    {
        if (_problems.Count < MaxProblems)
        {
            _problems.Add(problem);
            return;
        }
        Dropped++;
        if (problem.IsError)
            _droppedErrors++;
    }

    public static string Child(string path, string name) => $"{path}.{name}";

    public static string Index(string path, int index) => $"{path}[{index}]";

    /// <summary>Reports properties other than <paramref name="allowed"/>, with a did-you-mean hint.</summary>
    public void OnlyKnown(JsonElement obj, string path, params string[] allowed)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (allowed.Contains(property.Name, StringComparer.Ordinal) || property.Name == "$schema" && path == "$")
                continue;
            var name = JsonLineIndex.Name(property.Name);
            var suggestion = name.Length > 64 ? null : allowed.OrderBy(a => Distance(a, name)).FirstOrDefault();
            var hint = suggestion is not null && Distance(suggestion, name) <= Math.Max(2, suggestion.Length / 3)
                ? $"did you mean '{suggestion}'?"
                : $"allowed here: {string.Join(", ", allowed)}";
            Error(Child(path, name), ProblemCode.UnknownProperty, $"unknown property '{Truncate(property.Name)}'", hint);
        }
    }

    public JsonElement? Object(JsonElement parent, string path, string name, bool required)
    {
        var value = Get(parent, path, name, required, "an object");
        if (value is null)
            return null;
        if (value.Value.ValueKind == JsonValueKind.Object)
            return value;
        WrongType(Child(path, name), value.Value, "an object");
        return null;
    }

    public IEnumerable<(JsonElement Element, string Path)> Array(JsonElement parent, string path, string name, bool required)
    {
        var value = Get(parent, path, name, required, "an array");
        if (value is null)
            return [];
        var arrayPath = Child(path, name);
        if (value.Value.ValueKind != JsonValueKind.Array)
        {
            WrongType(arrayPath, value.Value, "an array");
            return [];
        }
        if (value.Value.GetArrayLength() > MaxItems)
        {
            Error(arrayPath, ProblemCode.OutOfRange, $"'{name}' has {value.Value.GetArrayLength()} items; at most {MaxItems} are accepted", "split the document: one protocol per patient");
            return [];
        }
        return value.Value.EnumerateArray().Select((e, i) => (e, Index(arrayPath, i))).ToArray();
    }

    public string? String(JsonElement parent, string path, string name, bool required)
    {
        var value = Get(parent, path, name, required, "a string");
        if (value is null)
            return null;
        if (value.Value.ValueKind != JsonValueKind.String)
        {
            WrongType(Child(path, name), value.Value, "a string");
            return null;
        }
        var text = value.Value.GetString()!;
        if (text.Trim().Length == 0)
        {
            Error(Child(path, name), ProblemCode.InvalidValue, $"'{name}' is empty", "give a value or leave the property out");
            return null;
        }
        if (text.Length > MaxStringLength)
        {
            Error(Child(path, name), ProblemCode.OutOfRange, $"'{name}' is {text.Length} characters long; at most {MaxStringLength} are accepted");
            return null;
        }
        return text;
    }

    public const int MaxStringLength = 4096;

    public int? Int(JsonElement parent, string path, string name, bool required, int min, int max)
    {
        var value = Get(parent, path, name, required, "an integer");
        return value is null ? null : IntValue(value.Value, Child(path, name), min, max);
    }

    public int? IntValue(JsonElement value, string path, int min, int max)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
        {
            if (value.ValueKind != JsonValueKind.Number)
                WrongType(path, value, "an integer");
            else if (value.TryGetDecimal(out var d) && (d != decimal.Truncate(d) || d >= min && d <= max))
                Error(path, ProblemCode.WrongType, $"{d.ToString(CultureInfo.InvariantCulture)} is not a whole number", $"give an integer between {min} and {max}");
            else // a whole number beyond int (2147483648), or beyond decimal (1e400)
                Error(path, ProblemCode.OutOfRange, $"{Truncate(value.GetRawText())} is outside {min}–{max}", $"give an integer between {min} and {max}");
            return null;
        }
        if (number < min || number > max)
        {
            Error(path, ProblemCode.OutOfRange, $"{number} is outside {min}–{max}", $"give an integer between {min} and {max}");
            return null;
        }
        return number;
    }

    public decimal? Decimal(JsonElement parent, string path, string name, bool required, decimal min, decimal max)
    {
        var value = Get(parent, path, name, required, "a number");
        if (value is null)
            return null;
        var at = Child(path, name);
        if (value.Value.ValueKind != JsonValueKind.Number)
        {
            WrongType(at, value.Value, "a number");
            return null;
        }
        if (!value.Value.TryGetDecimal(out var number) || number < min || number > max)
        {
            var shown = value.Value.TryGetDecimal(out var d) ? d.ToString(CultureInfo.InvariantCulture) : Truncate(value.Value.GetRawText());
            Error(at, ProblemCode.OutOfRange, $"{shown} is outside {min.ToString(CultureInfo.InvariantCulture)}–{max.ToString(CultureInfo.InvariantCulture)}");
            return null;
        }
        return number;
    }

    public bool? Bool(JsonElement parent, string path, string name, bool required)
    {
        var value = Get(parent, path, name, required, "true or false");
        if (value is null)
            return null;
        if (value.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
            return value.Value.GetBoolean();
        WrongType(Child(path, name), value.Value, "true or false");
        return null;
    }

    public DateOnly? Date(JsonElement parent, string path, string name, bool required)
    {
        var text = String(parent, path, name, required);
        return text is null ? null : DateValue(text, Child(path, name));
    }

    public DateOnly? DateValue(string text, string path)
    {
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
            return date;
        Error(path, ProblemCode.InvalidValue, $"'{text}' is not a date", "write dates as YYYY-MM-DD, e.g. 2026-03-02");
        return null;
    }

    public T? Enum<T>(JsonElement parent, string path, string name, bool required) where T : struct, System.Enum
    {
        var text = String(parent, path, name, required);
        return text is null ? null : EnumValue<T>(text, Child(path, name));
    }

    public T? EnumValue<T>(string text, string path) where T : struct, System.Enum
    {
        if (Kebab.TryParse<T>(text, out var value))
            return value;
        Error(path, ProblemCode.UnknownCode, $"'{text}' is not a known value", $"use one of: {string.Join(", ", Kebab.Names<T>())}");
        return null;
    }

    private JsonElement? Get(JsonElement parent, string path, string name, bool required, string expected)
    {
        if (parent.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
            return value;
        if (required)
            Error(Child(path, name), ProblemCode.MissingProperty, $"'{name}' is required", $"add '{name}' ({expected})");
        return null;
    }

    private void WrongType(string path, JsonElement value, string expected) =>
        Error(path, ProblemCode.WrongType, $"expected {expected}, found {Describe(value)}");

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Truncate(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
            d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++)
            d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
            }
        }
        return d[a.Length, b.Length];
    }
}
