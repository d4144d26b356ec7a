using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// PHQ-9 item-9 safety signals on responses whose body is not an OperationOutcome (<c>POST /protocols/$map</c>: a Bundle;
/// <c>GET /patients/{patient}/protocol</c>: a protocol document), so no signal is dropped on the way to the caller. One
/// header, <see cref="Name"/>, an RFC 8941 structured-field list with one member per assessment:
/// <c>"2026-03-02";item9=1;total=19</c> (total absent when unknown), or <c>"unreadable";where="…"</c> when an item 9 was
/// present but could not be read — a clinician must look at the source record. No patient identifier ever appears in it.
/// </summary>
public static class SafetySignalHeader
{
    public const string Name = "Trd-Safety-Signals";

    /// <summary>The signals of a protocol document (map): every assessment whose item 9 is ≥ 1.</summary>
    public static void Add(HttpResponse response, TrdProtocol protocol) =>
        Add(response, protocol.Phq9.Where(a => a.SuicidalityFlag).Select(a => new Phq9SafetySignal(a.Date, a.Items![Phq9Assessment.SuicidalityItemIndex], a.Total, "")), []);

    /// <summary>The signals met while reading foreign data (pull), plus the item 9 answers that could not be read.</summary>
    public static void Add(HttpResponse response, IEnumerable<Phq9SafetySignal> signals, IEnumerable<Problem> problems)
    {
        ArgumentNullException.ThrowIfNull(response);
        var members = signals.OrderBy(s => s.Date).Select(Member)
            .Concat(problems.Where(IsUnreadableItem9).Select(p => $"\"unreadable\";where={Quoted(p.Path)}"))
            .ToArray();
        if (members.Length > 0)
            response.Headers[Name] = string.Join(", ", members);
    }

    /// <summary>A SafetySignal problem that is not itself a signal: item 9 present but unreadable.</summary>
    private static bool IsUnreadableItem9(Problem p) => p.Code == ProblemCode.SafetySignal && p.Message.Contains("cannot be told", StringComparison.Ordinal);

    private static string Member(Phq9SafetySignal s)
    {
        var member = string.Create(CultureInfo.InvariantCulture, $"\"{s.Date:yyyy-MM-dd}\";item9={s.Item9}");
        return s.Total is { } total ? member + string.Create(CultureInfo.InvariantCulture, $";total={total}") : member;
    }

    /// <summary>An RFC 8941 sf-string: printable ASCII, with <c>\</c> and <c>"</c> escaped; anything else becomes <c>?</c>.</summary>
    private static string Quoted(string text)
    {
        var quoted = new StringBuilder("\"");
        foreach (var c in text)
            quoted.Append(c is '"' or '\\' ? $"\\{c}" : c is >= ' ' and <= '~' ? c.ToString() : "?");
        return quoted.Append('"').ToString();
    }
}
