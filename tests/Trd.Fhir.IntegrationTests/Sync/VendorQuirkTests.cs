using System.Net;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.ServerProfiles;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>
/// Servers we cannot run, played by WireMock from their documented behaviour (shared/reference/ehr-behaviour.md):
/// an Epic-like server (no transaction or batch, most TRD kinds read-only, no conditional create) and a non-atomic
/// server answering 200 to a transaction with a failed entry. Responses are Firely POCOs serialized, not hand-written JSON.
/// </summary>
public sealed class VendorQuirkTests : IDisposable
{
    private const string Fhir = "application/fhir+json";
    private readonly WireMockServer _server = WireMockServer.Start();

    public void Dispose() => _server.Stop();

    private Uri BaseUrl => new(_server.Url + "/api/FHIR/R4");

    private static string Json(Resource resource) => FhirJson.Serialize(resource, pretty: false);

    private static CapabilityStatement Capabilities(bool transaction, Func<string, CapabilityStatement.TypeRestfulInteraction[]> interactions, bool conditionalCreate)
    {
        string[] types = ["Patient", "CarePlan", "Condition", "Goal", "CareTeam", "MedicationRequest", "MedicationStatement", "ServiceRequest", "Procedure", "Observation"];
        var rest = new CapabilityStatement.RestComponent { Mode = CapabilityStatement.RestfulCapabilityMode.Server };
        if (transaction)
            rest.Interaction = [new CapabilityStatement.SystemInteractionComponent { Code = CapabilityStatement.SystemRestfulInteraction.Transaction }];
        rest.Resource = types.Select(t => new CapabilityStatement.ResourceComponent
        {
            Type = t,
            Interaction = interactions(t).Select(i => new CapabilityStatement.ResourceInteractionComponent { Code = i }).ToList(),
            ConditionalCreate = conditionalCreate,
            ConditionalUpdate = false,
        }).ToList();
        return new CapabilityStatement
        {
            Status = PublicationStatus.Active,
            Date = "2026-05-11",
            Kind = CapabilityStatementKind.Instance,
            FhirVersion = FHIRVersion.N4_0_1,
            Format = ["json"],
            Software = new CapabilityStatement.SoftwareComponent { Name = "Epic", Version = "May 2026" },
            Rest = [rest],
        };
    }

    private void Respond(IRequestBuilder request, Resource body, int status = 200, string? location = null)
    {
        var response = Response.Create().WithStatusCode(status).WithHeader("Content-Type", Fhir).WithBody(Json(body));
        if (location is not null)
            response = response.WithHeader("Location", location);
        _server.Given(request).RespondWith(response);
    }

