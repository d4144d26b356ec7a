using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Trd.Fhir.Profiles.Scale;

/// <summary>
/// The shape of a resource: every element name, list index, instance type and primitive value verbatim, except values in
/// free positions (<see cref="NodeRule.Free"/>), which are replaced by a class token — strings by "string that matches the
/// string regex", dates by their digit pattern (precision and time-zone form kept), <c>Type/id</c> references by
/// <c>Type/</c> and "an id". A free value that does not match the regex Firely applies to its type (read from the core
/// StructureDefinition, as Firely does) or does not parse with the SDK makes the resource not fast-pathable. Hashed with
/// SHA-256 (the first 128 bits are kept). Also collects the invariants that must be re-checked on the instance because their
/// node's subtree holds a free value or they read beyond it (<see cref="Invariant.ReadsOutside"/>).
/// </summary>
internal sealed class ShapeKey
{
    private const string RegexExtension = "http://hl7.org/fhir/StructureDefinition/regex";
    private const int MaxFreeLength = 4096;

    private static readonly Regex IdRegex = new(@"^[A-Za-z0-9\-\.]{1,64}\z", RegexOptions.CultureInvariant);
    private readonly Lazy<Dictionary<FreeKind, Regex?>> _regex;

    [ThreadStatic] private static StringBuilder? _buffer;

    /// <summary>Why the last <see cref="Compute"/> on this thread gave null (tests and diagnostics; no values, only a path).</summary>
    [ThreadStatic] internal static string? LastBypass;
    [ThreadStatic] internal static string? LastKeyText;

    public ShapeKey(ElementMap map) => _regex = new Lazy<Dictionary<FreeKind, Regex?>>(() => Regexes(map)); // lazily: creating a validator resolves nothing

    private static Dictionary<FreeKind, Regex?> Regexes(ElementMap map)
    {
        var regex = new Dictionary<FreeKind, Regex?>();
        foreach (var (kind, type) in new[] { (FreeKind.String, "string"), (FreeKind.Markdown, "markdown"), (FreeKind.Id, "id"), (FreeKind.Date, "date"), (FreeKind.DateTime, "dateTime"), (FreeKind.Instant, "instant"), (FreeKind.Time, "time") })
        {
            // Firely matches ^pattern$; ^(?:pattern)\z is at least as strict (no top-level alternation escape, no final newline).
            var pattern = map.Structure("http://hl7.org/fhir/StructureDefinition/" + type)?.At(type + ".value")?
                .SelectMany(e => e.Type).SelectMany(t => t.Extension).FirstOrDefault(x => x.Url == RegexExtension)?.Value as FhirString;
            regex[kind] = pattern?.Value is { } p ? new Regex("^(?:" + p + @")\z", RegexOptions.CultureInvariant) : null;
        }
        return regex;
    }

    /// <summary>One node and an invariant of it to re-check on the instance.</summary>
    public readonly record struct Check(PocoNode Node, Invariant Invariant);

