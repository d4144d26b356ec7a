using System.Collections.Concurrent;
using System.Text.Json;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles;

/// <summary>
/// The one façade the application validates through: a <see cref="TrdValidator"/> for one configuration, warm and shared by
/// everyone in the process (the CLI's runs, the API's requests, a host calling the CLI repeatedly) — profiles compile once.
/// No lock is held while a resource validates: the first validation of each kind of resource (type + claimed profiles)
/// compiles that kind's schemas alone with an empty instance (TrdValidator's compile gate, milliseconds), then the
/// resource itself validates in parallel with everything else — a 10,000-entry Bundle of a new mix of kinds does not hold
/// up a small request. Large Bundles validate in linear time and can be cancelled between chunks. Thread-safe.
/// A pool with extra packages (<see cref="TryOpen"/> with <c>--ig</c>) is private to its caller and disposed by it.
/// </summary>
public sealed class ValidatorPool : IDisposable
{
    private static readonly ConcurrentDictionary<string, Lazy<ValidatorPool>> SharedPools = new(StringComparer.Ordinal);
    private readonly Lock _warmUp = new();
    private readonly bool _owned;
    private volatile bool _warm;

    private ValidatorPool(TrdValidator validator, bool owned)
    {
        Validator = validator;
        _owned = owned;
    }

    public TrdValidator Validator { get; }

    /// <summary>True once <see cref="EnsureWarm"/> has run (every profile compiled).</summary>
    public bool Warm => _warm;

    /// <summary>The process-wide pool for our profiles (and, optionally, a profile per resource type for
    /// <see cref="ProfilePolicy.MetaProfileAndKind"/>). Never disposed by its users.</summary>
    public static ValidatorPool Shared(IReadOnlyDictionary<string, string>? kindProfiles = null)
    {
        kindProfiles ??= new Dictionary<string, string>();
        var key = string.Join(';', kindProfiles.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key}={k.Value}"));
        return SharedPools.GetOrAdd(key, _ => new Lazy<ValidatorPool>(() => new ValidatorPool(TrdValidator.Create(Options(kindProfiles)), owned: false))).Value;
    }

    /// <summary>
    /// The pool for these extra packages (<c>.tgz</c> or directories of FHIR JSON) and kind profiles: the shared one without
    /// packages, else a private one (dispose it). False with a message naming the package and the fix when one cannot be read.
    /// </summary>
    public static bool TryOpen(IReadOnlyList<string> packages, IReadOnlyDictionary<string, string> kindProfiles, out ValidatorPool? pool, out string? error) =>
        TryOpen(packages, kindProfiles, terminologyServer: null, fullEngine: false, allowedExtensions: [], out pool, out error);

    /// <summary>As above; with a terminology server (<c>--tx</c>, <see cref="TrdValidatorOptions.TerminologyServer"/>) a
    /// private pool; with <paramref name="fullEngine"/> (CLI <c>validate --full-engine</c>) a private pool that runs the
    /// Firely engine on every resource (<see cref="TrdValidatorOptions.FastPath"/> off), to compare with the fast path; with
    /// <paramref name="allowedExtensions"/> (<c>--allow-extension</c>, <see cref="TrdValidatorOptions.AllowedExtensionPrefixes"/>)
    /// a private pool where unknown extensions under those URL prefixes are warnings.</summary>
    public static bool TryOpen(IReadOnlyList<string> packages, IReadOnlyDictionary<string, string> kindProfiles, Uri? terminologyServer, bool fullEngine, IReadOnlyList<string> allowedExtensions, out ValidatorPool? pool, out string? error)
    {
        ArgumentNullException.ThrowIfNull(packages);
        ArgumentNullException.ThrowIfNull(kindProfiles);
        ArgumentNullException.ThrowIfNull(allowedExtensions);
        pool = null;
        error = null;
        if (packages.Count == 0 && terminologyServer is null && !fullEngine && allowedExtensions.Count == 0)
        {
            pool = Shared(kindProfiles);
            return true;
        }
        var options = Options(kindProfiles);
        options.TerminologyServer = terminologyServer;
        options.FastPath = !fullEngine;
        foreach (var prefix in allowedExtensions) options.AllowedExtensionPrefixes.Add(prefix);
        foreach (var package in packages)
        {
            if (!File.Exists(package) && !Directory.Exists(package))
            {
                error = $"--ig {package}: no such file or directory (fix: give a FHIR NPM package .tgz or a directory of FHIR JSON artefacts)";
                return false;
            }
            foreach (var source in Validation.IgPackages.Expand(package)) options.ExtraSources.Add(source);
        }
        try
        {
            pool = new ValidatorPool(TrdValidator.Create(options), owned: true);
            return true;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or FormatException or JsonException)
        {
            error = $"--ig: cannot load the package: {e.Message} (fix: give a FHIR NPM package .tgz (package/*.json inside) or a directory of FHIR JSON artefacts)";
            return false;
        }
    }

    private static TrdValidatorOptions Options(IReadOnlyDictionary<string, string> kindProfiles)
    {
        // As the HL7 validator without the IG loaded: a profile nobody can resolve is a warning, an extension an error (a
        // warning in example domains and under --allow-extension prefixes), listed once per URL with the --ig hint
        // (Validation/UnknownArtifacts.cs).
        // Codings of SNOMED CT, LOINC, … not checked without --tx: counted on each outcome, summed by the CLI per run.
        var options = new TrdValidatorOptions { UnknownProfile = UnknownProfileSeverity.Warning, CountCodesNotCheckedOffline = true };
        foreach (var (type, url) in kindProfiles) options.ProfileByResourceType[type] = url;
        return options;
    }

    /// <summary>A resource (against its meta.profile) or a Bundle (each entry against its meta.profile).</summary>
    public OperationOutcome Validate(Resource resource) => Validate(resource, CancellationToken.None);

    /// <summary>As <see cref="Validate(Resource)"/>; a Bundle's validation stops between chunks when
    /// <paramref name="cancellationToken"/> is cancelled (<see cref="OperationCanceledException"/>).</summary>
    public OperationOutcome Validate(Resource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return Run(resource, v => resource is Bundle bundle ? v.ValidateBundle(bundle, ProfilePolicy.MetaProfile, cancellationToken) : v.Validate(resource));
    }

    /// <summary>Validates <paramref name="resource"/> with <paramref name="validate"/>, without a lock (see the class
    /// summary: new kinds are compiled by <see cref="TrdValidator"/> itself, alone, before the resource validates).</summary>
    public OperationOutcome Run(Resource resource, Func<TrdValidator, OperationOutcome> validate)
    {
        ArgumentNullException.ThrowIfNull(resource);
        ArgumentNullException.ThrowIfNull(validate);
        return validate(Validator);
    }

    /// <summary>Before a parallel run or when a host starts: <see cref="TrdValidator.WarmUp"/> once (our resource types and
    /// every profile).</summary>
    public void EnsureWarm()
    {
        lock (_warmUp)
        {
            if (_warm) return;
            Validator.WarmUp();
            _warm = true;
        }
    }

    public void Dispose()
    {
        if (_owned) Validator.Dispose();
    }
}
