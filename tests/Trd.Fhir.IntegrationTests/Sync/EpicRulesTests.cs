using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>
/// A server with Epic's documented rules (shared/reference/ehr-behaviour.md 1a–1d, 1f), played by WireMock: CapabilityStatement
/// with software "Epic", no transaction/batch, no conditional create, CarePlan / MedicationRequest / Goal / CareTeam read-only
/// (405 on create); Condition searches without patient → 400 code 4111, Observation searches without category or code → 400
/// 59108; If-None-Exist ignored. The adapter detects the epic server profile from /metadata.
/// </summary>
public sealed class EpicRulesTests : IDisposable
{
    private const string Fhir = "application/fhir+json";
    private const string EpicOid = "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369";
    private const string Mrn = "https://hospital.example.org/fhir/sid/mrn";
    private static readonly string[] Types = ["Patient", "CarePlan", "Condition", "Goal", "CareTeam", "MedicationRequest", "MedicationStatement", "ServiceRequest", "Procedure", "Observation", "QuestionnaireResponse", "DocumentReference"];
    private static readonly string[] Creatable = ["Condition", "Observation", "Procedure", "QuestionnaireResponse", "ServiceRequest", "DocumentReference", "Patient"];
    private readonly WireMockServer _server = WireMockServer.Start();

    public EpicRulesTests()
    {
        Respond(Request.Create().WithPath("/api/FHIR/R4/metadata").UsingGet(), Capabilities());
        // no parameters at all, or a kind's required parameter missing: Epic's 400s (lowest priority: specific mappings win)
        foreach (var type in Types)
            _server.Given(Request.Create().WithPath($"/api/FHIR/R4/{type}").UsingGet()).AtPriority(100)
                .RespondWith(Json(Outcome("4111", "Required search parameter missing: patient"), 400));
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/Observation").UsingGet().WithParam("patient")).AtPriority(90)
            .RespondWith(Json(Outcome("59108", "either the category or code parameter must be specified"), 400));
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/CarePlan").UsingGet().WithParam("patient")).AtPriority(90)
            .RespondWith(Json(Outcome("59108", "category is a required search parameter"), 400));
        foreach (var type in Types.Except(["Patient", "Observation", "CarePlan"]))
            _server.Given(Request.Create().WithPath($"/api/FHIR/R4/{type}").UsingGet().WithParam("patient")).AtPriority(50).RespondWith(Json(SearchSet()));
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/Observation").UsingGet().WithParam("patient").WithParam("code")).AtPriority(40).RespondWith(Json(SearchSet()));
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/CarePlan").UsingGet().WithParam("patient").WithParam("category")).AtPriority(40).RespondWith(Json(SearchSet()));
        foreach (var type in Types.Except(Creatable))
            _server.Given(Request.Create().WithPath($"/api/FHIR/R4/{type}").UsingPost()).RespondWith(Json(Outcome("59159", $"{type} cannot be created"), 405));
        _server.Given(Request.Create().WithPath("/api/FHIR/R4").UsingPost()).RespondWith(Json(Outcome("4100", "Bundle is not supported"), 405));
        foreach (var type in Creatable)
            _server.Given(Request.Create().WithPath($"/api/FHIR/R4/{type}").UsingPost()).AtPriority(60)
                .RespondWith(Response.Create().WithStatusCode(201).WithHeader("Location", $"{BaseUrl}/{type}/e{type}1"));
    }

    public void Dispose() => _server.Stop();

    private Uri BaseUrl => new(_server.Url + "/api/FHIR/R4");

    private static IResponseBuilder Json(Resource resource, int status = 200) =>
        Response.Create().WithStatusCode(status).WithHeader("Content-Type", Fhir).WithBody(FhirJson.Serialize(resource, pretty: false));

    private void Respond(IRequestBuilder request, Resource body) => _server.Given(request).AtPriority(1).RespondWith(Json(body));

    private static OperationOutcome Outcome(string code, string text) => new()
    {
        Issue = [new OperationOutcome.IssueComponent
        {
            Severity = OperationOutcome.IssueSeverity.Fatal,
            Code = OperationOutcome.IssueType.Required,
            Details = new CodeableConcept { Coding = [new Coding(EpicOid, code, text)], Text = text },
        }],
    };

