using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;
using Trd.Fhir.Profiles.Validation;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>trd-fhir validate</c>: FHIR R4 files, directories, Bundles and NDJSON against our profiles (plus <c>--ig</c>
/// packages). Thin: expands the inputs, streams them as units (a file, or one NDJSON line) through the validator —
/// in parallel once there is more than one, results in input order — into a <see cref="ValidationOutput"/>, and
/// returns 0 (all valid, warnings allowed), 1 (an error or fatal issue) or 2 (usage error or unreadable input).
/// </summary>
internal static partial class ValidateCommand
{
    private enum InputKind { Json, Xml, Ndjson }

    private sealed record Input(string Path, InputKind Kind, bool FromDirectory, bool Missing = false);

    /// <summary>One thing to validate: a whole file (<see cref="Line"/> null) or one NDJSON line; or why it cannot be read
    /// (for an NDJSON line that is not UTF-8: at <see cref="Column"/>).</summary>
    private sealed record Unit(Input Input, int? Line, byte[]? Utf8, string? ReadError, int? Column = null);

    /// <summary>NDJSON is decoded line by line; bytes that are not UTF-8 become U+FFFF (a noncharacter no FHIR content
    /// holds), so the line and column can be reported instead of silently decoding them to U+FFFD.</summary>
    private const char NotUtf8 = '\uFFFF';

    private static readonly Encoding NdjsonEncoding = Encoding.GetEncoding("utf-8", EncoderFallback.ReplacementFallback, new DecoderReplacementFallback(NotUtf8.ToString()));

    /// <summary>How each resource is checked, fixed for a run.</summary>
    private sealed record Plan(string? Profile, bool ByKind, IReadOnlyDictionary<string, string> KindProfiles);

    public static Command Create(CliConsole console)
    {
        var paths = new Argument<string[]>("paths")
        {
            Description = "FHIR R4 files (.json, .xml, .ndjson with one resource per line) or directories (searched recursively for those; JSON files without a resourceType found there, e.g. package.json, are skipped)",
            Arity = ArgumentArity.OneOrMore,
        };
        var profile = new Option<string?>("--profile") { Description = "Validate every input (the top-level resource) against this profile URL, in addition to its meta.profile" };
        var igs = new Option<string[]>("--ig") { Description = "A FHIR NPM package (.tgz), an extracted package or directory of FHIR JSON artefacts, or a directory of packages such as the FHIR package cache ~/.fhir/packages (repeatable)", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false };
        var byKind = new Option<bool>("--profile-by-kind") { Description = "Also validate each resource (and each Bundle entry) against our profile for its resource type, where we have exactly one (e.g. Condition, Goal, CareTeam, MedicationRequest); add others (Observation, CarePlan, ServiceRequest, Procedure have several) with --kind-profile" };
        var kindProfiles = new Option<string[]>("--kind-profile") { Description = "Type=URL: the profile --profile-by-kind applies to that resource type (repeatable)", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false };
        var format = new Option<string>("--format") { Description = "text (default), json (one OperationOutcome per input and NDJSON line, as NDJSON), junit, sarif", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong(ValidationOutput.Formats);
        var jobs = new Option<int>("--jobs", "-j") { Description = "Inputs validated at once (default: the number of processors)", DefaultValueFactory = _ => Environment.ProcessorCount };
        jobs.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError("--jobs must be at least 1");
        });

        var command = new Command("validate", "Validate FHIR R4 resources, Bundles and NDJSON against the Trd.Fhir profiles (and --ig packages)")
        {
            paths, profile, igs, byKind, kindProfiles, format, jobs,
        };
        command.SetAction(parse =>
        {
            var kinds = KindProfiles(parse.GetValue(byKind), parse.GetValue(kindProfiles) ?? [], console);
            if (kinds is null) return ExitCodes.UsageOrInput;
            using var lease = SharedValidator.Open(parse.GetValue(igs) ?? [], kinds, console);
            if (lease is null) return ExitCodes.UsageOrInput;
            var explicitProfile = parse.GetValue(profile);
            if (explicitProfile is not null && !IsKnownProfile(lease.Validator, explicitProfile))
            {
                console.Error($"validate: --profile {explicitProfile}: unknown profile (fix: use one of ours, e.g. {ProfileUrls.Phq9Total}, a core profile, or add the package that defines it with --ig)");
                return ExitCodes.UsageOrInput;
            }
            var inputs = Expand(parse.GetValue(paths)!);
            var plan = new Plan(explicitProfile, parse.GetValue(byKind), kinds);
            using var output = ValidationOutput.Create(parse.GetValue(format)!, console.StdOut);
            var totals = Run(inputs, plan, lease, output, parse.GetValue(jobs), console);
            output.Complete(totals);
            return totals.Unreadable > 0 ? ExitCodes.UsageOrInput : totals.Failed > 0 ? ExitCodes.ValidationFailed : ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// <c>trd-fhir map</c>'s check of the Bundle it produced: issues printed as <c>file: severity code: expression: message</c>
    /// on stderr; true when it conforms (warnings allowed).
    /// </summary>
    internal static bool CheckMapped(string file, Bundle bundle, SharedValidator validator, CliConsole console)
    {
        var oo = validator.Run(KindKey(bundle), v => v.ValidateBundle(bundle));
        var result = new ValidationResult(file, null, Label(bundle), oo, [], [],
            Resources: oo.Issue.Select(i => i.Expression.FirstOrDefault() is { } e ? IssueResources.Annotate(e, bundle) : ((string, string?)?)null).ToList());
        foreach (var f in result.Findings())
            console.Error($"{file}: {f.Severity} {f.Code}: {(f.Expression is null ? "" : f.Expression + ": ")}{f.Message}");
        if (!result.HasErrors) return true;
        var errors = result.Findings().Count(f => f.IsError);
        console.Error($"{file}: the mapped Bundle does not conform to the profiles ({errors} error(s)); it was not written (fix: correct the protocol document, or map with --no-validate to write it anyway)");
        return false;
    }

    private static bool IsKnownProfile(TrdValidator validator, string url) =>
        validator.ProfileUrls.Contains(url, StringComparer.Ordinal) || url.StartsWith("http://hl7.org/fhir/StructureDefinition/", StringComparison.Ordinal);

    /// <summary>resourceType → profile for <c>--profile-by-kind</c>: ours where a type has exactly one, then <c>--kind-profile</c>.</summary>
    private static Dictionary<string, string>? KindProfiles(bool byKind, string[] pairs, CliConsole console)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!byKind && pairs.Length == 0) return map;
        foreach (var (type, urls) in OurResourceProfiles())
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

    /// <summary>Our resource profiles (embedded profiles/*.json) by the resource type they constrain.</summary>
    private static IEnumerable<(string Type, List<string> Urls)> OurResourceProfiles()
    {
        var asm = typeof(TrdValidator).Assembly;
        var found = new List<(string Type, string Url)>();
        foreach (var name in asm.GetManifestResourceNames().Where(n => n.StartsWith("profiles/StructureDefinition-", StringComparison.Ordinal)))
        {
            using var stream = asm.GetManifestResourceStream(name)!;
            using var doc = JsonDocument.Parse(stream);
            var root = doc.RootElement;
            if (root.TryGetProperty("kind", out var kind) && kind.GetString() == "resource"
                && root.TryGetProperty("type", out var type) && root.TryGetProperty("url", out var url))
                found.Add((type.GetString()!, url.GetString()!));
        }
        return found.GroupBy(f => f.Type, StringComparer.Ordinal).Select(g => (g.Key, g.Select(f => f.Url).Order(StringComparer.Ordinal).ToList()));
    }

    private static readonly string[] Extensions = [".json", ".xml", ".ndjson"];

    /// <summary>Files as given, directories recursively (sorted); a path that does not exist stays, to be reported in order.</summary>
    private static List<Input> Expand(IEnumerable<string> paths)
    {
        var inputs = new List<Input>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
                inputs.Add(new Input(path, KindOf(path), FromDirectory: false));
            else if (Directory.Exists(path))
            {
                inputs.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal)
                    .Select(f => new Input(f, KindOf(f), FromDirectory: true)));
            }
            else
                inputs.Add(new Input(path, InputKind.Json, FromDirectory: false, Missing: true));
        }
        return inputs;
    }

    private static InputKind KindOf(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".ndjson" or ".jsonl") return InputKind.Ndjson;
        if (ext == ".xml") return InputKind.Xml;
        if (ext == ".json") return InputKind.Json;
        try
        {
            using var s = File.OpenRead(path);
            int b;
            while ((b = s.ReadByte()) is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF) { }
            return b == '<' ? InputKind.Xml : InputKind.Json;
        }
        catch (IOException)
        {
            return InputKind.Json; // reported when the unit is read
        }
    }

    /// <summary>The units of every input, lazily and in order: NDJSON is read one line at a time.</summary>
    private static IEnumerable<Unit> Units(IEnumerable<Input> inputs)
    {
        foreach (var input in inputs)
        {
            if (input.Missing)
            {
                yield return new Unit(input, null, null, null);
                continue;
            }
            if (input.Kind != InputKind.Ndjson)
            {
                yield return Read(input);
                continue;
            }
            StreamReader? reader;
            string? error = null;
            try
            {
                reader = new StreamReader(input.Path, NdjsonEncoding, detectEncodingFromByteOrderMarks: false, new FileStreamOptions { BufferSize = 1 << 16 });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                reader = null;
                error = e.Message;
            }
            if (reader is null)
            {
                yield return new Unit(input, null, null, error);
                continue;
            }
            using (reader)
            {
                var number = 0;
                while (reader.ReadLine() is { } line)
                {
                    number++;
                    if (string.IsNullOrWhiteSpace(line)) continue;
                    var bad = line.IndexOf(NotUtf8);
                    yield return bad < 0
                        ? new Unit(input, number, Encoding.UTF8.GetBytes(line.TrimStart('\uFEFF')), null)
                        : new Unit(input, number, null, $"Invalid JSON: bytes that are not UTF-8 at column {bad + 1} (FHIR content is UTF-8).", bad + 1);
                }
            }
        }
    }

    private static Unit Read(Input input)
    {
        try
        {
            return new Unit(input, null, File.ReadAllBytes(input.Path), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new Unit(input, null, null, e.Message);
        }
    }

    private static ValidationTotals Run(List<Input> inputs, Plan plan, SharedValidator validator, ValidationOutput output, int jobs, CliConsole console)
    {
        var totals = new ValidationTotals { Files = inputs.Count };
        var progress = new Progress(console);
        void Sink(ValidationResult? r)
        {
            if (r is null) return;
            if (r.Unreadable) console.Error(Finding.MessageOf(r.Outcome.Issue[0]));
            totals.Add(r);
            output.Write(r);
            progress.Report(totals);
        }

        // One file (not NDJSON): validate it here and now, cold, without paying for a warm-up of every profile.
        var parallel = jobs > 1 && (inputs.Count > 1 || inputs.Any(i => i.Kind == InputKind.Ndjson));
        if (!parallel)
        {
            foreach (var unit in Units(inputs)) Sink(Check(unit, plan, validator));
            return totals;
        }

        validator.EnsureWarm();
        // Bounded, ordered: at most `jobs` validations run at once, at most 4×jobs results wait for an earlier one.
        using var slots = new SemaphoreSlim(jobs);
        var window = new Queue<Task<ValidationResult?>>();
        foreach (var unit in Units(inputs))
        {
            while (window.Count >= jobs * 4) Sink(window.Dequeue().GetAwaiter().GetResult());
            slots.Wait();
            window.Enqueue(System.Threading.Tasks.Task.Run(() =>
            {
                try
                {
                    return Check(unit, plan, validator);
                }
                finally
                {
                    slots.Release();
                }
            }));
        }
        while (window.Count > 0) Sink(window.Dequeue().GetAwaiter().GetResult());
        return totals;
    }

    /// <summary>Parses and validates one unit; null for a directory file that is JSON but not a FHIR resource (skipped).</summary>
    private static ValidationResult? Check(Unit unit, Plan plan, SharedValidator validator)
    {
        var file = unit.Input.Path;
        if (unit.Input.Missing)
            return Unreadable(file, $"{file}: no such file or directory (fix: check the path)", OperationOutcome.IssueType.NotFound);
        if (unit is { Line: { } line, Column: { } column, ReadError: { } notUtf8 })
        {
            // A bad NDJSON line is a failed record, reported at its line and column.
            var bad = new OperationOutcome();
            bad.Issue.Add(new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.Structure, Details = new CodeableConcept { Text = notUtf8 }, Diagnostics = $"line {line}, position {column}" });
            return Located(unit, null, bad, []);
        }
        if (unit.ReadError is not null || unit.Utf8 is null)
            return Unreadable(file, $"{file}: cannot read: {unit.ReadError} (fix: check the path and its permissions)", OperationOutcome.IssueType.NotFound);

        var parsed = TrdFhirParser.Parse(unit.Utf8, xml: unit.Input.Kind == InputKind.Xml);
        if (parsed.Resource is null)
        {
            var kind = parsed.Outcome.Issue.Select(i => i.Details?.Coding.FirstOrDefault()?.Code).FirstOrDefault();
            if (unit.Line is null && unit.Input.FromDirectory && kind == "resource-type" && unit.Input.Kind == InputKind.Json && NoResourceType(unit.Utf8))
                return null;
            // Well-formed, but the SDK's parser threw: a fatal finding for this input (a validation failure), not unreadable input.
            if (kind == TrdFhirParser.ParserFailure) return Located(unit, null, parsed.Outcome, []);
            if (unit.Line is null) return Unreadable(file, NotFhirMessage(file, unit.Input.Kind, parsed.Outcome), OperationOutcome.IssueType.Structure, ParserAt(parsed.Outcome));
            // A bad NDJSON line is a failed record, reported at its line, not an unreadable input.
            return Located(unit, null, parsed.Outcome, []);
        }

        var resource = parsed.Resource;
        OperationOutcome oo;
        try
        {
            oo = validator.Run(KindKey(resource), v => Validate(v, resource, plan));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            oo = new OperationOutcome();
            oo.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Fatal,
                Code = OperationOutcome.IssueType.Exception,
                Details = new CodeableConcept { Text = $"The validator failed on this resource: {e.GetType().Name}: {e.Message}" },
            });
        }
        if (parsed.Outcome.Issue.Count > 0)
        {
            var merged = new OperationOutcome();
            merged.Issue.AddRange(parsed.Outcome.Issue);
            merged.Issue.AddRange(oo.Issue);
            oo = merged;
        }
        var entries = resource is Bundle b && plan.Profile is null ? b.Entry.Select(e => e.Resource is { } r ? IssueResources.Label(r, e.FullUrl) : "(no resource)").ToList() : [];
        return Located(unit, resource, oo, entries);
    }

    private static OperationOutcome Validate(TrdValidator v, Resource resource, Plan plan)
    {
        if (plan.Profile is not null) return v.Validate(resource, plan.Profile);
        if (resource is Bundle bundle) return v.ValidateBundle(bundle, plan.ByKind ? ProfilePolicy.MetaProfileAndKind : ProfilePolicy.MetaProfile);
        if (plan.ByKind && plan.KindProfiles.TryGetValue(resource.TypeName, out var kind)) return v.Validate(resource, kind);
        return v.Validate(resource);
    }

    /// <summary>The result with a file position for each issue: from the parser's line/position, else from its expression.</summary>
    private static ValidationResult Located(Unit unit, Resource? resource, OperationOutcome oo, IReadOnlyList<string> entries)
    {
        var positions = new (int Line, int Column)?[oo.Issue.Count];
        Dictionary<string, (int Line, int Column)>? index = null;
        for (var k = 0; k < oo.Issue.Count; k++)
        {
            var issue = oo.Issue[k];
            (int Line, int Column)? at = null;
            if (issue.Diagnostics is { } d && ParserPosition().Match(d) is { Success: true } m)
                at = (int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture));
            else if (unit.Input.Kind != InputKind.Xml && issue.Expression.FirstOrDefault() is { } expression)
                at = Locate(index ??= JsonLineIndex.Build(unit.Utf8), expression);
            if (at is { } p && unit.Line is { } line) at = (line, p.Column); // NDJSON: the line of the file, the column in it
            positions[k] = at;
        }
        var resources = resource is null ? null : oo.Issue
            .Select(i => i.Expression.FirstOrDefault() is { } e ? IssueResources.Annotate(e, resource) : ((string, string?)?)null)
            .Select(a => a is { Item2: not null } ? a : null).ToList();
        return new ValidationResult(unit.Input.Path, unit.Line, resource is null ? null : Label(resource), oo, positions, entries, Resources: resources);
    }

    /// <summary>
    /// Where a FHIRPath issue expression (<c>Bundle.entry[2].resource.value</c>) starts in the JSON: its JSON path
    /// (<c>$.entry[2].resource.valueQuantity</c>, choice elements by their typed name), or its nearest located ancestor.
    /// </summary>
    internal static (int Line, int Column)? Locate(Dictionary<string, (int Line, int Column)> index, string expression)
    {
        var path = "$";
        index.TryGetValue(path, out var found);
        (int, int)? best = index.ContainsKey(path) ? found : null;
        var steps = expression.Split('.');
        for (var s = 1; s < steps.Length; s++)
        {
            var step = steps[s];
            if (step.Contains('(', StringComparison.Ordinal)) break;
            var open = step.IndexOf('[', StringComparison.Ordinal);
            var name = open < 0 ? step : step[..open];
            var candidate = $"{path}.{name}";
            if (!index.ContainsKey(candidate))
            {
                var choice = index.Keys.Where(key => key.Length > candidate.Length && key.StartsWith(candidate, StringComparison.Ordinal)
                        && char.IsUpper(key[candidate.Length]) && key.IndexOfAny(['.', '['], candidate.Length) < 0)
                    .Order(StringComparer.Ordinal).FirstOrDefault();
                if (choice is null) break;
                candidate = choice;
            }
            path = candidate;
            best = index[path];
            if (open < 0) continue;
            candidate = path + step[open..];
            if (!index.TryGetValue(candidate, out var item)) break;
            path = candidate;
            best = item;
        }
        return best;
    }

    private static bool NoResourceType(byte[] utf8)
    {
        try
        {
            using var doc = JsonDocument.Parse(utf8);
            return doc.RootElement.ValueKind == JsonValueKind.Object && !doc.RootElement.TryGetProperty("resourceType", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string NotFhirMessage(string file, InputKind kind, OperationOutcome outcome)
    {
        var issue = outcome.Issue[0];
        var code = issue.Details?.Coding.FirstOrDefault()?.Code;
        var where = issue.Diagnostics is { } d && ParserPosition().Match(d) is { Success: true } m ? $"{file}:{m.Groups[1].Value}:{m.Groups[2].Value}" : file;
        return code switch
        {
            "json-syntax" => $"{where}: not JSON: {Finding.MessageOf(issue)} (fix: give FHIR R4 JSON or XML; a file of one JSON resource per line must be named *.ndjson)",
            "xml-syntax" => $"{where}: not XML: {Finding.MessageOf(issue)} (fix: give well-formed FHIR R4 XML, or JSON)",
            "too-many-items" => $"{where}: too large: {Finding.MessageOf(issue)} (fix: split it; many resources go one per line in NDJSON)",
            _ => $"{where}: not a FHIR R4 resource: {Finding.MessageOf(issue)} (fix: give a FHIR R4 resource or Bundle with a valid 'resourceType'{(kind == InputKind.Xml ? " (root element in the FHIR namespace)" : "")})",
        };
    }

    private static ValidationResult Unreadable(string file, string message, OperationOutcome.IssueType type, (int Line, int Column)? at = null)
    {
        var oo = new OperationOutcome();
        oo.Issue.Add(new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Fatal, Code = type, Details = new CodeableConcept { Text = message } });
        return new ValidationResult(file, null, null, oo, [at], [], Unreadable: true);
    }

    /// <summary>The parser's <c>line L, position P</c> of the first issue, if it gave one.</summary>
    private static (int Line, int Column)? ParserAt(OperationOutcome outcome) =>
        outcome.Issue.FirstOrDefault()?.Diagnostics is { } d && ParserPosition().Match(d) is { Success: true } m
            ? (int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture))
            : null;

    private static string Label(Resource r) => r.Id is { Length: > 0 } id ? $"{r.TypeName}/{id}" : r.TypeName;

    /// <summary>What decides which schemas a validation compiles: resource type(s) and claimed profiles.</summary>
    internal static string KindKey(Resource r)
    {
        static string One(Resource x) => x.TypeName + "|" + string.Join('|', (x.Meta?.Profile ?? []).Order(StringComparer.Ordinal));
        return r is Bundle b
            ? "Bundle{" + string.Join(';', b.Entry.Select(e => e.Resource).OfType<Resource>().Select(One).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)) + "}"
            : One(r);
    }

    [GeneratedRegex(@"^line (\d+), position (\d+)$")]
    private static partial Regex ParserPosition();

    /// <summary>A progress line on the terminal's stderr every few seconds of a long run (never in tests or stdout).</summary>
    private sealed class Progress(CliConsole console)
    {
        private readonly bool _enabled = ReferenceEquals(console, CliConsole.System);
        private readonly long _start = Stopwatch.GetTimestamp();
        private long _last = Stopwatch.GetTimestamp();

        public void Report(ValidationTotals totals)
        {
            if (!_enabled || Stopwatch.GetElapsedTime(_last).TotalSeconds < 5) return;
            _last = Stopwatch.GetTimestamp();
            var seconds = Stopwatch.GetElapsedTime(_start).TotalSeconds;
            console.Error($"validate: {totals.Resources} resource(s), {totals.Failed} invalid, {seconds:F0} s ({totals.Resources / seconds:F0}/s)");
        }
    }
}