    private static Bundle SearchSet(params Resource[] resources) => new()
    {
        Type = Bundle.BundleType.Searchset,
        Total = resources.Length,
        Entry = resources.Select(r => new Bundle.EntryComponent { FullUrl = $"https://epic.example/api/FHIR/R4/{r.TypeName}/{r.Id}", Resource = r, Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match } }).ToList(),
    };

    private void PatientExists() =>
        Respond(Request.Create().WithPath("/api/FHIR/R4/Patient").UsingGet(), SearchSet(new Patient { Id = "eXYZ123", Identifier = [new Identifier("https://hospital.example.org/fhir/sid/mrn", "PP-EPIC")] }));

    [Fact]
    public async System.Threading.Tasks.Task Push_EpicLikeServer_IndividualPostsForWritableKindsAndReportsTheRest()
    {
        string[] writable = ["Condition", "ServiceRequest", "Procedure", "Observation"];
        Respond(Request.Create().WithPath("/api/FHIR/R4/metadata").UsingGet(), Capabilities(false, t => writable.Contains(t)
            ? [CapabilityStatement.TypeRestfulInteraction.Read, CapabilityStatement.TypeRestfulInteraction.SearchType, CapabilityStatement.TypeRestfulInteraction.Create]
            : [CapabilityStatement.TypeRestfulInteraction.Read, CapabilityStatement.TypeRestfulInteraction.SearchType], conditionalCreate: false));
        PatientExists();
        foreach (var type in writable)
        {
            // nothing there yet …
            Respond(Request.Create().WithPath($"/api/FHIR/R4/{type}").UsingGet(), SearchSet());
            // … and every create answered with 201 + Location: with the stored representation (the request body, echoed),
            // or — as Epic does — with no body at all (Observation), where only the Location tells the new id
            var created = Response.Create().WithStatusCode(201).WithHeader("Location", $"{BaseUrl}/{type}/e-{type}-1");
            _server.Given(Request.Create().WithPath($"/api/FHIR/R4/{type}").UsingPost())
                .RespondWith(type == "Observation" ? created : created.WithHeader("Content-Type", Fhir).WithBody("{{{request.body}}}").WithTransformer());
        }
        var protocol = SyncHarness.Example("phase3-ect-esketamine", "PP-EPIC");
        using var sync = new SyncHarness(BaseUrl);
        sync.Connection.ChosenProfile = ServerProfileCatalog.Generic; // these tests are about the CapabilityStatement alone; the epic profile has its own (EpicRulesTests)

        var report = await sync.PushAsync(protocol);

        Assert.Equal(PushStrategy.Individual, report.Strategy);
        Assert.False(report.Success); // what the server cannot store is a failure the user must see
        var skipped = report.Outcomes.Where(o => o.State == PushState.Skipped).GroupBy(o => o.ResourceType).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["CarePlan"] = 4, ["CareTeam"] = 1, ["Goal"] = 2, ["MedicationRequest"] = 3, ["MedicationStatement"] = 3 }, skipped);
        Assert.All(report.Outcomes.Where(o => o.State == PushState.Skipped), o => Assert.Contains("no 'create' interaction", o.Reason, StringComparison.Ordinal));
        Assert.All(report.Outcomes.Where(o => writable.Contains(o.ResourceType)), o => Assert.Equal(PushState.Created, o.State));
        Assert.All(report.Outcomes.Where(o => o.ResourceType == "Observation"), o => Assert.Equal("e-Observation-1", o.ServerId));

        var requests = _server.LogEntries.Select(e => e.RequestMessage).ToArray();
        Assert.DoesNotContain(requests, r => r.Method == "POST" && r.Path == "/api/FHIR/R4"); // no transaction, no batch
        Assert.DoesNotContain(requests, r => r.Method == "POST" && (r.Path.EndsWith("/CarePlan", StringComparison.Ordinal) || r.Path.EndsWith("/MedicationRequest", StringComparison.Ordinal)));
        var posts = requests.Where(r => r.Method == "POST").ToArray();
        Assert.Equal(report.Count(PushState.Created), posts.Length);
        Assert.All(posts, p => Assert.False(p.Headers?.ContainsKey("If-None-Exist") == true, "Epic declares conditionalCreate false: the adapter searches first instead"));
        // the subject is the patient Epic knows, by its server id
        Assert.All(posts, p => Assert.Contains("\"Patient/eXYZ123\"", p.Body, StringComparison.Ordinal));
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_TransactionAnsweredOkWithAFailedEntry_ReportsThatEntryAsFailed()
    {
        var all = Enum.GetValues<CapabilityStatement.TypeRestfulInteraction>();
        Respond(Request.Create().WithPath("/api/FHIR/R4/metadata").UsingGet(), Capabilities(true, _ => all, conditionalCreate: true));
        PatientExists();
        foreach (var type in new[] { "CarePlan", "Condition", "Goal", "CareTeam", "MedicationRequest", "MedicationStatement", "ServiceRequest", "Procedure", "Observation" })
            Respond(Request.Create().WithPath($"/api/FHIR/R4/{type}").UsingGet(), SearchSet());
        var protocol = SyncHarness.Example("phase1-augmentation", "PP-EPIC");
        var sent = ProtocolToFhir.Default.Map(protocol);
        var response = new Bundle
        {
            Type = Bundle.BundleType.TransactionResponse,
            Entry = sent.Entry.Select((e, i) => new Bundle.EntryComponent
            {
                Response = i == 5
                    ? new Bundle.ResponseComponent { Status = "422 Unprocessable Entity", Outcome = new OperationOutcome { Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.BusinessRule, Diagnostics = "rejected by a site rule" }] } }
                    : new Bundle.ResponseComponent { Status = "201 Created", Location = $"{e.Resource!.TypeName}/x{i}/_history/1" },
            }).ToList(),
        };
        Respond(Request.Create().WithPath("/api/FHIR/R4").UsingPost(), response);
        using var sync = new SyncHarness(BaseUrl);
        sync.Connection.ChosenProfile = ServerProfileCatalog.Generic; // these tests are about the CapabilityStatement alone; the epic profile has its own (EpicRulesTests)

        var report = await sync.PushAsync(protocol);

        Assert.Equal(PushStrategy.Transaction, report.Strategy);
        Assert.False(report.Success);
        var failed = Assert.Single(report.Outcomes, o => o.State == PushState.Failed);
        Assert.Equal(sent.Entry[5].Resource!.TypeName, failed.ResourceType);
        Assert.Contains("422", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("rejected by a site rule", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(sent.Entry.Count - 1, report.Count(PushState.Created));
    }
}
