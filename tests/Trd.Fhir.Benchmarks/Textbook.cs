using Firely.Fhir.Validation;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Specification.Source;
using Hl7.Fhir.Specification.Terminology;

namespace Trd.Fhir.Benchmarks;

/// <summary>
/// The baseline: a Firely <see cref="Validator"/> built the textbook way (Firely docs, validation.md section 3):
/// <c>CachedResolver(SnapshotSource(MultiResolver(DirectorySource(profiles), ZipSource(specification.zip))))</c>, a local
/// terminology service, a Recoverable parser. No pre-generated snapshots, no core slice, no prefetch.
/// </summary>
public static class Textbook
{
    public static Validator Create(string profilesDir)
    {
        var core = new ZipSource(Path.Combine(AppContext.BaseDirectory, "specification.zip"));
        var custom = new DirectorySource(profilesDir, new DirectorySourceSettings { IncludeSubDirectories = false });
        var resolver = new CachedResolver(new SnapshotSource(new MultiResolver(custom, core)));
        return new Validator(resolver, new LocalTerminologyService(resolver));
    }

    public static Resource? Parse(string json)
    {
        var parser = new FhirJsonDeserializer(new DeserializerSettings { AllowUnrecognizedEnums = true }.UsingMode(DeserializationMode.Recoverable));
        parser.TryDeserializeResource(json, out var resource, out _);
        return resource;
    }

    /// <summary>
    /// <c>Trd.Fhir.Benchmarks textbook-cold FILE --profiles DIR</c>: one process, one validation, as a CI step would run it;
    /// the issues on stdout, exit 0 valid / 1 errors / 2 unreadable. Timed from outside by tests/perf/cold-start.sh.
    /// </summary>
    public static int Cold(string[] args)
    {
        var file = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal));
        var profiles = args.SkipWhile(a => a != "--profiles").Skip(1).FirstOrDefault();
        if (file is null || profiles is null)
        {
            Console.Error.WriteLine("usage: Trd.Fhir.Benchmarks textbook-cold FILE --profiles DIR");
            return 2;
        }
        if (Parse(File.ReadAllText(file)) is not { } resource)
        {
            Console.Error.WriteLine($"{file}: not a FHIR resource");
            return 2;
        }
        var oo = Create(profiles).Validate(resource);
        foreach (var issue in oo.Issue)
            Console.WriteLine($"{file}: {issue.Severity} {issue.Code}: {string.Join(",", issue.Expression)}: {issue.Details?.Text}");
        return oo.Success ? 0 : 1;
    }
}