/// <summary>
/// A <see cref="TrdValidator"/> for one configuration, shared by every CLI run in the process (tests, a host calling
/// <see cref="CliApp.Run"/> repeatedly): profiles compile once. The first validation of each kind of resource (type +
/// claimed profiles) runs alone, so no two schemas ever compile concurrently; after that, validations run in parallel.
/// Runs with <c>--ig</c> get a private validator, disposed with the lease.
/// </summary>
internal sealed class SharedValidator : IDisposable
{
    private static readonly ConcurrentDictionary<string, Lazy<SharedValidator>> Shared = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _warmKinds = new(StringComparer.Ordinal);
    private readonly Lock _cold = new();
    private readonly bool _owned;
    private bool _warm;

    private SharedValidator(TrdValidator validator, bool owned)
    {
        Validator = validator;
        _owned = owned;
    }

    public TrdValidator Validator { get; }

    /// <summary>The validator for these packages and kind profiles; null (after saying why) when a package cannot be read.</summary>
    public static SharedValidator? Open(IReadOnlyList<string> igs, IReadOnlyDictionary<string, string> kindProfiles, CliConsole console)
    {
        if (igs.Count == 0)
        {
            var key = string.Join(';', kindProfiles.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key}={k.Value}"));
            return Shared.GetOrAdd(key, _ => new Lazy<SharedValidator>(() => new SharedValidator(TrdValidator.Create(Options(kindProfiles)), owned: false))).Value;
        }
        var options = Options(kindProfiles);
        foreach (var ig in igs)
        {
            if (!File.Exists(ig) && !Directory.Exists(ig))
            {
                console.Error($"--ig {ig}: no such file or directory (fix: give a FHIR NPM package .tgz or a directory of FHIR JSON artefacts)");
                return null;
            }
            foreach (var source in IgPackages.Expand(ig)) options.ExtraSources.Add(source);
        }
        try
        {
            return new SharedValidator(TrdValidator.Create(options), owned: true);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or FormatException or JsonException)
        {
            console.Error($"--ig: cannot load the package: {e.Message} (fix: give a FHIR NPM package .tgz (package/*.json inside) or a directory of FHIR JSON artefacts)");
            return null;
        }
    }

    private static TrdValidatorOptions Options(IReadOnlyDictionary<string, string> kindProfiles)
    {
        // As the HL7 validator without the IG loaded: a profile or extension we cannot resolve is a warning, listed once, with the --ig hint.
        var options = new TrdValidatorOptions { UnknownProfile = UnknownProfileSeverity.Warning };
        foreach (var (type, url) in kindProfiles) options.ProfileByResourceType[type] = url;
        return options;
    }

    /// <summary>Validates; the first validation of a kind runs alone (it compiles that kind's schemas).</summary>
    public OperationOutcome Run(string kindKey, Func<TrdValidator, OperationOutcome> validate)
    {
        if (_warmKinds.ContainsKey(kindKey)) return validate(Validator);
        lock (_cold)
        {
            var oo = validate(Validator);
            _warmKinds.TryAdd(kindKey, 0);
            return oo;
        }
    }

    /// <summary>Before a parallel run: <see cref="TrdValidator.WarmUp"/> once (our resource types and every profile).</summary>
    public void EnsureWarm()
    {
        lock (_cold)
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
