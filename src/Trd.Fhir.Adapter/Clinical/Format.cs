using System.Globalization;

namespace Trd.Fhir.Adapter.Clinical;

/// <summary>How the read-out writes dates and percentages in hints, notes and the report (invariant culture).</summary>
internal static class Format
{
    public static string Date(DateOnly date) => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string Percent(decimal value) => value.ToString("0.#", CultureInfo.InvariantCulture) + " %";
}
