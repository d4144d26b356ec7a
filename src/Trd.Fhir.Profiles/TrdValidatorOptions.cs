using Hl7.Fhir.Specification.Terminology;

namespace Trd.Fhir.Profiles;

/// <summary>How <see cref="TrdValidator.ValidateBundle"/> chooses the profiles of each entry.</summary>
public enum ProfilePolicy
{
    /// <summary>Each entry against its core type and every <c>meta.profile</c> it claims.</summary>
    MetaProfile = 0,

    /// <summary>As <see cref="MetaProfile"/>, and also against <see cref="TrdValidatorOptions.ProfileByResourceType"/>[resourceType].</summary>
    MetaProfileAndKind = 1,
}

/// <summary>Severity of the validator's "Unable to resolve reference to profile" issue for a <c>meta.profile</c> nobody knows.</summary>
public enum UnknownProfileSeverity
{
    /// <summary>Default: the instance claims a profile we cannot check, so it is not known to conform.</summary>
    Error = 0,

    /// <summary>Report it, but let the instance pass (e.g. when clients tag resources with third-party profiles).</summary>
    Warning = 1,
}

/// <summary>Options of <see cref="TrdValidator.Create"/>. Every default is the one a CI pipeline wants.</summary>
public sealed class TrdValidatorOptions
{
    /// <summary>Artefacts beyond the embedded <c>profiles/*.json</c> (directories, FHIR NPM packages, in-memory resources).
    /// Listed first wins; extra sources win over embedded artefacts with the same URL. Default: none.</summary>
    public IList<ArtifactSource> ExtraSources { get; } = [];

    /// <summary>Include the <c>profiles/*.json</c> embedded at build time. Default: true.</summary>
    public bool IncludeEmbeddedProfiles { get; set; } = true;

    /// <summary>The R4 core specification archive (Hl7.Fhir.Specification.Data.R4), read only for core artefacts outside
    /// the embedded slice. Default: <c>specification.zip</c> next to the binary.</summary>
    public string? SpecificationZipPath { get; set; }

    /// <summary>Serve core artefacts from the embedded slice. Default: true; false reads every core artefact from the zip
    /// (same results, slower: kept for measurement and for the slice equivalence test).</summary>
    public bool UseCoreSlice { get; set; } = true;

    /// <summary>Use the pre-generated snapshots of embedded profiles when they match the embedded sources. Default: true.</summary>
    public bool UsePregeneratedSnapshots { get; set; } = true;

    /// <summary>On the first validation of a resource type or profile, load on a second core the artefacts the validator
    /// is known (recorded by the generator) to ask for next. Default: true; ignored on a single-core machine.</summary>
    public bool Prefetch { get; set; } = true;

    /// <summary>resourceType → profile URL, applied by <see cref="ProfilePolicy.MetaProfileAndKind"/>. Default: empty.</summary>
    public IDictionary<string, string> ProfileByResourceType { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Severity of an unresolvable <c>meta.profile</c>. Default: <see cref="UnknownProfileSeverity.Error"/>.</summary>
    public UnknownProfileSeverity UnknownProfile { get; set; } = UnknownProfileSeverity.Error;

    /// <summary>
    /// Optional remote terminology service for value sets that are neither ours nor core (e.g. LOINC/SNOMED/RxNorm
    /// sets). Local first: a value set we can resolve is always checked locally. Default: none (such codes are reported
    /// by the local service as not checkable). Must be thread-safe.
    /// </summary>
    public ICodeValidationTerminologyService? RemoteTerminology { get; set; }

    /// <summary>
    /// The base URL of a FHIR terminology server (CLI <c>--tx</c>), used only when <see cref="RemoteTerminology"/> is null:
    /// <c>ValueSet/$validate-code</c> for bindings no local artefact can check, and <c>CodeSystem/$validate-code</c> for every
    /// coding of a code system we do not hold (Validation/CodeRules.cs). A server that cannot be reached gives one warning
    /// per input and is not asked again. Calls are serialised. Default: none.
    /// </summary>
    public Uri? TerminologyServer { get; set; }

    /// <summary>Without a <see cref="TerminologyServer"/>, report codes of large external systems (SNOMED CT, LOINC, RxNorm,
    /// CVX, …) as information "Not checked offline", once per system per outcome. Default: false.</summary>
    public bool ReportCodesNotCheckedOffline { get; set; }

    /// <summary>Without a <see cref="TerminologyServer"/>, count the codings of large external systems (SNOMED CT, LOINC, …)
    /// that were not checked, per system, on the outcome itself (<see cref="Validation.CodesNotCheckedOffline"/>: an
    /// extension, not an issue). Default: false; the CLI and the API (<see cref="ValidatorPool"/>) turn it on.</summary>
    public bool CountCodesNotCheckedOffline { get; set; }

    /// <summary>With <see cref="UnknownProfile"/> = Warning: an extension nobody can resolve whose URL starts with one of these
    /// prefixes is a warning, as in the domains reserved for examples, instead of an error (CLI <c>validate --allow-extension</c>:
    /// a site's own extensions it has no package for; the HL7 validator's allowed extension domains).</summary>
    public IList<string> AllowedExtensionPrefixes { get; } = [];

    /// <summary>Timeout of one call to <see cref="TerminologyServer"/>. Default: 10 s.</summary>
    public TimeSpan TerminologyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Remember the Firely engine's outcome per shape of standalone resource, and give a copy of it for a resource of the
    /// same shape without running the engine again — when every invariant that reads a value the shape leaves free gives
    /// the same on it (Scale/FastPath.cs; docs/benchmarks.md §0.3). Same findings as the engine.
    /// Bundles always take the full engine; off with a <see cref="TerminologyServer"/> or <see cref="RemoteTerminology"/>.
    /// Default: true; false (CLI <c>validate --full-engine</c>) runs the engine on every resource.
    /// </summary>
    public bool FastPath { get; set; } = true;

    /// <summary>Validate through Scale.SharedStateValidator (one FHIRPath cache for the process) when the Firely version
    /// allows it. Default: true; false only to compare with the public Firely entry point (tests, benchmarks).</summary>
    internal bool SharedState { get; set; } = true;
}
