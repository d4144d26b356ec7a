using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Specification.Source;
using Hl7.Fhir.Specification.Terminology;
using Trd.Fhir.Profiles.Scale;
using Trd.Fhir.Profiles.Store;
using Trd.Fhir.Profiles.Validation;

namespace Trd.Fhir.Profiles;

/// <summary>
/// The validation façade: one long-lived Firely <see cref="Validator"/> over our resolver chain. Create once per process.
/// Thread-safe: the first validation of a new kind of resource compiles that kind's schemas alone, with an empty instance
/// (<see cref="CompileGate"/>), and no lock is held while an instance validates; <see cref="WarmUp"/> at start-up compiles
/// all our profiles ahead. Bundles validate in time linear in their size (<see cref="ChunkedBundle"/>) and can be cancelled
/// between chunks. Problems are always returned as <see cref="OperationOutcome"/> issues.
/// </summary>
public sealed class TrdValidator : IDisposable
{
    private static readonly AsyncLocal<ProfilePolicy> CurrentPolicy = new();
    private readonly TrdResolver _resolver;
    private readonly Validator _validator;
    private readonly Dictionary<string, string> _byKind;
    private readonly IDisposable[] _owned;
    private readonly bool _prefetch;
    private readonly CompileGate _gate;
    private readonly SharedStateValidator? _shared;
    private FastPath? _fast;
    private IReadOnlyList<string>? _profileUrls;

    private TrdValidator(TrdResolver resolver, Validator validator, Dictionary<string, string> byKind, IDisposable[] owned, bool prefetch, bool sharedState)
    {
        _resolver = resolver;
        _validator = validator;
        _byKind = byKind;
        _owned = owned;
        _prefetch = prefetch;
        _gate = new CompileGate((r, p) => Run(r, p), byKind);
        _shared = sharedState ? SharedStateValidator.TryCreate(validator) : null;
    }

    /// <summary>Kinds of resource compiled through the gate so far (tests).</summary>
    internal int CompiledKinds => _gate.Count;

    /// <summary>Canonical URLs of the StructureDefinitions we know beyond core (embedded + extra sources).</summary>
    public IReadOnlyList<string> ProfileUrls => _profileUrls ??=
        _resolver.Ours.Entries.Where(e => e.ResourceType == "StructureDefinition").Select(e => e.Url).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The resolver the validator uses: our artefacts (with their snapshots) → core R4, cached and thread-safe. For tools
    /// that need exactly what the validator sees, e.g. the NPM package builder shipping our snapshots.
    /// </summary>
    public IAsyncResourceResolver ResourceResolver => _resolver;

    internal TrdResolver Resolver => _resolver;

    /// <summary>The specification rules the Firely engine does not check (Validation/), run after it on every outcome.</summary>
    private SupplementaryChecks? Checks { get; init; }

    /// <summary>Bundles with more entries than this are validated in chunks (<see cref="ChunkedBundle"/>: linear, same
    /// findings); smaller ones in one pass. Settable for the equivalence tests.</summary>
    internal int ChunkedAbove { get; init; } = 256;

    /// <summary>The shape memo in front of the engine for standalone resources, or null when off (tests, benchmarks).</summary>
    internal FastPath? Fast => _fast;

    /// <summary>Whether this validator runs through <see cref="SharedStateValidator"/> (tests).</summary>
    internal bool SharesState => _shared is not null;

    /// <summary>Entries per chunk of a chunked Bundle validation.</summary>
    internal int ChunkSize { get; init; } = 64;

    /// <summary>Builds the validator. Cheap: artefacts are indexed, not parsed; everything else happens on first use.</summary>
    public static TrdValidator Create(TrdValidatorOptions? options = null) =>
        Create(options ?? new TrdValidatorOptions(),
            GeneratedArtifacts.Core ?? throw new InvalidOperationException("Trd.Fhir.Profiles was built without Generated/core.pack."),
            GeneratedArtifacts.Snapshots);

