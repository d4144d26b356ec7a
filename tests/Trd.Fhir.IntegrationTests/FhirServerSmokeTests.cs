using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Xunit.Abstractions;
using static Trd.Fhir.IntegrationTests.BundleHelpers;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests;

/// <summary>
/// Smoke tests of the test FHIR server itself: they pin the behaviours the adapter's integration
/// tests rely on (headers, conditional create, urn:uuid rewriting, Medplum's transaction caps,
/// paging links, validation on write).
/// </summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed class FhirServerSmokeTests(FhirServerFixture server, ITestOutputHelper output) : IAsyncLifetime
{
    private const string IdentifierSystem = "urn:trd:test";

    public Task InitializeAsync() => server.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public void Start_PrintsBaseUrl_OnLoopback()
    {
        output.WriteLine($"FHIR server at {server.BaseUrl}, started in {server.StartupTime.TotalMilliseconds:0} ms");
        output.WriteLine(server.ServerLog);

        Assert.Equal("127.0.0.1", server.BaseUrl.Host);
        Assert.Equal("/fhir", server.BaseUrl.AbsolutePath);
        Assert.InRange(server.StartupTime, TimeSpan.Zero, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Metadata_ListsTransactionBatchAndResourceTypes()
    {
        using var client = server.CreateClient();

        var capability = await client.CapabilityStatementAsync();

        Assert.Equal(FHIRVersion.N4_0_1, capability.FhirVersion);
        Assert.Equal(CapabilityStatementKind.Instance, capability.Kind);
        var rest = Assert.Single(capability.Rest);
        Assert.Equal(CapabilityStatement.RestfulCapabilityMode.Server, rest.Mode);
        var systemInteractions = rest.Interaction.Select(i => i.Code).ToList();
        Assert.Contains(CapabilityStatement.SystemRestfulInteraction.Transaction, systemInteractions);
        Assert.Contains(CapabilityStatement.SystemRestfulInteraction.Batch, systemInteractions);
        Assert.Contains(CapabilityStatement.SystemRestfulInteraction.SearchSystem, systemInteractions);

        string[] required =
        [
            "Patient", "CarePlan", "Condition", "Goal", "CareTeam", "MedicationRequest", "MedicationStatement",
            "ServiceRequest", "Procedure", "Observation", "Flag", "DetectedIssue", "Practitioner",
        ];
        var byType = rest.Resource.ToDictionary(r => r.Type ?? string.Empty, StringComparer.Ordinal);
        foreach (var type in required)
        {
            Assert.True(byType.ContainsKey(type), $"CapabilityStatement lacks {type}");
        }

        var patient = byType["Patient"];
        Assert.True(patient.ConditionalCreate);
        Assert.True(patient.ConditionalUpdate);
        Assert.Equal(CapabilityStatement.ResourceVersionPolicy.VersionedUpdate, patient.Versioning);
        var interactions = patient.Interaction.Select(i => i.Code).ToList();
        Assert.Contains(CapabilityStatement.TypeRestfulInteraction.Read, interactions);
        Assert.Contains(CapabilityStatement.TypeRestfulInteraction.Vread, interactions);
        Assert.Contains(CapabilityStatement.TypeRestfulInteraction.Update, interactions);
        Assert.Contains(CapabilityStatement.TypeRestfulInteraction.Create, interactions);
        Assert.Contains(CapabilityStatement.TypeRestfulInteraction.Delete, interactions);
        Assert.Contains(CapabilityStatement.TypeRestfulInteraction.SearchType, interactions);
        Assert.Contains(CapabilityStatement.TypeRestfulInteraction.HistoryInstance, interactions);
        Assert.Contains(patient.SearchParam, p => p.Name == "identifier" && p.Type == SearchParamType.Token);
        Assert.Contains("CarePlan:subject", byType["CarePlan"].SearchInclude);
    }

    [Fact]
    public async Task Create_Patient_ReturnsLocationAndETag_AndReadsBack()
    {
        using var client = server.CreateClient();

        var created = await client.CreateAsync(NewPatient("create-1", "Created"));

        Assert.NotNull(created);
        Assert.False(string.IsNullOrEmpty(created.Id));
        var versionId = created.Meta?.VersionId;
        Assert.False(string.IsNullOrEmpty(versionId));
        var result = client.LastResult;
        Assert.NotNull(result);
        Assert.StartsWith("201", result.Status, StringComparison.Ordinal);
        Assert.Equal($"{server.BaseUrl}/Patient/{created.Id}/_history/{versionId}", result.Location);
        Assert.Equal($"W/\"{versionId}\"", result.Etag);

        var read = await client.ReadAsync<Patient>($"Patient/{created.Id}");

        Assert.NotNull(read);
        Assert.Equal(created.Id, read.Id);
        Assert.Equal(versionId, read.Meta?.VersionId);
        Assert.Equal("Created", Assert.Single(read.Name).Family);
        Assert.Equal("create-1", Assert.Single(read.Identifier).Value);
        Assert.Equal($"W/\"{versionId}\"", client.LastResult?.Etag);
    }

    [Fact]
    public async Task ConditionalCreate_TwiceWithSameIdentifier_StoresOneResource()
    {
        using var client = server.CreateClient();
        var condition = new SearchParams().Where($"identifier={IdentifierSystem}|cc-1");

        var first = await client.ConditionalCreateAsync(NewPatient("cc-1", "First"), condition);
        var firstStatus = client.LastResult?.Status;
        var second = await client.ConditionalCreateAsync(NewPatient("cc-1", "Second"), condition);
        var secondStatus = client.LastResult?.Status;

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.StartsWith("201", firstStatus, StringComparison.Ordinal);
        Assert.StartsWith("200", secondStatus, StringComparison.Ordinal);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal("First", Assert.Single(second.Name).Family);

        var found = await client.SearchAsync<Patient>(new SearchParams().Where($"identifier={IdentifierSystem}|cc-1"));

        Assert.NotNull(found);
        Assert.Equal(1, found.Total);
        Assert.Equal(first.Id, ResourceOf<Patient>(Assert.Single(found.Entry)).Id);
    }

    [Fact]
    public async Task Transaction_WithUrnUuidReferences_RewritesThemToServerIds()
    {
        using var client = server.CreateClient();
        const string patientUrn = "urn:uuid:00000000-0000-4000-8000-000000000001";
        const string conditionUrn = "urn:uuid:00000000-0000-4000-8000-000000000002";
        const string carePlanUrn = "urn:uuid:00000000-0000-4000-8000-000000000003";
        var transaction = new Bundle { Type = Bundle.BundleType.Transaction };
        transaction.Entry.Add(PostEntry(patientUrn, NewPatient("tx-1", "Transacted")));
        transaction.Entry.Add(PostEntry(conditionUrn, new Condition
        {
            Subject = new ResourceReference(patientUrn),
            Code = new CodeableConcept { Text = "test condition" },
        }));
        transaction.Entry.Add(PostEntry(carePlanUrn, new CarePlan
        {
            Status = RequestStatus.Active,
            Intent = CarePlan.CarePlanIntent.Plan,
            Subject = new ResourceReference(patientUrn),
            Addresses = [new ResourceReference(conditionUrn)],
        }));

        var result = await client.TransactionAsync(transaction);

        Assert.NotNull(result);
        Assert.Equal(Bundle.BundleType.TransactionResponse, result.Type);
        Assert.Equal(3, result.Entry.Count);
        var ids = new List<string>();
        foreach (var (entry, type) in result.Entry.Zip(["Patient", "Condition", "CarePlan"]))
        {
            Assert.StartsWith("201", StatusOf(entry), StringComparison.Ordinal);
            var response = ResponseOf(entry);
            Assert.Matches($"^{type}/[^/]+/_history/[^/]+$", response.Location);
            Assert.False(string.IsNullOrEmpty(response.Etag));
            Assert.NotNull(response.LastModified);
            ids.Add(LocationIdOf(entry));
        }

        var condition = await client.ReadAsync<Condition>($"Condition/{ids[1]}");
        var carePlan = await client.ReadAsync<CarePlan>($"CarePlan/{ids[2]}");

        Assert.Equal($"Patient/{ids[0]}", condition?.Subject.Reference);
        Assert.Equal($"Patient/{ids[0]}", carePlan?.Subject.Reference);
        Assert.Equal($"Condition/{ids[1]}", Assert.Single(carePlan!.Addresses).Reference);
    }

    [Fact]
    public async Task Transaction_OverConditionalEntryCap_Returns400WithOutcome_AndStoresNothing()
    {
        using var client = server.CreateClient();

        var ex = await Assert.ThrowsAsync<FhirOperationException>(
            () => client.TransactionAsync(ConditionalCreates("cap", 9)));

        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.NotNull(ex.Outcome);
        var issue = Assert.Single(ex.Outcome.Issue);
        Assert.Equal(OperationOutcome.IssueSeverity.Error, issue.Severity);
        Assert.Equal("Transaction requires strict isolation but has too many entries", issue.Details?.Text);
        Assert.Equal(0, await CountPatientsAsync(client, "cap"));

        // Eight conditional entries are still accepted.
        var response = await client.TransactionAsync(ConditionalCreates("cap", 8));

        Assert.NotNull(response);
        Assert.All(response.Entry, e => Assert.StartsWith("201", StatusOf(e), StringComparison.Ordinal));
        Assert.Equal(8, await CountPatientsAsync(client, "cap"));
    }

    [Fact]
    public async Task Transaction_OverUpdateCap_Returns400WithOutcome()
    {
        using var client = server.CreateClient();
        var transaction = new Bundle { Type = Bundle.BundleType.Transaction };
        for (var i = 0; i < 51; i++)
        {
            var patient = NewPatient($"put-{i}", "Put");
            patient.Id = $"put-{i}";
            transaction.Entry.Add(new Bundle.EntryComponent
            {
                Resource = patient,
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"Patient/put-{i}" },
            });
        }

        var ex = await Assert.ThrowsAsync<FhirOperationException>(() => client.TransactionAsync(transaction));

        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.NotNull(ex.Outcome);
        Assert.Equal(
            "Transaction contains more update operations than allowed",
            Assert.Single(ex.Outcome.Issue).Details?.Text);
    }

    [Fact]
    public async Task Transaction_WithInvalidEntry_Returns400_AndRollsBackEarlierEntries()
    {
        using var client = server.CreateClient();
        var transaction = new Bundle { Type = Bundle.BundleType.Transaction };
        transaction.Entry.Add(PostEntry("urn:uuid:00000000-0000-4000-8000-000000000011", NewPatient("rollback-1", "Rolled")));
        transaction.Entry.Add(PostEntry("urn:uuid:00000000-0000-4000-8000-000000000012", new Observation()));

        var ex = await Assert.ThrowsAsync<FhirOperationException>(() => client.TransactionAsync(transaction));

        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.NotNull(ex.Outcome);
        Assert.Contains(ex.Outcome.Issue, i => i.Expression.Contains("Observation.status"));
        Assert.Equal(0, await CountPatientsAsync(client, "rollback"));
    }

    [Fact]
    public async Task Search_45Observations_FollowsNextLinksToExactly45DistinctIds()
    {
        using var client = server.CreateClient();
        var batch = new Bundle { Type = Bundle.BundleType.Transaction };
        for (var i = 0; i < 45; i++)
        {
            batch.Entry.Add(new Bundle.EntryComponent
            {
                Resource = new Observation
                {
                    Status = ObservationStatus.Final,
                    Code = new CodeableConcept(IdentifierSystem, "paging"),
                    Value = new Integer(i),
                },
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation" },
            });
        }

        var created = await client.TransactionAsync(batch);
        Assert.Equal(45, created?.Entry.Count);

        var page = await client.SearchAsync<Observation>(
            new SearchParams().Where($"code={IdentifierSystem}|paging").LimitTo(20));
        Assert.NotNull(page);
        Assert.Equal(45, page.Total);
        Assert.NotNull(page.SelfLink);
        Assert.NotNull(page.NextLink);

        var ids = new List<string>();
        var pageSizes = new List<int>();
        while (page is not null)
        {
            pageSizes.Add(page.Entry.Count);
            ids.AddRange(page.Entry.Select(e => IdOf(ResourceOf<Observation>(e))));
            page = await client.ContinueAsync(page);
        }

        Assert.Equal([20, 20, 5], pageSizes);
        Assert.Equal(45, ids.Count);
        Assert.Equal(45, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task Search_WithoutCount_ReturnsDefaultPageOf20()
    {
        using var client = server.CreateClient();
        var transaction = new Bundle { Type = Bundle.BundleType.Transaction };
        for (var i = 0; i < 25; i++)
        {
            transaction.Entry.Add(new Bundle.EntryComponent
            {
                Resource = NewPatient($"default-page-{i}", "Paged"),
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" },
            });
        }

        await client.TransactionAsync(transaction);
        var page = await client.SearchAsync<Patient>(new SearchParams().Where("family=Paged"));

        Assert.NotNull(page);
        Assert.Equal(25, page.Total);
        Assert.Equal(20, page.Entry.Count);
        Assert.NotNull(page.NextLink);
    }

    [Fact]
    public async Task Create_InvalidObservation_Returns400WithOutcome()
    {
        using var client = server.CreateClient();

        var ex = await Assert.ThrowsAsync<FhirOperationException>(() => client.CreateAsync(new Observation()));

        Assert.Equal(HttpStatusCode.BadRequest, ex.Status);
        Assert.NotNull(ex.Outcome);
        Assert.All(ex.Outcome.Issue, i => Assert.Equal(OperationOutcome.IssueSeverity.Error, i.Severity));
        var expressions = ex.Outcome.Issue.SelectMany(i => i.Expression).ToList();
        Assert.Contains("Observation.status", expressions);
        Assert.Contains("Observation.code", expressions);
    }

    [Fact]
    public async Task Update_WithStaleIfMatch_Returns412()
    {
        using var client = server.CreateClient();
        var created = await client.CreateAsync(NewPatient("ifmatch-1", "Versioned"));
        Assert.NotNull(created);
        var stale = (Patient)created.DeepCopy();
        created.Active = true;
        var updated = await client.UpdateAsync(created, versionAware: true);
        Assert.NotNull(updated);
        Assert.NotNull(stale.Meta?.VersionId);
        Assert.NotEqual(stale.Meta.VersionId, updated.Meta?.VersionId);

        stale.Active = false;
        var ex = await Assert.ThrowsAsync<FhirOperationException>(() => client.UpdateAsync(stale, versionAware: true));

        Assert.Equal(HttpStatusCode.PreconditionFailed, ex.Status);
        Assert.NotNull(ex.Outcome);
    }

    private static Patient NewPatient(string identifier, string family) => new()
    {
        Identifier = [new Identifier(IdentifierSystem, identifier)],
        Name = [new HumanName { Family = family }],
    };

    private static Bundle.EntryComponent PostEntry(string fullUrl, Resource resource) => new()
    {
        FullUrl = fullUrl,
        Resource = resource,
        Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = resource.TypeName },
    };

    internal static Bundle ConditionalCreates(string prefix, int count)
    {
        var transaction = new Bundle { Type = Bundle.BundleType.Transaction };
        for (var i = 0; i < count; i++)
        {
            var value = $"{prefix}-{i}";
            transaction.Entry.Add(new Bundle.EntryComponent
            {
                Resource = NewPatient(value, "Conditional"),
                Request = new Bundle.RequestComponent
                {
                    Method = Bundle.HTTPVerb.POST,
                    Url = "Patient",
                    IfNoneExist = $"identifier={IdentifierSystem}|{value}",
                },
            });
        }

        return transaction;
    }

    internal static async Task<int> CountPatientsAsync(FhirClient client, string prefix)
    {
        // Each test starts from an empty store: list the patients and count those whose identifier has the prefix.
        var bundle = await client.SearchAsync<Patient>(new SearchParams().LimitTo(100));
        Assert.NotNull(bundle);
        Assert.Null(bundle.NextLink);
        return bundle.Entry
            .Select(ResourceOf<Patient>)
            .Count(p => p.Identifier.Any(
                id => id.System == IdentifierSystem && id.Value?.StartsWith(prefix + "-", StringComparison.Ordinal) == true));
    }
}
