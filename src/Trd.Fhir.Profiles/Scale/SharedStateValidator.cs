#pragma warning disable ExperimentalApi // Firely marks its validation internals experimental; pinned to Firely.Fhir.Validation 3.6.0
using System.Reflection;
using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Hl7.FhirPath;
using Hl7.Fhir.FhirPath;
using Hl7.FhirPath.Expressions;

namespace Trd.Fhir.Profiles.Scale;

/// <summary>
/// Runs exactly what <see cref="Validator.Validate(PocoNode, string?)"/> runs — the same schema, settings, clean-up and
/// issue transformation — but with one FHIRPath expression cache shared by every validation in the process.
/// <para>
/// Why: the validator keeps the compiled FHIRPath of slicing discriminators (PathSelectorValidator) in a cache it creates
/// per validation, together with a new compiler and symbol table; so every validation re-parsed and re-compiled those
/// expressions into new dynamic methods, which the finalizer thread then collected — measured as the largest single cost of
/// a warm validation of our resources (parse ≈ 11 %, symbol tables ≈ 5 %, and the finalizer thread busy a third of the time).
/// The cache is keyed by the expression text and built with the same compiler configuration the validator would build, so
/// the compiled expressions are the same; compiled expressions are shared across threads by the validator itself already.
/// </para>
/// <para>
/// The validator's state and entry points are internal: they are reached by reflection once. If anything is not found
/// (another Firely version), <see cref="TryCreate"/> returns null and the public <see cref="Validator"/> is used.
/// Equivalence with the public entry point: SharedStateValidatorTests (golden corpus and mutations).
/// </para>
/// </summary>
internal sealed class SharedStateValidator
{
    private static readonly Func<IAssertion, PocoNode, ValidationSettings, ValidationState, ResultReport>? ValidateOne =
        typeof(AssertionValidators).GetMethod("ValidateOne", BindingFlags.Static | BindingFlags.NonPublic, [typeof(IAssertion), typeof(PocoNode), typeof(ValidationSettings), typeof(ValidationState)])
            ?.CreateDelegate<Func<IAssertion, PocoNode, ValidationSettings, ValidationState, ResultReport>>();

    private static readonly Func<ResultReport, ResultReport>? CleanUp =
        typeof(AssertionToOperationOutcomeExtensions).GetMethod("CleanUp", BindingFlags.Static | BindingFlags.NonPublic, [typeof(ResultReport)])
            ?.CreateDelegate<Func<ResultReport, ResultReport>>();

    private static readonly PropertyInfo? Global = typeof(ValidationState).GetProperty("Global", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly PropertyInfo? FpCache = Global?.PropertyType.GetProperty("FPCompilerCache", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
    private static readonly FieldInfo? Settings = typeof(Validator).GetField("_settings", BindingFlags.Instance | BindingFlags.NonPublic);

    private readonly ValidationSettings _settings;
    private readonly FhirPathCompilerCache _cache;

    private SharedStateValidator(ValidationSettings settings)
    {
        _settings = settings;
        // What PathSelectorValidator builds per validation when settings.FhirPathCompiler is null — built once.
        var compiler = settings.FhirPathCompiler ?? new FhirPathCompiler(new SymbolTable().AddStandardFP().AddFhirExtensions());
        _cache = new FhirPathCompilerCache(compiler, cacheSize: 10_000);
    }

    public static SharedStateValidator? TryCreate(Validator validator)
    {
        if (ValidateOne is null || CleanUp is null || Global is null || FpCache?.SetMethod is null) return null;
        return Settings?.GetValue(validator) is ValidationSettings s && s.ElementSchemaResolverIsSet() ? new SharedStateValidator(s) : null;
    }

    public OperationOutcome Validate(PocoNode node, string? profile)
    {
        // Validator.Validate: profile ?? TypeNameMapper.MapTypeName(type) (mapper, else the core type)
        var schema = profile is not null ? new Firely.Fhir.Validation.Canonical(profile)
            : _settings.TypeNameMapper?.Invoke(node.Poco.TypeName) ?? Firely.Fhir.Validation.Canonical.ForCoreType(node.Poco.TypeName);
        var state = new ValidationState();
        FpCache!.SetValue(Global!.GetValue(state), _cache);
        var report = CleanUp!(ValidateOne!(new SchemaReferenceValidator(schema), node, _settings, state));
        if (_settings.TransformIssues is { } transform) report = report.TransformIssues(transform);
        return report.ToOperationOutcome();
    }
}

internal static class ValidationSettingsExtensions
{
    /// <summary>The validator's constructor sets the (internal) element schema resolver; a settings object without one cannot validate.</summary>
    public static bool ElementSchemaResolverIsSet(this ValidationSettings s) =>
        typeof(ValidationSettings).GetField("ElementSchemaResolver", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(s) is not null;
}