    private static CapabilityStatement Capabilities()
    {
        var rest = new CapabilityStatement.RestComponent { Mode = CapabilityStatement.RestfulCapabilityMode.Server };
        rest.Resource = Types.Select(t => new CapabilityStatement.ResourceComponent
        {
            Type = t,
            Interaction = (Creatable.Contains(t)
                ? new[] { CapabilityStatement.TypeRestfulInteraction.Read, CapabilityStatement.TypeRestfulInteraction.SearchType, CapabilityStatement.TypeRestfulInteraction.Create }
                : [CapabilityStatement.TypeRestfulInteraction.Read, CapabilityStatement.TypeRestfulInteraction.SearchType])
                .Select(i => new CapabilityStatement.ResourceInteractionComponent { Code = i }).ToList(),
            ConditionalCreate = false,
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

    private static Bundle SearchSet(params Resource[] resources) => new()
    {
        Type = Bundle.BundleType.Searchset,
        Total = resources.Length,
        Entry = resources.Select(r => new Bundle.EntryComponent { FullUrl = $"https://epic.example/api/FHIR/R4/{r.TypeName}/{r.Id}", Resource = r, Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match } }).ToList(),
    };

    private void PatientIs(Patient patient) =>
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/Patient").UsingGet().WithParam("identifier")).AtPriority(1).RespondWith(Json(SearchSet(patient)));

    private static Patient Patient(string id, string value) => new() { Id = id, Identifier = [new Identifier(Mrn, value)] };

    private static TrdProtocol Example(string value) => SyncHarness.Example("phase3-ect-esketamine", value) is var p ? p with { Patient = p.Patient with { System = Mrn } } : null!;

    private string[] RequestsTo(string method) => _server.LogEntries.Where(e => e.RequestMessage.Method == method).Select(e => e.RequestMessage.Url).ToArray();

    [Fact]
    public async System.Threading.Tasks.Task Push_EpicRules_WritesTheWritableKindsOneByOne_ReportsTheRestAsNotWritable_AndTheRunIsOk()
    {
        PatientIs(Patient("eP1", "EPIC-1"));
        using var sync = new SyncHarness(BaseUrl);

        // --phq9-as observation: PHQ-9 Observations are among what Epic does not store (the QuestionnaireResponse channel,
        // the epic profile's default, is EpicServerRoundTripTests')
        var report = await sync.PushAsync(Example("EPIC-1"), phq9: Trd.Fhir.Adapter.Mapping.Phq9Channel.Observation);

        Assert.True(report.Ok(strict: false), string.Join("\n", report.Outcomes.Where(o => o.State is PushState.Failed).Select(o => $"{o.ResourceType}: {o.Reason}")));
        Assert.False(report.Ok(strict: true));
        Assert.StartsWith("epic (detected: its CapabilityStatement's software is 'Epic'", report.ServerProfile, StringComparison.Ordinal);
        Assert.Equal(PushStrategy.Individual, report.Strategy);
        var created = report.Outcomes.Where(o => o.State == PushState.Created).Select(o => o.ResourceType).Distinct().Order().ToArray();
        Assert.Equal(["Condition", "DocumentReference", "Procedure", "ServiceRequest"], created);
        var notWritable = report.Outcomes.Where(o => o.NotWritable).Select(o => o.ResourceType).Distinct().Order().ToArray();
        Assert.Equal(["CarePlan", "CareTeam", "Goal", "MedicationRequest", "MedicationStatement", "Observation"], notWritable);
        Assert.All(report.Outcomes.Where(o => o.NotWritable), o => Assert.StartsWith("not writable on this server", o.Reason, StringComparison.Ordinal));
        Assert.DoesNotContain(report.Outcomes, o => o.State == PushState.Failed);

        var gets = RequestsTo("GET").Where(u => !u.Contains("/metadata", StringComparison.Ordinal) && !u.Contains("/Patient?", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(gets);
        Assert.All(gets, u => Assert.Contains("patient=Patient%2FeP1", u, StringComparison.Ordinal)); // every look-up is scoped by the patient …
        Assert.All(gets, u => Assert.DoesNotContain("identifier=", u, StringComparison.Ordinal)); // … and never an identifier search
        Assert.DoesNotContain(_server.LogEntries, e => e.RequestMessage.Method == "POST" && e.RequestMessage.Path == "/api/FHIR/R4"); // never a Bundle
        Assert.All(_server.LogEntries.Where(e => e.RequestMessage.Method == "POST"), e => Assert.False(e.RequestMessage.Headers?.ContainsKey("If-None-Exist") == true));
        var document = _server.LogEntries.Single(e => e.RequestMessage.Method == "POST" && e.RequestMessage.Path.EndsWith("/DocumentReference", StringComparison.Ordinal)).RequestMessage.Body!;
        Assert.Contains("\"Patient/eP1\"", document, StringComparison.Ordinal);
        Assert.Contains("trd-careplan-kind", document, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_EpicRules_WhatTheServerHolds_IsMatchedOnOurSideAndNotCreatedAgain()
    {
        PatientIs(Patient("eP2", "EPIC-2"));
        var protocol = Example("EPIC-2");
        var mapped = ProtocolToFhir.Default.Map(protocol);
        var condition = (Condition)mapped.Entry.Select(e => e.Resource).OfType<Condition>().First().DeepCopy();
        condition.Id = "eCond9";
        condition.Subject = new ResourceReference("Patient/eP2");
        // the EHR holds our Condition among others; Condition search by patient only (no identifier search on Epic)
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/Condition").UsingGet().WithParam("patient")).AtPriority(10)
            .RespondWith(Json(SearchSet(new Condition { Id = "eOther", Subject = new ResourceReference("Patient/eP2"), Code = new CodeableConcept("http://snomed.info/sct", "370143000") }, condition)));
        using var sync = new SyncHarness(BaseUrl);

        var report = await sync.PushAsync(protocol);

        var outcome = Assert.Single(report.Outcomes, o => o.ResourceType == "Condition");
        Assert.Equal("eCond9", outcome.ServerId); // found by patient-scoped search and matched by its business identifier on our side
        Assert.NotEqual(PushState.Created, outcome.State);
        Assert.DoesNotContain(RequestsTo("POST"), u => u.EndsWith("/Condition", StringComparison.Ordinal));
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_BreakTheGlass_IsReportedAndNeverRetried()
    {
        PatientIs(Patient("eP3", "EPIC-3"));
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/Condition").UsingPost()).AtPriority(1)
            .RespondWith(Json(Outcome("4130", "Break-the-Glass security does not authorize you to access this patient"), 403));
        using var sync = new SyncHarness(BaseUrl);

        var report = await sync.PushAsync(Example("EPIC-3"));

        Assert.False(report.Ok(strict: false));
        Assert.All(report.Outcomes.Where(o => o.State == PushState.Failed), o => Assert.Contains("break-the-glass", o.Reason, StringComparison.Ordinal));
        Assert.All(report.Outcomes.Where(o => o.State == PushState.Failed), o => Assert.False(o.Retryable));
        Assert.Single(RequestsTo("POST"), u => u.EndsWith("/Condition", StringComparison.Ordinal)); // once, never again
    }

    [Fact]
    public async System.Threading.Tasks.Task Push_DailyCap_StopsThePushAndReportsIt()
    {
        PatientIs(Patient("eP4", "EPIC-4"));
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/Condition").UsingPost()).AtPriority(1)
            .RespondWith(Json(Outcome("4135", "Please try again tomorrow"), 400));
        using var sync = new SyncHarness(BaseUrl);

        var report = await sync.PushAsync(Example("EPIC-4"));

        var failed = report.Outcomes.Where(o => o.State == PushState.Failed).ToArray();
        Assert.NotEmpty(failed);
        Assert.All(failed, o => Assert.Contains("daily request cap", o.Reason, StringComparison.Ordinal));
        Assert.Single(RequestsTo("POST")); // the first write hit the cap: nothing more was sent
        Assert.DoesNotContain(report.Outcomes, o => o.State == PushState.Created);
    }

    [Fact]
    public async System.Threading.Tasks.Task Pull_EpicRules_SearchesWhatTheServerRequires_AndListsWhatItCouldNotRead()
    {
        PatientIs(Patient("eP5", "EPIC-5"));
        using var sync = new SyncHarness(BaseUrl);

        var pulled = await sync.PullAsync(new PatientRef(Mrn, "EPIC-5", null));

        Assert.DoesNotContain(pulled.Result.Problems, p => p.IsError && p.Path == "Patient");
        var gets = RequestsTo("GET").Where(u => !u.Contains("/metadata", StringComparison.Ordinal) && !u.Contains("/Patient?", StringComparison.Ordinal)).ToArray();
        Assert.Contains(gets, u => u.Contains("/CarePlan?", StringComparison.Ordinal) && u.Contains("category=", StringComparison.Ordinal));
        Assert.Contains(gets, u => u.Contains("/Observation?", StringComparison.Ordinal) && u.Contains("code=", StringComparison.Ordinal));
        Assert.All(gets, u => Assert.Contains("patient=Patient%2FeP5", u, StringComparison.Ordinal));
        Assert.Contains("server profile: epic (detected: its CapabilityStatement's software is 'Epic' (override with --server-profile))", pulled.Notes);
    }

    [Fact]
    public async System.Threading.Tasks.Task Pull_ARefusedSearch_IsListedWithTheServersMessageAndTheSearchShape_WithoutIdentifierValues()
    {
        PatientIs(Patient("eP6", "EPIC-6"));
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/Procedure").UsingGet()).AtPriority(1)
            .RespondWith(Json(Outcome("4111", "Required search parameter missing: category"), 400));
        using var sync = new SyncHarness(BaseUrl);

        var pulled = await sync.PullAsync(new PatientRef(Mrn, "EPIC-6", null));

        var note = Assert.Single(pulled.Notes, n => n.StartsWith("Procedure:", StringComparison.Ordinal));
        Assert.Equal("Procedure: not pulled — the server refused Procedure?_count=100&patient=… (400: Required search parameter missing: category)", note);
        Assert.DoesNotContain("EPIC-6", string.Join("\n", pulled.Notes), StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task Pull_ServerReturnsADifferentPatient_StopsWithAClearErrorAndPullsNothing()
    {
        PatientIs(Patient("eOther", "SOMEONE-ELSE"));
        using var sync = new SyncHarness(BaseUrl);

        var pulled = await sync.PullAsync(new PatientRef(Mrn, "EPIC-7", null));

        Assert.Null(pulled.Result.Protocol);
        var problem = Assert.Single(pulled.Result.Problems);
        Assert.Contains("with a Patient that does not carry it; nothing was pulled", problem.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(RequestsTo("GET"), u => u.Contains("/Condition?", StringComparison.Ordinal) || u.Contains("/Observation?", StringComparison.Ordinal));
    }

    [Fact]
    public async System.Threading.Tasks.Task Pull_ResourcesOfAnotherPatient_AreLeftOutAndReported()
    {
        PatientIs(Patient("eP8", "EPIC-8"));
        var ours = new Condition { Id = "c1", Subject = new ResourceReference("Patient/eP8"), Code = new CodeableConcept("http://snomed.info/sct", "1153570009") };
        var theirs = new Condition { Id = "c2", Subject = new ResourceReference("Patient/eX"), Code = new CodeableConcept("http://snomed.info/sct", "1153570009") };
        _server.Given(Request.Create().WithPath("/api/FHIR/R4/Condition").UsingGet().WithParam("patient")).AtPriority(1).RespondWith(Json(SearchSet(ours, theirs)));
        using var sync = new SyncHarness(BaseUrl);

        var pulled = await sync.PullAsync(new PatientRef(Mrn, "EPIC-8", null));

        Assert.Contains("Condition/c2: left out — it does not reference the patient asked for", pulled.Notes);
        Assert.DoesNotContain("Condition/c1: left out — it does not reference the patient asked for", pulled.Notes);
    }
}
