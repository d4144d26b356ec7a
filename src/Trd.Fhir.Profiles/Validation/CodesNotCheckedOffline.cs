using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// How many codings of each large external code system (SNOMED CT, LOINC, RxNorm, CVX, …) an outcome's input holds that
/// were not checked because no terminology server was given (issue 12 item 4). Carried on the <see cref="OperationOutcome"/>
/// itself as one extension per system — not as an issue, so that a valid resource keeps 0 issues:
/// <code>
/// "extension": [{ "url": "https://trd-fhir.example.org/fhir/StructureDefinition/codes-not-checked-offline",
///                 "extension": [{ "url": "system", "valueUri": "http://loinc.org" }, { "url": "count", "valueInteger": 10 }] }]
/// </code>
/// Written when <see cref="TrdValidatorOptions.CountCodesNotCheckedOffline"/> is on (the CLI and the API turn it on); the
/// CLI sums it over a run into one summary line, the API's <c>$validate</c> answer carries it as is.
/// </summary>
public static class CodesNotCheckedOffline
{
    public static readonly string Url = Canonical.StructureDefinition("codes-not-checked-offline");

    /// <summary>system → number of codings not checked, as <paramref name="outcome"/> carries them (empty when none).</summary>
    public static IReadOnlyList<(string System, int Count)> Read(OperationOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var found = new List<(string, int)>();
        foreach (var e in outcome.Extension)
        {
            if (e.Url != Url) continue;
            if (e.GetExtensionValue<FhirUri>("system")?.Value is { } system && e.GetExtensionValue<Integer>("count")?.Value is { } count)
                found.Add((system, count));
        }
        return found;
    }

    /// <summary>Adds the counts to <paramref name="outcome"/> (ordered by system; nothing when there are none).</summary>
    internal static void Attach(OperationOutcome outcome, IReadOnlyDictionary<string, int> counts)
    {
        foreach (var (system, count) in counts.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            var e = new Extension { Url = Url };
            e.Extension.Add(new Extension("system", new FhirUri(system)));
            e.Extension.Add(new Extension("count", new Integer(count)));
            outcome.Extension.Add(e);
        }
    }
}
