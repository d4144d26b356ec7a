using System.CommandLine;
using System.Globalization;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>trd-fhir validate</c>: FHIR R4 files, directories, Bundles and NDJSON against our profiles (plus <c>--ig</c>
/// packages). Thin: parses the options, runs the <see cref="ValidateFhir"/> use case into a <see cref="ValidationOutput"/>,
/// and returns 0 (all valid, warnings allowed), 1 (an error or fatal issue) or 2 (usage error or unreadable input).
/// </summary>
internal static class ValidateCommand
{
    public static Command Create(CliConsole console, TimeProvider time)
    {
        var paths = new Argument<string[]>("paths")
        {
            Description = "FHIR R4 files (.json, .xml, .ndjson with one resource per line) or directories (searched recursively for those; JSON files without a resourceType found there, e.g. package.json, are skipped)",
            Arity = ArgumentArity.OneOrMore,
        };
        var profile = new Option<string?>("--profile") { Description = "Validate every input (the top-level resource) against this profile URL, in addition to its meta.profile" };
        var igs = new Option<string[]>("--ig") { Description = "A FHIR NPM package (.tgz), an extracted package or directory of FHIR JSON artefacts, or a directory of packages such as the FHIR package cache ~/.fhir/packages (repeatable)", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false };
        var tx = new Option<string?>("--tx") { Description = "A FHIR terminology server's base URL: codes of systems not held offline (SNOMED CT, LOINC, …) and bindings no local ValueSet covers are checked with its $validate-code (unreachable: a warning, the run goes on)" };
        var byKind = new Option<bool>("--profile-by-kind") { Description = "Also validate each resource (and each Bundle entry) against our profile for its resource type, where we have exactly one (e.g. Condition, Goal, CareTeam, MedicationRequest); add others (Observation, CarePlan, ServiceRequest, Procedure have several) with --kind-profile" };
        var kindProfiles = new Option<string[]>("--kind-profile") { Description = "Type=URL: the profile --profile-by-kind applies to that resource type (repeatable)", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false };
        var format = new Option<string>("--format") { Description = "text (default), json (one OperationOutcome per input and NDJSON line, as NDJSON), junit, sarif", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong(ValidationOutput.Formats);
        var jobs = new Option<int>("--jobs", "-j") { Description = "Inputs validated at once (default: the number of processors)", DefaultValueFactory = _ => Environment.ProcessorCount };
        jobs.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError("--jobs must be at least 1");
        });

        var progressWanted = ProgressLine.Option();
        var allowExtensions = new Option<string[]>("--allow-extension") { Description = "An extension URL prefix (e.g. your organisation's https://fhir.hospital.org/StructureDefinition/): unknown extensions under it are warnings, not errors (repeatable)", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false };
        var fullEngine = new Option<bool>("--full-engine") { Description = "Run the Firely engine on every resource: no shape memo (the fast path gives the same findings, faster; docs/benchmarks.md)" };

        var command = new Command("validate", "Validate FHIR R4 resources, Bundles and NDJSON against the Trd.Fhir profiles (and --ig packages)")
        {
            paths, profile, igs, tx, byKind, kindProfiles, format, jobs, progressWanted, fullEngine, allowExtensions,
        };
        command.SetAction(parse =>
        {
            var inputs = ValidationUnits.Expand(parse.GetValue(paths)!, out var empty);
            foreach (var directory in empty)
                console.Error($"validate: no FHIR files (*.json, *.xml, *.ndjson) in {directory} or its subfolders (fix: give a file or a directory that holds some)");
            if (empty.Count > 0)
                return ExitCodes.UsageOrInput;
            var kinds = KindProfiles(parse.GetValue(byKind), parse.GetValue(kindProfiles) ?? [], console);
            if (kinds is null) return ExitCodes.UsageOrInput;
            Uri? server = null;
            if (parse.GetValue(tx) is { } txUrl && (!Uri.TryCreate(txUrl, UriKind.Absolute, out server) || server.Scheme is not ("http" or "https")))
            {
                console.Error($"validate: --tx {txUrl}: not an http(s) URL (fix: give the terminology server's FHIR base URL, e.g. https://tx.example.org/r4)");
                return ExitCodes.UsageOrInput;
            }
            var allowed = parse.GetValue(allowExtensions) ?? [];
            if (allowed.FirstOrDefault(a => !Uri.TryCreate(a, UriKind.Absolute, out _)) is { } notUrl)
            {
                console.Error($"validate: --allow-extension {notUrl}: not an absolute URL prefix (fix: give the start of the extensions' canonical URLs, e.g. https://fhir.hospital.org/StructureDefinition/)");
                return ExitCodes.UsageOrInput;
            }
            if (!ValidatorPool.TryOpen(parse.GetValue(igs) ?? [], kinds, server, parse.GetValue(fullEngine), allowed, out var pool, out var problem))
            {
                console.Error(problem!);
                return ExitCodes.UsageOrInput;
            }
            using var lease = pool!;
            var explicitProfile = parse.GetValue(profile);
            var validate = new ValidateFhir(lease, new ValidationPlan(explicitProfile, parse.GetValue(byKind), kinds));
            if (explicitProfile is not null && !validate.IsKnownProfile(explicitProfile))
            {
                console.Error($"validate: --profile {explicitProfile}: unknown profile (fix: use one of ours, e.g. {ProfileUrls.Phq9Total}, a core profile, or add the package that defines it with --ig)");
                return ExitCodes.UsageOrInput;
            }
            using var output = ValidationOutput.Create(parse.GetValue(format)!, console.StdOut);
            var totals = new ValidationTotals();
            var progress = ProgressLine.For(console, parse.GetValue(progressWanted), time, "validate", "file(s)", inputs.Count);
            // Results come in input order: when one of file k arrives, the k files before it are done (an NDJSON file's
            // lines stream in between: the resource count moves on).
            var position = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var k = inputs.Count - 1; k >= 0; k--) position[inputs[k].Path] = k;
            validate.Run(inputs, parse.GetValue(jobs), r =>
            {
                if (r.Unreadable) console.Error(Finding.MessageOf(r.Outcome.Issue[0]));
                totals.Add(r);
                output.Write(r);
                progress.Report(position.GetValueOrDefault(r.File), string.Create(CultureInfo.InvariantCulture, $"{totals.Resources:N0} resource(s), {totals.Failed:N0} invalid"));
            });
            output.Complete(totals);
            return totals.Unreadable > 0 ? ExitCodes.UsageOrInput : totals.Failed > 0 ? ExitCodes.ValidationFailed : ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// The check of a Bundle this process mapped (<c>map</c>, <c>push</c>): issues printed as
    /// <c>file: severity code: expression: message</c> on stderr; true when it conforms (warnings allowed).
    /// </summary>
    internal static bool ReportMapped(string file, Bundle bundle, OperationOutcome outcome, CliConsole console, string verb)
    {
        var result = ValidateFhir.Produced(file, bundle, outcome);
        foreach (var f in result.Findings())
            console.Error($"{file}: {f.Severity} {f.Code}: {(f.Expression is null ? "" : f.Expression + ": ")}{f.Message}");
        if (!result.HasErrors) return true;
        var errors = result.Findings().Count(f => f.IsError);
        console.Error(verb == "push"
            ? $"{file}: the mapped Bundle does not conform to the profiles ({errors} error(s)); nothing was sent (fix: correct the protocol document, or push with --no-validate to send it anyway)"
            : $"{file}: the mapped Bundle does not conform to the profiles ({errors} error(s)); it was not written (fix: correct the protocol document, or map with --no-validate to write it anyway)");
        return false;
    }

    /// <summary>resourceType → profile for <c>--profile-by-kind</c>: ours where a type has exactly one, then <c>--kind-profile</c>.</summary>
    private static Dictionary<string, string>? KindProfiles(bool byKind, string[] pairs, CliConsole console)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!byKind && pairs.Length == 0) return map;
        foreach (var (type, urls) in IssueLocation.OurResourceProfiles())
        {
            if (urls.Count == 1) map[type] = urls[0];
        }
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var type = eq > 0 ? pair[..eq] : "";
            if (eq <= 0 || eq == pair.Length - 1 || !ModelInfo.IsKnownResource(type))
            {
                console.Error($"validate: --kind-profile {pair}: expected ResourceType=profile-URL (fix: e.g. --kind-profile Observation={ProfileUrls.Phq9Total})");
                return null;
            }
            map[type] = pair[(eq + 1)..];
        }
        return map;
    }
}