    /// <summary>With explicit packs: used by the generator, which records prefetch lists over the pack it is building.</summary>
    internal static TrdValidator Create(TrdValidatorOptions options, ArtifactPack corePack, ArtifactPack? snapshotPack)
    {
        var catalog = new ArtifactCatalog(options.ExtraSources, options.IncludeEmbeddedProfiles);
        var core = new CoreSpecStore(corePack, options.SpecificationZipPath ?? GeneratedArtifacts.DefaultZipPath, options.UseCoreSlice);
        var resolver = new TrdResolver(catalog, core, options.UsePregeneratedSnapshots ? snapshotPack : null);

        var remote = options.RemoteTerminology;
        IDisposable[] owned = [];
        RemoteTerminology? server = null;
        if (remote is null && options.TerminologyServer is { } url)
        {
            server = new RemoteTerminology(url, options.TerminologyTimeout);
            owned = [server];
            remote = server;
        }
        var terminology = new TerminologyRouter(new LocalTerminologyService(resolver), remote, resolver);

        var byKind = new Dictionary<string, string>(options.ProfileByResourceType, StringComparer.Ordinal);
        var unknownAsWarning = options.UnknownProfile == UnknownProfileSeverity.Warning;
        var settings = new ValidationSettings
        {
            SelectValidationProfiles = (_, profiles, node, _) => SelectProfiles(profiles, node, byKind),
        };
        if (unknownAsWarning)
        {
            settings.TransformIssues = i => i.IssueNumber == Hl7.Fhir.Support.Issue.UNAVAILABLE_REFERENCED_PROFILE.Code
                ? i.WithSeverity(OperationOutcome.IssueSeverity.Warning) : i;
        }
        var validator = new Validator(resolver, terminology, null, settings);
        var trd = new TrdValidator(resolver, validator, byKind, owned, options.Prefetch, options.SharedState) { Checks = new SupplementaryChecks(resolver, unknownAsWarning, server, options.ReportCodesNotCheckedOffline, options.CountCodesNotCheckedOffline) { AllowedExtensionPrefixes = [.. options.AllowedExtensionPrefixes] } };
        // A remote terminology server answers from outside the process: its answers are not remembered.
        if (options.FastPath && remote is null) trd._fast = new FastPath(resolver.Resolve);
        return trd;
    }

