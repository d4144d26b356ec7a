using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Trd.Fhir.Adapter.Cli;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.IntegrationTests.Sync;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Faults;

/// <summary>
/// The throttling gateway of <see cref="ThrottlingGatewayTests"/> (1/4 429 with Retry-After, 1/6 503, 1/5 connections
/// dropped after the server processed the request, seeded) in front of the test server under Epic's rules — no conditional
/// create, no Bundles: every create is a plain POST, and a dropped answer must not become a duplicate. A stateless CLI push
/// of three protocols through it exits 0 and leaves exactly the server state a direct push of the same documents leaves
/// (compared by business identifier after a reset and a direct push), each resource once.
/// </summary>
public sealed class EpicThrottlingGatewayTests(EpicRulesFhirServerFixture server, ITestOutputHelper output) : IClassFixture<EpicRulesFhirServerFixture>
{
    private static readonly string[] Stored = ["Condition", "ServiceRequest", "Procedure", "QuestionnaireResponse", "DocumentReference"];

    [Fact]
    [Trait("Category", "ThrottlingGateway")]
    public async Task CliPush_ThroughTheThrottlingGateway_UnderEpicRules_ExitZeroAndTheServerStateOfADirectPush()
    {
        var directory = Directory.CreateTempSubdirectory("trd-epic-gateway-").FullName;
        var cases = SyntheticProtocols.Generate(3, seed: 11, tag: "epic-gateway");
        var documents = SyntheticProtocols.WriteDocuments(cases, directory);

        await server.ResetAsync();
        var patients = await RegisterAsync(cases);
        using (var gateway = new FaultProxy(server.BaseUrl, ThrottlingGatewayTests.Gateway(20261204)))
        {
            var (exit, stdout, stderr) = await PushAsync(gateway.BaseUrl, documents);
            await gateway.WhenIdleAsync();
            output.WriteLine($"gateway push: exit {exit}; {gateway.Requests} requests, faults {string.Join(", ", gateway.Counts.Select(c => $"{c.Key} {c.Value}"))}; writes lost after the server: {gateway.WriteCounts[FaultKind.ResetAfterServer]}");
            Assert.True(exit == 0, $"exit {exit}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
            Assert.True(gateway.WriteCounts[FaultKind.ResetAfterServer] > 0, "no write lost its answer");
        }
        var throughGateway = await StateAsync(patients);

        await server.ResetAsync();
        patients = await RegisterAsync(cases);
        var (directExit, _, directErr) = await PushAsync(server.BaseUrl, documents);
        Assert.True(directExit == 0, directErr);
        var direct = await StateAsync(patients);

        Assert.Empty(throughGateway.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => $"{g.Key} ×{g.Count()}")); // each resource once
        Assert.Equal(direct.Order(), throughGateway.Order());
        Assert.Equal(3, direct.Count(r => r.StartsWith("DocumentReference ", StringComparison.Ordinal)));
        // PHQ-9 with items as QuestionnaireResponses; one known only by its total cannot be a completed response (reported)
        Assert.Equal(cases.Sum(c => c.Protocol.Phq9.Count(p => p.Items is not null)), direct.Count(r => r.StartsWith("QuestionnaireResponse ", StringComparison.Ordinal)));
        Directory.Delete(directory, recursive: true);
    }

    private async Task<List<string>> RegisterAsync(IEnumerable<SyntheticCase> cases)
    {
        var ids = new List<string>();
        foreach (var c in cases)
            ids.Add((await server.CreateClient().CreateAsync((Patient)c.Patient.DeepCopy()))!.Id);
        return ids;
    }

    /// <summary>Every stored resource of the patients, as "Type system|value" (a duplicate shows twice).</summary>
    private async Task<List<string>> StateAsync(IEnumerable<string> patients)
    {
        var state = new List<string>();
        foreach (var patient in patients)
        {
            foreach (var type in Stored)
            {
                var bundle = await server.CreateClient().SearchAsync(new SearchParams().Add("patient", $"Patient/{patient}").LimitTo(1000), type);
                state.AddRange(bundle!.Entry.Select(e => e.Resource).Where(r => r?.TypeName == type)
                    .Select(r => Identity.IdentifiersOf(r!).First()).Select(i => $"{type} {i.System}|{i.Value}"));
            }
        }
        return state;
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> PushAsync(Uri serverUrl, IEnumerable<string> documents)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        string[] args = ["push", "--server", serverUrl.ToString(), .. documents];
        var exit = await Task.Run(() => CliApp.Run(args, new CliConsole(stdout, stderr)));
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
