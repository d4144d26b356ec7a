using System.Text.Json;
using System.Text.Json.Serialization;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;

namespace Trd.Fhir.Adapter.Transport.ServerProfiles;

/// <summary>What a vendor code in an OperationOutcome means to a push or pull.</summary>
public sealed record OutcomeCode(string Meaning, string Text)
{
    public const string BreakTheGlass = "break-the-glass";
    public const string DailyCap = "daily-cap";
    public const string MissingParameter = "missing-parameter";
    public const string InputError = "input-error";
}

/// <summary>A kind's search rules: parameter groups the server requires (<c>a|b</c>: one of them), and values to add when
/// a required group is not otherwise satisfied.</summary>
public sealed record SearchRule(IReadOnlyList<string> Required, IReadOnlyDictionary<string, string> Add);

/// <summary>
/// A site's flowsheet rows for PHQ-9 (Epic files screening scores in flowsheets; Observation.Create needs the site's row
/// ids): the code system of the rows (the site's flowsheet-row OID) and the row of the total, optionally the rows of the nine
/// items in questionnaire order. Row ids are site configuration, never built in.
/// </summary>
public sealed record Phq9Flowsheet(string System, string Total, IReadOnlyList<string>? Items = null);

public sealed record DetectRule(IReadOnlyList<string>? Software, IReadOnlyList<string>? Publisher, IReadOnlyList<string>? Instantiates);

/// <summary>
/// How one dialect of FHIR server behaves, as data (Transport/ServerProfiles/*.json, or a user's own file): required search
/// parameters per kind, the kinds it lets us write (null: what its CapabilityStatement says), whether identifier searches
/// and transaction/batch Bundles may be used, the PHQ-9 write channel, whether the plan goes in as a DocumentReference,
/// vendor OperationOutcome codes and what they mean, the SMART scopes to ask for. docs/servers.md describes each.
/// </summary>
public sealed record ServerProfile
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public DetectRule? Detect { get; init; }
    public string PatientParameter { get; init; } = "patient";
    public bool IdentifierSearch { get; init; } = true;
    public bool Bundles { get; init; } = true;
    public IReadOnlyList<string>? Writable { get; init; }
    public IReadOnlyDictionary<string, SearchRule> Searches { get; init; } = new Dictionary<string, SearchRule>();
    public string Phq9Channel { get; init; } = Phq9Observation;

    /// <summary>With <see cref="Phq9FlowsheetObservation"/>: the site's flowsheet rows the PHQ-9 Observations are filed under.</summary>
    public Phq9Flowsheet? Phq9Flowsheet { get; init; }

    public bool PlanDocument { get; init; }
    public IReadOnlyDictionary<string, OutcomeCode> OperationOutcomeCodes { get; init; } = new Dictionary<string, OutcomeCode>();
    public IReadOnlyList<string> Scopes { get; init; } = [];

    public const string Phq9Observation = "observation";
    public const string Phq9QuestionnaireResponse = "questionnaire-response";
    public const string Phq9FlowsheetObservation = "flowsheet-observation";

    /// <summary>Why this profile is in force (set when it is chosen).</summary>
    [JsonIgnore]
    public string Reason { get; init; } = "";

    /// <summary>Whether the profile lets us write <paramref name="resourceType"/> (the CapabilityStatement decides when the profile names no list).</summary>
    public bool AllowsWrite(string resourceType) => Writable is null || Writable.Contains(resourceType, StringComparer.Ordinal);

    /// <summary>
    /// Adds what the server requires to a search of <paramref name="resourceType"/>: for each required group the query does
    /// not satisfy yet, the profile's value for the first parameter of the group that has one. Returns the groups that stay
    /// unsatisfied (empty when the search can be sent).
    /// </summary>
    public IReadOnlyList<string> Complete(string resourceType, SearchParams query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!Searches.TryGetValue(resourceType, out var rule))
            return [];
        var missing = new List<string>();
        foreach (var group in rule.Required)
        {
            var alternatives = group.Split('|');
            if (alternatives.Any(a => query.Parameters.Any(p => p.Item1 == a) || (a is "patient" or "subject" && query.Parameters.Any(p => p.Item1 is "patient" or "subject"))))
                continue;
            var fill = alternatives.FirstOrDefault(a => rule.Add.ContainsKey(a));
            if (fill is null)
                missing.Add(group);
            else
                query.Add(fill, rule.Add[fill]);
        }
        return missing;
    }

    /// <summary>The meaning of the first vendor code in <paramref name="outcome"/> this profile knows, if any.</summary>
    public OutcomeCode? Meaning(OperationOutcome? outcome)
    {
        foreach (var coding in outcome?.Issue.SelectMany(i => i.Details?.Coding ?? []) ?? [])
        {
            if (coding.Code is { } code && OperationOutcomeCodes.TryGetValue(code, out var meaning))
                return meaning;
        }
        return null;
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Reads a profile file's JSON. <see cref="FormatException"/> naming what is wrong.</summary>
    public static ServerProfile Parse(string json, string source)
    {
        try
        {
            var profile = JsonSerializer.Deserialize<ServerProfile>(json, Json) ?? throw new FormatException($"{source}: empty server profile");
            if (profile.Phq9Channel is not (Phq9Observation or Phq9QuestionnaireResponse or Phq9FlowsheetObservation))
                throw new FormatException($"{source}: phq9Channel must be '{Phq9Observation}', '{Phq9QuestionnaireResponse}' or '{Phq9FlowsheetObservation}', not '{profile.Phq9Channel}'");
            if (profile.Phq9Channel == Phq9FlowsheetObservation && profile.Phq9Flowsheet is not { System.Length: > 0, Total.Length: > 0 })
                throw new FormatException($"{source}: phq9Channel '{Phq9FlowsheetObservation}' needs phq9Flowsheet with the site's row system and total row, e.g. \"phq9Flowsheet\": {{ \"system\": \"urn:oid:…\", \"total\": \"…\", \"items\": [nine row ids] }}");
            if (profile.Phq9Flowsheet?.Items is { Count: not 9 } items)
                throw new FormatException($"{source}: phq9Flowsheet.items must list the nine item rows in questionnaire order, not {items.Count}");
            return profile;
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: not a valid server profile ({e.Path}: {e.Message})", e);
        }
    }
}
