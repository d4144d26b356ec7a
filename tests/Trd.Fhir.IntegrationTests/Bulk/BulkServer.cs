using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using Hl7.Fhir.Rest;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.IntegrationTests.Sync;

namespace Trd.Fhir.IntegrationTests.Bulk;

/// <summary>The test server's Bulk Data side (tests/fhir-server/bulk.mjs): tuning, the file log, and seeding pushed protocols.</summary>
internal static class BulkServer
{
    public sealed record FileRequest(string Job, string File, int Status, long From);

    public static async Task ConfigureAsync(FhirServerFixture server, int polls = 0, int retryAfter = 1, int fileLines = 1000)
    {
        using var response = await server.HttpClient.PostAsJsonAsync(new Uri(server.BaseUrl + "/$bulk-config"), new { polls, retryAfter, fileLines });
        response.EnsureSuccessStatusCode();
    }

    /// <summary>Every file request the server answered (and, with <paramref name="clear"/>, forgets them).</summary>
    public static async Task<List<FileRequest>> FileLogAsync(FhirServerFixture server, bool clear = false)
    {
        using var request = new HttpRequestMessage(clear ? HttpMethod.Delete : HttpMethod.Get, new Uri(server.BaseUrl + "/$bulk-log"));
        using var response = await server.HttpClient.SendAsync(request);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.EnumerateArray().Select(e => new FileRequest(
            e.GetProperty("job").GetString()!, e.GetProperty("file").GetString()!, e.GetProperty("status").GetInt32(),
            e.TryGetProperty("from", out var from) ? from.GetInt64() : 0)).ToList();
    }

    /// <summary>Seeds the cases' Patients and pushes their protocols with the adapter; returns the server id of each case's Patient.</summary>
    public static async Task<Dictionary<string, string>> PushAsync(FhirServerFixture server, IReadOnlyList<SyntheticCase> cases)
    {
        await server.CreateClient().TransactionAsync(SyntheticProtocols.PatientTransaction(cases));
        using var harness = new SyncHarness(server.BaseUrl);
        var ids = new Dictionary<string, string>();
        foreach (var c in cases)
        {
            var report = await harness.PushAsync(c.Protocol);
            Assert.True(report.Success, string.Join("; ", report.Outcomes.Select(o => o.Reason)));
            var found = await server.CreateClient().SearchAsync<Patient>(new SearchParams().Add("identifier", $"{SyntheticProtocols.PatientSystem}|{c.Protocol.Patient.Value}"));
            ids[c.Protocol.Id] = Assert.Single(found!.Entry).Resource!.Id;
        }
        return ids;
    }

    /// <summary>The resources of every NDJSON file of a type in an export directory, parsed by the Firely SDK.</summary>
    public static List<Resource> Read(string directory, string type) =>
        Directory.GetFiles(directory, type + "-*.ndjson").Order()
            .SelectMany(File.ReadLines).Where(l => l.Length > 0)
            .Select(l => FhirJson.Parse(Encoding.UTF8.GetBytes(l), out _)!).ToList();

    /// <summary>The patient id a resource belongs to (subject / patient reference, or the Patient itself).</summary>
    public static string? PatientOf(Resource resource) => resource switch
    {
        Patient p => p.Id,
        Observation o => Id(o.Subject),
        CarePlan c => Id(c.Subject),
        Condition c => Id(c.Subject),
        Goal g => Id(g.Subject),
        CareTeam t => Id(t.Subject),
        MedicationRequest m => Id(m.Subject),
        MedicationStatement m => Id(m.Subject),
        ServiceRequest s => Id(s.Subject),
        Procedure p => Id(p.Subject),
        _ => null,
    };

    private static string? Id(ResourceReference? reference) =>
        reference?.Reference is { } r && r.StartsWith("Patient/", StringComparison.Ordinal) ? r["Patient/".Length..] : null;

    public static NullLoggerFactory Logs => NullLoggerFactory.Instance;
}