    /// <summary>
    /// Validates against the core type and every <c>meta.profile</c>; with <paramref name="profile"/>, against that profile
    /// instead of the core type (meta.profile still applies).
    /// </summary>
    public OperationOutcome Validate(Resource resource, string? profile = null)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (_prefetch) _resolver.Prefetch(PrefetchKeys(resource, profile));
        _gate.Ensure(resource, profile, ProfilePolicy.MetaProfile);
        var oo = _fast is { } fast && resource is not Bundle
            ? fast.Validate(resource, ApplicableProfiles(resource, profile), $"{profile}|{CurrentPolicy.Value}", () => Run(resource, profile))
            : Run(resource, profile);
        return Finish(oo, resource, profile);
    }

    /// <summary>Validates a Bundle: the Bundle itself, then each entry against its own type and meta.profile, and with
    /// <see cref="ProfilePolicy.MetaProfileAndKind"/> also against the configured profile of its resource type.
    /// In-bundle references are resolved and checked against their target profiles. A large Bundle is validated in chunks
    /// (same findings, linear time); <paramref name="cancellationToken"/> is checked between chunks
    /// (<see cref="OperationCanceledException"/>).</summary>
    public OperationOutcome ValidateBundle(Bundle bundle, ProfilePolicy policy = ProfilePolicy.MetaProfile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return ValidateBundle(bundle, policy, bundle.Entry.Count > ChunkedAbove ? ChunkSize : 0, cancellationToken);
    }

    /// <summary>As <see cref="ValidateBundle(Bundle, ProfilePolicy)"/>, in chunks of <paramref name="chunkSize"/> entries
    /// (<see cref="ChunkedBundle"/>), or in one pass when 0. Internal: the equivalence tests compare the two.</summary>
    internal OperationOutcome ValidateBundle(Bundle bundle, ProfilePolicy policy, int chunkSize, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_prefetch)
        {
            _resolver.Prefetch(bundle.Entry.Select(e => e.Resource).OfType<Resource>()
                .SelectMany(r => PrefetchKeys(r, policy == ProfilePolicy.MetaProfileAndKind && _byKind.TryGetValue(r.TypeName, out var k) ? k : null))
                .Prepend(nameof(Bundle)).Distinct(StringComparer.Ordinal));
        }
        var previous = CurrentPolicy.Value;
        CurrentPolicy.Value = policy;
        try
        {
            _gate.Ensure(bundle, null, policy);
            var oo = chunkSize > 0 ? ChunkedBundle.Validate(bundle, chunkSize, b => Run(b, null), cancellationToken) : Run(bundle, null);
            return Finish(oo, bundle, null);
        }
        finally
        {
            CurrentPolicy.Value = previous;
        }
    }

    /// <summary>Lenient parse (see <see cref="TrdFhirParser"/>) then validate; parse problems come first in the outcome.</summary>
    public OperationOutcome ValidateJson(string json, string? profile = null, ProfilePolicy policy = ProfilePolicy.MetaProfile)
    {
        var parsed = TrdFhirParser.ParseJson(json);
        if (parsed.Resource is null) return parsed.Outcome;
        var oo = parsed.Resource is Bundle b && profile is null ? ValidateBundle(b, policy) : Validate(parsed.Resource, profile);
        if (parsed.Outcome.Issue.Count == 0) return oo;
        var merged = new OperationOutcome();
        merged.Issue.AddRange(parsed.Outcome.Issue);
        merged.Issue.AddRange(oo.Issue);
        return merged;
    }

    /// <summary>
    /// Loads and compiles, single-threaded, everything a validation of the given resource types and of all our profiles
    /// needs (default: the TRD resource types), so that later concurrent validations only read caches. Call once at start-up.
    /// </summary>
    public void WarmUp(IEnumerable<string>? resourceTypes = null)
    {
        foreach (var type in resourceTypes ?? CoreSliceBuilder.SeedResourceTypes)
        {
            if (ModelInfo.GetTypeForFhirType(type) is not { } t || Activator.CreateInstance(t) is not Resource r) continue;
            _validator.Validate(r);
        }
        foreach (var url in ProfileUrls)
        {
            if (_resolver.Resolve(url) is not StructureDefinition { Kind: StructureDefinition.StructureDefinitionKind.Resource, Type: { } type }) continue;
            if (ModelInfo.GetTypeForFhirType(type) is not { } t || Activator.CreateInstance(t) is not Resource r) continue;
            _validator.Validate(r, url);
        }
        foreach (var url in _byKind.Values) _resolver.Resolve(url);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
    }

    /// <summary>Keys of the recorded prefetch lists: our profiles by URL, core types by name (see the generator).</summary>
    private static IEnumerable<string> PrefetchKeys(Resource r, string? profile)
    {
        if (profile is not null) yield return profile;
        foreach (var p in r.Meta?.Profile.OfType<string>() ?? []) yield return p;
        yield return r.TypeName;
    }

    /// <summary>The URIs a cold validation of <paramref name="instance"/> requests, in order (generator use).</summary>
    internal IReadOnlyList<string> RecordRequests(Resource instance, string? profile)
    {
        _validator.Validate(instance, profile);
        return _resolver.RequestLog.ToList();
    }

    /// <summary>
    /// The validator throws when it cannot compile a profile (e.g. a target profile nobody can resolve); a CI caller
    /// wants that as an outcome too.
    /// </summary>
    private OperationOutcome Run(Resource resource, string? profile)
    {
        try
        {
            return _shared is { } shared ? shared.Validate(resource.ToPocoNode(ModelInfo.ModelInspector), profile) : _validator.Validate(resource, profile);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && resource is Bundle bundle)
        {
            return EntryIsolation.Validate(bundle, r => _validator.Validate(r), ex);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var oo = new OperationOutcome();
            oo.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Fatal,
                Code = OperationOutcome.IssueType.Exception,
                Details = new CodeableConcept { Text = $"Validation could not run: {ex.GetBaseException().Message}" },
                Expression = [resource.TypeName],
            });
            return oo;
        }
    }

    private OperationOutcome Finish(OperationOutcome oo, Resource instance, string? profile)
    {
        IssueExpressions.Normalise(oo, instance);
        Checks?.Apply(oo, instance);
        // A profile whose snapshot could not be generated resolves to nothing; say why, next to the validator's own message.
        foreach (var (url, failure) in _resolver.SnapshotFailures)
        {
            var claimed = profile == url || (instance.Meta?.Profile.Contains(url) ?? false);
            if (!claimed) continue;
            foreach (var i in failure.Issue.Where(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal))
            {
                oo.Issue.Add(new OperationOutcome.IssueComponent
                {
                    Severity = OperationOutcome.IssueSeverity.Error,
                    Code = OperationOutcome.IssueType.Incomplete,
                    Diagnostics = $"Snapshot generation failed for profile '{url}': {i.Details?.Text ?? i.Diagnostics}",
                });
            }
        }
        return oo;
    }

    /// <summary>Every profile the engine may validate <paramref name="r"/> against besides its core type: the explicit one,
    /// meta.profile, and what <see cref="SelectProfiles"/> adds (<see cref="ImpliedProfiles"/>). The fast path's key and rules
    /// depend on it, so it is built from the very list the engine's hook uses.</summary>
    private List<string> ApplicableProfiles(Resource r, string? profile)
    {
        var list = new List<string>();
        if (profile is not null) list.Add(profile);
        list.AddRange(r.Meta?.Profile.OfType<string>() ?? []);
        list.AddRange(ImpliedProfiles(r, _byKind));
        return list;
    }

    /// <summary>The profiles a resource is validated against beyond those it claims: the vital-signs profile its LOINC code
    /// implies, and with <see cref="ProfilePolicy.MetaProfileAndKind"/> the configured profile of its type.</summary>
    private static IEnumerable<string> ImpliedProfiles(Resource r, Dictionary<string, string> byKind)
    {
        if (VitalSigns.ImpliedProfile(r) is { } vital) yield return vital;
        if (CurrentPolicy.Value == ProfilePolicy.MetaProfileAndKind && byKind.TryGetValue(r.TypeName, out var url)) yield return url;
    }

    private static Firely.Fhir.Validation.Canonical[] SelectProfiles(Firely.Fhir.Validation.Canonical[] profiles, PocoNode node, Dictionary<string, string> byKind)
    {
        if (node.Poco is not Resource r || r is Bundle) return profiles;
        foreach (var url in ImpliedProfiles(r, byKind))
        {
            if (!profiles.Any(p => p.Uri == url)) profiles = [.. profiles, new Firely.Fhir.Validation.Canonical(url)];
        }
        return profiles;
    }
}