    /// <summary>The key of <paramref name="resource"/> under <paramref name="root"/>, or null when it is not fast-pathable.</summary>
    /// <param name="free">Receives the text of every free value (the memo does not remember an outcome that quotes one).</param>
    public UInt128? Compute(PocoNode resource, NodeRule root, string prefix, List<Check> checks, List<string>? free = null)
    {
        var sb = _buffer ??= new StringBuilder(4096);
        sb.Clear().Append(prefix).Append('\u0001');
        LastBypass = null;
        if (Walk(resource, root, sb, checks, free) is null) return null;
        LastKeyText = sb.ToString();
        var bytes = Encoding.UTF8.GetBytes(LastKeyText);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes, hash);
        if (sb.Capacity > 1 << 20) _buffer = null; // do not keep a huge buffer alive
        return new UInt128(BitConverter.ToUInt64(hash), BitConverter.ToUInt64(hash[8..]));
    }

    /// <summary>Writes the node; returns whether its subtree holds a free value, or null when not fast-pathable.</summary>
    private bool? Walk(PocoNode node, NodeRule rule, StringBuilder sb, List<Check> checks, List<string>? freeTexts)
    {
        if (ReferenceEquals(rule, NodeRule.Unmapped))
        {
            LastBypass = $"unmapped {node.GetLocation()} ({node.Poco.TypeName})";
            return null;
        }
        var free = false;
        sb.Append('(').Append(node.Name).Append('[').Append(node.Index ?? -1).Append(']').Append(rule.Type);
        if (node.Poco is PrimitiveType { JsonValue: { } raw } primitive)
        {
            // The raw value as parsed (what FhirStringValidator, the literal-type and ele-1 checks read), with its CLR kind
            // (a lenient parse may keep a malformed number as a string).
            var text = raw as string ?? PrimitiveTypeConverter.ConvertTo<string>(raw);
            sb.Append('=').Append(raw is string ? 's' : raw.GetType().Name[0]);
            if (rule.Free == FreeKind.None) Verbatim(sb, text);
            else
            {
                // What RegExValidator reads (the typed value converted back) must be the same text, and the SDK must
                // find the value valid (PrimitiveLiteralTypeValidator), before the value may become a class token.
                var token = raw is string && node.GetValue() is { } typed && PrimitiveTypeConverter.ConvertTo<string>(typed) == text
                    && primitive.HasValidValue() ? Token(rule.Free, text) : null;
                if (token is null)
                {
                    LastBypass = $"invalid {rule.Free} at {node.GetLocation()}";
                    return null;
                }
                if (token.Value.IsFree)
                {
                    free = true;
                    freeTexts?.Add(text);
                    sb.Append('\u0002').Append(token.Value.Text);
                }
                else Verbatim(sb, token.Value.Text);
            }
        }
        else if (node.GetValue() is not null)
        {
            LastBypass = $"value without a primitive at {node.GetLocation()}";
            return null;
        }
        foreach (var group in node.Children())
        {
            foreach (var child in group)
            {
                var url = child.Poco is Extension x ? x.Url ?? "" : null;
                var sub = Walk(child, rule.Child(child.Name ?? "", child.Poco.TypeName, url), sb, checks, freeTexts);
                if (sub is null) return null;
                free |= sub.Value;
            }
        }
        sb.Append(')');
        foreach (var inv in rule.Invariants)
        {
            if (free || inv.ReadsOutside) checks.Add(new Check(node, inv));
        }
        return free;
    }

    private static void Verbatim(StringBuilder sb, string text) => sb.Append(text.Length).Append(':').Append(text);

    /// <summary>The class token of a free value (IsFree), the value itself when it stays verbatim, or null when the value
    /// does not pass the type's own checks (the resource then takes the full engine).</summary>
    internal (bool IsFree, string Text)? Token(FreeKind kind, string value)
    {
        if (value.Length is 0 or > MaxFreeLength) return null; // FhirStringValidator: "String values cannot be empty"
        if (kind == FreeKind.RelativeReference)
        {
            var slash = value.IndexOf('/');
            if (slash <= 0 || slash != value.LastIndexOf('/')) return (false, value);
            var type = value[..slash];
            return ModelInfo.IsKnownResource(type) && IdRegex.IsMatch(value.AsSpan(slash + 1)) ? (true, "R" + type) : (false, value);
        }
        if (_regex.Value[kind] is not { } rx || !rx.IsMatch(value)) return null;
        var valid = kind switch
        {
            FreeKind.Id => IdRegex.IsMatch(value),
            FreeKind.Date => Date.IsValidValue(value) && new Date(value).TryToSystemDate(out _),
            FreeKind.DateTime => FhirDateTime.IsValidValue(value) && new FhirDateTime(value).TryToSystemDateTime(out _),
            FreeKind.Instant => Instant.IsValidValue(value) && new FhirDateTime(value).TryToSystemDateTime(out _),
            FreeKind.Time => Time.IsValidValue(value) && new Time(value).TryToSystemTime(out _),
            _ => true,
        };
        if (!valid) return null;
        switch (kind)
        {
            case FreeKind.Id: return (true, "I");
            case FreeKind.String: return (true, value.Trim().Length == value.Length ? "S" : "Sw");
            case FreeKind.Markdown: return (true, value.Trim().Length == value.Length ? "M" : "Mw");
        }
        // dates and times: the digit pattern keeps precision, fraction length and the form of the time zone
        var mask = new StringBuilder(value.Length + 1).Append('T');
        foreach (var c in value) mask.Append(char.IsAsciiDigit(c) ? '0' : c);
        return (true, mask.ToString());
    }
}
