using System.Text;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Cohort;

/// <summary>What a cohort run read and produced, next to the read-out itself.</summary>
public sealed record CohortResult(CohortTally Tally, int Files, long Resources, IReadOnlyDictionary<string, long> Skipped, long InvalidResources, IReadOnlyList<string> Problems, int ProblemCount);

/// <summary>
/// An export directory (NDJSON, Bulk Data layout) → one protocol per patient → a cohort read-out. Streams every file into
/// the <see cref="CohortStore"/>, then takes the patients one at a time: parses their resources (Firely SDK), rebuilds the
/// protocol with the tolerant reader, writes it, reads it out with the Clinical rules and adds it to the tally.
/// </summary>
public sealed class CohortWorkflow(FhirToProtocol reader, TimeProvider time)
{
    private const int MaxProblemsListed = 50;

    public ClinicalOptions Clinical { get; init; } = new();

    public int StaleDays { get; init; } = 90;

    /// <summary>Validates each resource on the way in (<c>--validate</c>); null to skip.</summary>
    public Func<Resource, OperationOutcome>? Validate { get; init; }

    public Action<string>? Progress { get; init; }

    /// <summary>Reads the export out; with a <paramref name="partition"/>, only that slice of the patients (see <see cref="Merge"/>).</summary>
    public CohortResult Run(string directory, string? protocolsDirectory, CohortPartition? partition = null)
    {
        var files = Directory.GetFiles(directory, "*.ndjson").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
            throw new FileNotFoundException($"{directory} holds no .ndjson files (fix: the output directory of 'trd-fhir export', or NDJSON files in Bulk Data layout)");
        if (protocolsDirectory is not null)
            Directory.CreateDirectory(protocolsDirectory);
        var problems = new List<string>();
        var problemCount = 0;
        void Problem(string text)
        {
            problemCount++;
            if (problems.Count < MaxProblemsListed)
                problems.Add(text);
        }

        long invalid = 0;
        var storePath = Path.Combine(Path.GetTempPath(), $"trd-cohort-{Environment.ProcessId}-{time.GetTimestamp()}.db");
        using var store = new CohortStore(storePath);
        foreach (var file in files)
        {
            var name = Path.GetFileName(file);
            store.Load(file, name, partition: partition, onLine: Validate is null ? null : (f, line, json) =>
            {
                var resource = FhirJson.Parse(Encoding.UTF8.GetBytes(json), out var issues);
                var outcome = resource is null ? null : Validate(resource);
                var errors = outcome?.Issue.Where(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal).ToList();
                if (resource is null || errors!.Count > 0)
                {
                    invalid++;
                    Problem($"{f}:{line}: invalid: {(resource is null ? string.Join("; ", issues) : string.Join("; ", errors!.Take(3).Select(e => $"{e.Expression.FirstOrDefault()}: {e.Details?.Text ?? e.Diagnostics}")))}");
                }
            });
            Progress?.Invoke($"read {name} ({store.Stored:N0} resources so far{(partition is null ? "" : $" in partition {partition}")})");
        }

        var tally = new CohortTally(Clinical.AsOf ?? ClinicalReadout.Today(time), StaleDays);
        foreach (var (patient, lines) in store.Patients())
        {
            var sourced = new List<SourcedResource>(lines.Count);
            foreach (var line in lines)
            {
                if (FhirJson.Parse(Encoding.UTF8.GetBytes(line.Json), out _) is { } resource)
                    sourced.Add(new SourcedResource(resource, $"{line.File}:{line.Line}", null));
            }
            var result = reader.Read(sourced);
            if (result.Protocol is not { } protocol)
            {
                var first = result.Problems.FirstOrDefault(p => p.IsError);
                tally.AddNotRebuilt(first is null ? "no protocol" : first.Code.ToString());
                Problem($"Patient/{patient}: no protocol rebuilt{(first is null ? "" : $": {first.Path}: {first.Message}")}");
                continue;
            }
            foreach (var problem in result.Problems.Where(p => p.IsError))
                Problem($"{protocol.Id}: {problem.Path}: {problem.Message}");
            if (protocolsDirectory is not null)
                File.WriteAllText(Path.Combine(protocolsDirectory, SafeName(protocol.Id) + ".json"), ProtocolWriter.Write(protocol));
            tally.Add(protocol, ClinicalReadout.Read(protocol, time, Clinical));
            if (tally.Patients % 10_000 == 0)
                Progress?.Invoke($"{tally.Patients:N0} patients read out");
        }
        return new CohortResult(tally, files.Count, store.Stored, store.Skipped, invalid, problems, problemCount);
    }

    /// <summary>The read-outs of a cohort's partitions as one: figures added up, problems listed up to the usual limit.</summary>
    public static CohortResult Merge(DateOnly asOf, int staleDays, IReadOnlyList<CohortResult> parts)
    {
        var tally = new CohortTally(asOf, staleDays);
        var skipped = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var part in parts)
        {
            tally.Merge(part.Tally);
            foreach (var (reason, count) in part.Skipped)
                skipped[reason] = skipped.GetValueOrDefault(reason) + count;
        }
        return new CohortResult(tally, parts.Count == 0 ? 0 : parts.Max(p => p.Files), parts.Sum(p => p.Resources), skipped, parts.Sum(p => p.InvalidResources),
            parts.SelectMany(p => p.Problems).Take(MaxProblemsListed).ToList(), parts.Sum(p => p.ProblemCount));
    }

    /// <summary>
    /// When <paramref name="directory"/> is a <c>trd-fhir export</c> directory (it holds the export state) whose output files
    /// are not all whole, what is missing or damaged (so a read-out never silently counts half an export); else null.
    /// </summary>
    public static string? IncompleteExport(string directory)
    {
        var state = Bulk.ExportState.Load(directory);
        if (state is null)
            return null;
        if (state.TransactionTime is null)
            return "the server had not finished the export when it stopped (no manifest yet)";
        var missing = state.Files.Where(f => f.Kind == "output" && f.State != Bulk.FileState.Done)
            .Select(f => f.State == Bulk.FileState.Damaged ? $"{f.Name} is damaged ({f.Problem})" : $"{f.Name} is not downloaded yet")
            .ToList();
        return missing.Count == 0 ? null : string.Join("; ", missing.Take(5)) + (missing.Count > 5 ? $"; and {missing.Count - 5} more files" : "");
    }

    private static string SafeName(string id) => new(id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '_').ToArray());
}
