using System.Text.Json;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Cli;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.IntegrationTests.Sync;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Bulk;

/// <summary><c>trd-fhir cohort</c> on generated populations (figures checked against the generator's truth) and end to end after <c>export</c> from the real server.</summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class CohortTests(FhirServerFixture server) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trd-cohort-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, new CliConsole(stdout, stderr));
        return (exit, stdout.ToString(), stderr.ToString());
    }

    internal static void AssertMatches(PopulationTruth truth, JsonElement r)
    {
        Assert.Equal(truth.Patients, r.GetProperty("patients").GetInt64());
        Assert.Equal(truth.Patients, r.GetProperty("rebuilt").GetInt64());
        Assert.Equal(truth.Phases, JsonSerializer.Deserialize<SortedDictionary<string, long>>(r.GetProperty("phases").GetRawText()));
        Assert.Equal(truth.Phq9Assessments, r.GetProperty("phq9").GetProperty("assessments").GetInt64());
        Assert.Equal(truth.TotalsOnlyAssessments, r.GetProperty("phq9").GetProperty("totalsOnlyAssessments").GetInt64());
        Assert.Equal((truth.Responders, truth.ResponseEvaluable), (r.GetProperty("response").GetProperty("responders").GetInt64(), r.GetProperty("response").GetProperty("evaluable").GetInt64()));
        Assert.Equal((truth.Remitters, truth.WithPhq9), (r.GetProperty("remission").GetProperty("remitters").GetInt64(), r.GetProperty("remission").GetProperty("evaluable").GetInt64()));
        var safety = r.GetProperty("safety");
        Assert.Equal(truth.SignalAssessments, safety.GetProperty("signalAssessments").GetInt64());
        Assert.Equal(truth.NeedsReview, new SortedSet<string>(safety.GetProperty("needsReview").EnumerateArray().Select(e => e.GetProperty("protocol").GetString()!), StringComparer.Ordinal));
        Assert.Equal(truth.Item9Unknown, safety.GetProperty("patientsItem9Unknown").GetInt64());
        Assert.Equal(truth.Trd, r.GetProperty("staging").GetProperty("trd").GetInt64());
        Assert.Equal(truth.ThaseRush, JsonSerializer.Deserialize<SortedDictionary<string, long>>(r.GetProperty("staging").GetProperty("thaseRush").GetRawText()));
        Assert.Equal(truth.Maudsley, JsonSerializer.Deserialize<SortedDictionary<string, long>>(r.GetProperty("staging").GetProperty("maudsley").GetRawText()));
        Assert.Equal(truth.Adherence, JsonSerializer.Deserialize<SortedDictionary<string, long>>(r.GetProperty("adherence").GetProperty("courses").GetRawText()));
        Assert.Equal(truth.PatientsBehind, r.GetProperty("adherence").GetProperty("patientsBehind").GetInt64());
        Assert.Equal((truth.NoPhq9, truth.Stale), (r.GetProperty("dataQuality").GetProperty("noPhq9").GetInt64(), r.GetProperty("dataQuality").GetProperty("stalePhq9").GetInt64()));
    }

    [Fact]
    public void Cohort_GeneratedPopulation_FiguresMatchTheGeneratorsTruthExactly()
    {
        var input = Path.Combine(_dir, "population");
        var truth = PopulationGenerator.WriteBulk(input, 400, seed: 7, tag: "gen", linesPerFile: 700);
        Assert.InRange(truth.NeedsReview.Count, 1, 399); // the population has signals, and not everywhere
        Assert.InRange(truth.Responders, 1, truth.ResponseEvaluable - 1);
        Assert.Equal(["behind", "not-recorded", "on-track"], truth.Adherence.Keys); // every adherence state the courses can reach
        Assert.Equal(["moderate", "not computed"], truth.Maudsley.Keys);

        var (exit, _, stderr) = Run("cohort", input, "--format", "json", "--as-of", "2026-12-01", "-o", Path.Combine(_dir, "cohort.json"), "--protocols", Path.Combine(_dir, "protocols"));

        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "cohort.json")));
        AssertMatches(truth, json.RootElement);
        Assert.Equal(400, Directory.GetFiles(Path.Combine(_dir, "protocols"), "*.json").Length);
        Assert.True(Directory.GetFiles(input, "Observation-*.ndjson").Length > 1); // several files per type were read
    }

    /// <summary>Replaces line <paramref name="line"/> of a file with the same resource after <paramref name="breakIt"/> (Firely SDK both ways).</summary>
    private static void Break(string file, int line, Action<Resource> breakIt)
    {
        var lines = File.ReadAllLines(file);
        var resource = FhirJson.Parse(System.Text.Encoding.UTF8.GetBytes(lines[line - 1]), out _)!;
        breakIt(resource);
        lines[line - 1] = FhirJson.Serialize(resource, pretty: false);
        File.WriteAllLines(file, lines);
    }

    [Fact]
    public void Cohort_Validate_AGeneratedPopulationIsValidAndEachBrokenResourceIsCountedByFileAndLine()
    {
        var input = Path.Combine(_dir, "validate");
        var truth = PopulationGenerator.WriteBulk(input, 30, seed: 10, tag: "val");

        var (exit, stdout, stderr) = Run("cohort", input, "--validate", "--format", "json", "--as-of", "2026-12-01");

        Assert.True(exit == 0, stderr);
        using (var clean = JsonDocument.Parse(stdout))
        {
            Assert.Equal(0, clean.RootElement.GetProperty("invalidResources").GetInt64());
            AssertMatches(truth, clean.RootElement);
        }

        Break(Path.Combine(input, "Observation-1.ndjson"), 2, r => ((Observation)r).Status = null);
        Break(Path.Combine(input, "CarePlan-1.ndjson"), 5, r => ((CarePlan)r).Intent = null);
        (exit, stdout, stderr) = Run("cohort", input, "--validate", "--format", "json", "--as-of", "2026-12-01");

        Assert.True(exit == 1, stderr);
        using var broken = JsonDocument.Parse(stdout);
        Assert.Equal(2, broken.RootElement.GetProperty("invalidResources").GetInt64());
        var invalid = stderr.Split('\n').Where(l => l.Contains(": invalid: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            ["cohort: CarePlan-1.ndjson:5: invalid: CarePlan: Missing required member: 'intent'", "cohort: Observation-1.ndjson:2: invalid: Observation: Missing required member: 'status'"],
            invalid.Select(l => l.TrimEnd('\r')));
        Assert.Contains(", 2 invalid resources", stderr);
    }

    [Fact]
    public void Cohort_Html_SelfContainedWithChartsAndTheReviewListByProtocolIdOnly()
    {
        var input = Path.Combine(_dir, "html");
        var truth = PopulationGenerator.WriteBulk(input, 60, seed: 8, tag: "html");

        var (exit, _, stderr) = Run("cohort", input, "--as-of", "2026-12-01", "-o", Path.Combine(_dir, "cohort.html"));

        Assert.True(exit == 0, stderr);
        var html = File.ReadAllText(Path.Combine(_dir, "cohort.html"));
        foreach (var id in new[] { "summary", "phases", "outcomes", "safety", "staging", "adherence", "data" })
            Assert.Contains($"id=\"{id}\"", html);
        Assert.Contains("<svg role=\"img\" aria-label=\"Patients per phase\"", html);
        Assert.All(truth.NeedsReview, id => Assert.Contains($"<td>{id}</td>", html));
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));
        Assert.DoesNotContain("POP-HTML-", html); // no patient identifier value
        Assert.DoesNotContain("Synthetic", html); // no patient name
        Assert.DoesNotContain("POP-HTML-", stderr);
    }

    [Fact]
    public void Cohort_NotADirectoryOrNoNdjson_UsageError()
    {
        var (exit, _, stderr) = Run("cohort", Path.Combine(_dir, "missing"));
        Assert.Equal(2, exit);
        Assert.Contains("is not a directory", stderr);
        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        (exit, _, stderr) = Run("cohort", Path.Combine(_dir, "empty"));
        Assert.Equal(2, exit);
        Assert.Contains("holds no .ndjson files", stderr);
    }

    [Fact]
    public async Task ExportThenCohort_RealServer_FiguresMatchTheTruth()
    {
        await server.ResetAsync();
        await BulkServer.ConfigureAsync(server, fileLines: 40);
        var truth = new PopulationTruth();
        var population = PopulationGenerator.Patients(24, seed: 9, tag: "e2e", truth).ToList();
        await server.CreateClient().TransactionAsync(new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Entry = population.Select(p => new Bundle.EntryComponent { Resource = p.Patient, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"Patient/{p.Patient.Id}" } }).ToList(),
        });
        using (var harness = new SyncHarness(server.BaseUrl))
        {
            foreach (var (protocol, _) in population)
                Assert.True((await harness.PushAsync(protocol)).Success);
        }
        var export = Path.Combine(_dir, "export");

        var (exit, _, stderr) = Run("export", "--server", server.BaseUrl.ToString(), "-o", export);
        Assert.True(exit == 0, stderr);
        (exit, var stdout, stderr) = Run("cohort", export, "--format", "json", "--as-of", "2026-12-01");

        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        AssertMatches(truth, json.RootElement);
        await BulkServer.ConfigureAsync(server);
    }
}
