using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Tests.Transport.Push;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Tests.Transport.ServerProfiles;

public sealed class ServerProfileTests
{
    [Theory]
    [InlineData("Epic", null, "epic")]
    [InlineData("HAPI FHIR Server", null, "hapi")]
    [InlineData("Medplum fhir-router + MemoryRepository (Trd.Fhir test host)", null, "medplum")]
    [InlineData("Some FHIR server", "Epic Systems Corporation", "epic")]
    [InlineData("Some FHIR server", "Someone", "generic")]
    public void Detect_FromSoftwareOrPublisher_ChoosesTheProfileAndSaysWhy(string software, string? publisher, string expected)
    {
        var statement = new CapabilityStatement { Software = new CapabilityStatement.SoftwareComponent { Name = software }, Publisher = publisher };

        var profile = ServerProfileCatalog.Detect(statement);

        Assert.Equal(expected, profile.Name);
        Assert.StartsWith("detected: ", profile.Reason, StringComparison.Ordinal);
        Assert.EndsWith("(override with --server-profile)", profile.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void BuiltIns_AllParse_AndEpicSaysWhatTheReferenceSays()
    {
        foreach (var name in ServerProfileCatalog.BuiltInNames)
            Assert.Equal(name, ServerProfileCatalog.BuiltIn(name).Name);
        var epic = ServerProfileCatalog.BuiltIn("epic");
        Assert.False(epic.Bundles);
        Assert.False(epic.IdentifierSearch);
        Assert.False(epic.AllowsWrite("CarePlan"));
        Assert.True(epic.AllowsWrite("Condition"));
        Assert.Equal(OutcomeCode.BreakTheGlass, epic.OperationOutcomeCodes["4131"].Meaning);
        Assert.Equal(OutcomeCode.DailyCap, epic.OperationOutcomeCodes["4135"].Meaning);
        Assert.Equal(OutcomeCode.InputError, epic.OperationOutcomeCodes["59111"].Meaning);
        Assert.True(ServerProfileCatalog.Generic.AllowsWrite("CarePlan")); // generic: the CapabilityStatement decides
    }

    [Fact]
    public void Complete_ObservationWithoutCodeOrCategory_AddsTheProfilesCategory()
    {
        var query = new SearchParams().Add("patient", "Patient/1");

        var missing = ServerProfileCatalog.BuiltIn("epic").Complete("Observation", query);

        Assert.Empty(missing);
        Assert.Contains(query.Parameters, p => p.Item1 == "category" && p.Item2 == "survey");
    }

    [Fact]
    public void Complete_ObservationWithCode_AddsNothing()
    {
        var query = new SearchParams().Add("patient", "Patient/1").Add("code", "http://loinc.org|44261-6");

        ServerProfileCatalog.BuiltIn("epic").Complete("Observation", query);

        Assert.DoesNotContain(query.Parameters, p => p.Item1 == "category");
    }

    [Fact]
    public void Complete_RequiredGroupWithoutValue_IsReportedMissing()
    {
        var profile = ServerProfile.Parse("""{ "name": "site", "searches": { "Procedure": { "required": ["patient", "category"], "add": {} } } }""", "site.json");

        var missing = profile.Complete("Procedure", new SearchParams().Add("patient", "Patient/1"));

        Assert.Equal(["category"], missing);
    }

    [Fact]
    public void Parse_UnknownPhq9Channel_NamesTheFileAndTheFix()
    {
        var e = Assert.Throws<FormatException>(() => ServerProfile.Parse("""{ "name": "site", "phq9Channel": "fax" }""", "site.json"));

        Assert.Equal("site.json: phq9Channel must be 'observation', 'questionnaire-response' or 'flowsheet-observation', not 'fax'", e.Message);
    }

    [Fact]
    public void Parse_FlowsheetChannelWithoutTheSiteRows_NamesTheFix()
    {
        var e = Assert.Throws<FormatException>(() => ServerProfile.Parse("""{ "name": "site", "phq9Channel": "flowsheet-observation" }""", "site.json"));

        Assert.StartsWith("site.json: phq9Channel 'flowsheet-observation' needs phq9Flowsheet with the site's row system and total row", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FlowsheetItemRowsNotNine_IsRefused()
    {
        var e = Assert.Throws<FormatException>(() => ServerProfile.Parse("""{ "name": "site", "phq9Channel": "flowsheet-observation", "phq9Flowsheet": { "system": "urn:oid:2.16.840.1.113883.3.9999.7", "total": "T", "items": ["1", "2"] } }""", "site.json"));

        Assert.Equal("site.json: phq9Flowsheet.items must list the nine item rows in questionnaire order, not 2", e.Message);
    }

    [Fact]
    public void Choose_NeitherNameNorFile_SaysWhatIsAccepted()
    {
        var e = Assert.Throws<ArgumentException>(() => ServerProfileCatalog.Choose("cerner"));

        Assert.Equal("--server-profile cerner: neither a built-in profile (generic, hapi, epic, medplum) nor an existing file", e.Message);
    }

    [Fact]
    public void Meaning_EpicCodeInDetails_IsFoundWhateverTheSiteOid()
    {
        var outcome = new OperationOutcome { Issue = [new OperationOutcome.IssueComponent { Details = new CodeableConcept("urn:oid:1.2.840.114350.1.13.861.1.7.2.657369", "4134") }] };

        Assert.Equal(OutcomeCode.BreakTheGlass, ServerProfileCatalog.BuiltIn("epic").Meaning(outcome)?.Meaning);
    }

    [Fact]
    public void MarkNotWritable_EpicProfile_SkipsReadOnlyKindsAndPhq9Observations()
    {
        var phq9 = Entries.Observation("phq9-total");
        var caps = Entries.Capabilities(false, false, false);

        PushPlanner.MarkNotWritable([phq9], caps, ServerProfileCatalog.BuiltIn("epic"));

        Assert.True(phq9.NotWritable);
        Assert.Equal((EntryState.Skipped, "not writable on this server: server profile 'epic' writes PHQ-9 as questionnaire-response, not as Observations"), (phq9.State!.Value, phq9.Reason));
    }

    [Fact]
    public void RightPatient_ReferencesOnlyThatPatient()
    {
        Assert.True(RightPatient.References(new Condition { Subject = new ResourceReference("Patient/p1") }, "p1"));
        Assert.True(RightPatient.References(new Condition { Subject = new ResourceReference("https://x/fhir/Patient/p1/_history/2") }, "p1"));
        Assert.False(RightPatient.References(new Condition { Subject = new ResourceReference("Patient/p2") }, "p1"));
        Assert.False(RightPatient.References(new Condition(), "p1"));
        Assert.True(RightPatient.Carries(new Patient { Identifier = [new Identifier("s", "v")] }, "s", "v"));
        Assert.False(RightPatient.Carries(new Patient { Identifier = [new Identifier("s", "other")] }, "s", "v"));
    }
}

public sealed class ServerProbeTests
{
    private static readonly ResourceCapabilities Writable = ResourceCapabilities.None with { Read = true, Search = true, Create = true };

    [Fact]
    public void Describe_FlowsheetChannel_SaysWhichObservationsAreStillWritten()
    {
        var epic = File.ReadAllText(Repo.Path("src", "Trd.Fhir.Adapter", "Transport", "ServerProfiles", "epic.json"));
        var site = ServerProfile.Parse(epic.Replace("\"phq9Channel\": \"questionnaire-response\",",
            "\"phq9Channel\": \"flowsheet-observation\", \"phq9Flowsheet\": { \"system\": \"urn:oid:2.16.840.1.113883.3.9999.7\", \"total\": \"T\" },", StringComparison.Ordinal), "site.json");
        var capabilities = new ServerCapabilities("Epic", false, false, new Dictionary<string, ResourceCapabilities> { ["Observation"] = Writable, ["Condition"] = Writable });

        var kinds = (System.Collections.IEnumerable)ServerProbe.Describe(new Uri("https://ehr.example.org/fhir/"), capabilities, profile: site)["resources"]!;
        var observation = kinds.Cast<object>().Single(k => Property(k, "type") as string == "Observation");

        Assert.Equal(false, Property(observation, "pushable"));
        Assert.Equal("PHQ-9 totals filed under the site's flowsheet rows (urn:oid:2.16.840.1.113883.3.9999.7)", Property(observation, "pushedAnyway"));
        Assert.Null(ServerProbe.PushedAnyway("Observation", ServerProfileCatalog.BuiltIn("epic")));
        Assert.Null(ServerProbe.PushedAnyway("Condition", site));
    }

    private static object? Property(object o, string name) => o.GetType().GetProperty(name)!.GetValue(o);
}
