using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>
/// The state of one FHIR → protocol read, shared by the family readers (plans, orders, sessions, PHQ-9): the resources
/// with their locations, reference resolution (fullUrl, <c>Type/id</c> or business identifier), which resources were used, and the problems.
/// </summary>
internal sealed class ReadContext
{
    private readonly Dictionary<string, SourcedResource> _byReference = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SourcedResource> _byIdentifier = new(StringComparer.Ordinal);
    private readonly HashSet<Resource> _used = new(ReferenceEqualityComparer.Instance);
    private readonly List<Problem> _problems = [];

    public ReadContext(IReadOnlyList<SourcedResource> all, Identity identity)
    {
        All = all;
        Identity = identity;
        foreach (var r in all)
        {
            if (r.FullUrl is { } fullUrl)
                _byReference.TryAdd(fullUrl, r);
            if (r.Resource.Id is { } id)
                _byReference.TryAdd($"{r.Resource.TypeName}/{id}", r);
            foreach (var identifier in Identity.IdentifiersOf(r.Resource))
                _byIdentifier.TryAdd($"{r.Resource.TypeName}|{identifier.System}|{identifier.Value}", r);
        }
    }

    public IReadOnlyList<SourcedResource> All { get; }

    public Identity Identity { get; }

    public string ProtocolId { get; set; } = "";

    public IReadOnlyList<Problem> Problems => _problems;

    public IEnumerable<(T Resource, string Location)> OfType<T>() where T : Resource =>
        All.Where(r => r.Resource is T).Select(r => ((T)r.Resource, r.Location));

    public void Use(Resource resource) => _used.Add(resource);

    public bool IsUsed(Resource resource) => _used.Contains(resource);

    public void Warn(string path, ProblemCode code, string message, string? hint = null) =>
        _problems.Add(new Problem(ProblemSeverity.Warning, code, path, message, hint));

    public void Fail(string path, ProblemCode code, string message, string? hint = null) =>
        _problems.Add(new Problem(ProblemSeverity.Error, code, path, message, hint));

    /// <summary>The resource a reference points at: by fullUrl, <c>Type/id</c> (any base, any version), or — a logical
    /// reference (type and business identifier only, as a plan document holds them) — by that identifier.</summary>
    public SourcedResource? Resolve(ResourceReference? reference)
    {
        if (reference?.Reference is not { } text)
            return reference is { Type: { } type, Identifier: { System: { } system, Value: { } value } } && _byIdentifier.TryGetValue($"{type}|{system}|{value}", out var logical) ? logical : null;
        if (_byReference.TryGetValue(text, out var found))
            return found;
        var history = text.IndexOf("/_history/", StringComparison.Ordinal);
        if (history > 0)
            text = text[..history];
        var parts = text.Split('/');
        return parts.Length >= 2 && _byReference.TryGetValue($"{parts[^2]}/{parts[^1]}", out found) ? found : null;
    }

    public string? Local(Resource resource) => Identity.LocalPart(resource, ProtocolId);

    public string Location(Resource resource) => All.First(r => ReferenceEquals(r.Resource, resource)).Location;

    public static bool Has(CodeableConcept? concept, string system, string code) =>
        concept?.Coding.Any(c => c.System == system && c.Code == code) == true;

    public static string? CodeIn(CodeableConcept? concept, string system) =>
        concept?.Coding.FirstOrDefault(c => c.System == system)?.Code;

    public static T? ProjectCode<T>(CodeableConcept? concept, string system) where T : struct, Enum =>
        CodeIn(concept, system) is { } code && Kebab.TryParse<T>(code, out var value) ? value : null;

    public static DateOnly? ToDate(string? fhirDate) =>
        fhirDate is { Length: >= 10 } && DateOnly.TryParseExact(fhirDate[..10], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : null;

    public static DateOnly? EffectiveDate(DataType? effective) => effective switch
    {
        FhirDateTime dt => ToDate(dt.Value),
        Period p => ToDate(p.Start),
        Instant i => i.Value is { } v ? DateOnly.FromDateTime(v.UtcDateTime) : null,
        _ => null,
    };
}
