using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;
using Trd.Fhir.Profiles.Validation;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>How each resource of a validation run is checked: an explicit profile, or each resource (and Bundle entry) also
/// against the profile for its type (<see cref="KindProfiles"/>).</summary>
public sealed record ValidationPlan(string? Profile, bool ByKind, IReadOnlyDictionary<string, string> KindProfiles)
{
    public static ValidationPlan Default { get; } = new(null, false, new Dictionary<string, string>());
}

/// <summary>
/// The validate use case (CLI <c>validate</c>; API <c>POST /$validate</c> through <see cref="Validate(Resource, CancellationToken)"/>): parses each unit (a file or one NDJSON line) with
/// the Firely SDK, validates it through the <see cref="ValidatorPool"/> and locates every issue in the file. <see cref="Run"/>
/// streams many units — in parallel once there is more than one, results in input order — into a sink.
/// </summary>
public sealed partial class ValidateFhir(ValidatorPool pool, ValidationPlan plan)
{
    public ValidatorPool Pool { get; } = pool;

    /// <summary>Validates every unit of <paramref name="inputs"/>, results to <paramref name="sink"/> in input order (null
    /// for a directory file that is JSON but not a FHIR resource, skipped). At most <paramref name="jobs"/> at once.</summary>
    public void Run(IReadOnlyList<ValidationInput> inputs, int jobs, Action<ValidationResult> sink)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(sink);
        void Sink(ValidationResult? r)
        {
            if (r is not null) sink(r);
        }

        // One file (not NDJSON): validate it here and now, cold, without paying for a warm-up of every profile.
        var parallel = jobs > 1 && (inputs.Count > 1 || inputs.Any(i => i.Kind == InputKind.Ndjson));
        if (!parallel)
        {
            foreach (var unit in ValidationUnits.Read(inputs)) Sink(Check(unit));
            return;
        }

        Pool.EnsureWarm();
        // Bounded, ordered: at most `jobs` validations run at once, at most 4×jobs results wait for an earlier one.
        using var slots = new SemaphoreSlim(jobs);
        var window = new Queue<Task<ValidationResult?>>();
        foreach (var unit in ValidationUnits.Read(inputs))
        {
            while (window.Count >= jobs * 4) Sink(window.Dequeue().GetAwaiter().GetResult());
            slots.Wait();
            window.Enqueue(System.Threading.Tasks.Task.Run(() =>
            {
                try
                {
                    return Check(unit);
                }
                finally
                {
                    slots.Release();
                }
            }));
        }
        while (window.Count > 0) Sink(window.Dequeue().GetAwaiter().GetResult());
    }

    /// <summary>Parses and validates one unit; null for a directory file that is JSON but not a FHIR resource (skipped).</summary>
    public ValidationResult? Check(ValidationUnit unit)
    {
        ArgumentNullException.ThrowIfNull(unit);
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
        var oo = Validate(resource);
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

    /// <summary>One parsed resource by the plan; a failure of the validator itself becomes a fatal issue.</summary>
    public OperationOutcome Validate(Resource resource) => Validate(resource, CancellationToken.None);

    /// <summary>As <see cref="Validate(Resource)"/>, measured (telemetry), and cancellable between the chunks of a large
    /// Bundle (<see cref="OperationCanceledException"/> is not a finding: it reaches the caller).</summary>
    public OperationOutcome Validate(Resource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var outcome = Pool.Run(resource, v => Validate(v, resource, cancellationToken));
            Telemetry.TrdTelemetry.RecordValidation(resource, System.Diagnostics.Stopwatch.GetElapsedTime(started), outcome.Success);
            return outcome;
        }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            var oo = new OperationOutcome();
            oo.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Fatal,
                Code = OperationOutcome.IssueType.Exception,
                Details = new CodeableConcept { Text = $"The validator failed on this resource: {e.GetType().Name}: {e.Message}" },
            });
            return oo;
        }
    }

    private OperationOutcome Validate(TrdValidator v, Resource resource, CancellationToken cancellationToken)
    {
        if (plan.Profile is not null) return v.Validate(resource, plan.Profile);
        if (resource is Bundle bundle) return v.ValidateBundle(bundle, plan.ByKind ? ProfilePolicy.MetaProfileAndKind : ProfilePolicy.MetaProfile, cancellationToken);
        if (plan.ByKind && plan.KindProfiles.TryGetValue(resource.TypeName, out var kind)) return v.Validate(resource, kind);
        return v.Validate(resource);
    }

    /// <summary>A Bundle this process produced (<c>map</c>, <c>push</c>), as a result with a label and findings. Expressions
    /// stay plain FHIRPath (<c>Bundle.entry[0].resource</c>): the entries are ours, named by the protocol's paths.</summary>
    public static ValidationResult Produced(string file, Bundle bundle, OperationOutcome outcome) =>
        new(file, null, Label(bundle), outcome, [], []);

    /// <summary>Whether <paramref name="url"/> is one of ours (or of the --ig packages) or a core profile.</summary>
    public bool IsKnownProfile(string url) =>
        Pool.Validator.ProfileUrls.Contains(url, StringComparer.Ordinal) || url.StartsWith("http://hl7.org/fhir/StructureDefinition/", StringComparison.Ordinal);

    /// <summary>The result with a file position for each issue: from the parser's line/position, else from its expression.</summary>
    private static ValidationResult Located(ValidationUnit unit, Resource? resource, OperationOutcome oo, IReadOnlyList<string> entries)
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
                at = IssueLocation.Locate(index ??= JsonLineIndex.Build(unit.Utf8), expression);
            if (at is { } p && unit.Line is { } line) at = (line, p.Column); // NDJSON: the line of the file, the column in it
            positions[k] = at;
        }
        var resources = resource is null ? null : oo.Issue
            .Select(i => i.Expression.FirstOrDefault() is { } e ? IssueResources.Annotate(e, resource) : ((string, string?)?)null)
            .Select(a => a is { Item2: not null } ? a : null).ToList();
        return new ValidationResult(unit.Input.Path, unit.Line, resource is null ? null : Label(resource), oo, positions, entries, Resources: resources)
        {
            ResourceCount = resource is Bundle bundle ? Math.Max(1, bundle.Entry.Count(e => e.Resource is not null)) : 1,
        };
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

    [GeneratedRegex(@"^line (\d+), position (\d+)$")]
    private static partial Regex ParserPosition();
}
