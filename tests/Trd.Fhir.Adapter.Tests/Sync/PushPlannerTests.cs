using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Tests.Transport.Push;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Tests.Sync;

public sealed class PushPlannerTests
{
    private static ServerCapabilities Caps(bool create, bool update, bool conditionalUpdate) =>
        new("stub", false, false, new Dictionary<string, ResourceCapabilities>
        {
            ["Observation"] = new(true, true, create, update, false, true, conditionalUpdate, new HashSet<string>(), false),
        });

    [Fact]
    public void MarkNotWritable_NoCreateInCapabilities_SkipsWithReason()
    {
        var entry = Entries.Observation("one");

        PushPlanner.MarkNotWritable([entry], Caps(create: false, update: false, conditionalUpdate: false));

        Assert.Equal((EntryState.Skipped, "the server cannot create Observation (no 'create' interaction in its CapabilityStatement)"), (entry.State!.Value, entry.Reason));
    }

    [Fact]
    public void DetachUnwritable_ReferenceToSkipped_BecomesLogicalReference()
    {
        var member = Entries.Observation("item");
        var panel = Entries.Observation("panel", member.FullUrl);
        member.Skip("cannot store");
        var notes = new List<string>();

        PushPlanner.DetachUnwritable([panel, member], notes);

        var reference = panel.Resource is Observation o ? o.HasMember[0] : throw new InvalidOperationException();
        Assert.Null(reference.Reference);
        Assert.Equal(("item", "Observation"), (reference.Identifier.Value, reference.Type));
        Assert.Equal(["1 references to resources this server cannot store were kept as logical references (identifier only)"], notes);
    }

    [Fact]
    public void ClassifyExisting_SameContent_IsUnchangedAndNotSent()
    {
        var entry = Entries.Observation("one");
        entry.ServerId = "s1";
        var copy = (Resource)entry.Resource.DeepCopy();
        copy.Id = "s1";
        copy.Meta = new Meta { VersionId = "4" };

        PushPlanner.ClassifyExisting([entry], new Dictionary<PushEntry, Resource> { [entry] = copy }, Caps(true, true, true));

        Assert.Equal(EntryState.Unchanged, entry.State);
    }

    [Fact]
    public void ClassifyExisting_ChangedWithConditionalUpdate_BecomesPutOnTheIdentifier()
    {
        var entry = Entries.Observation("one");
        entry.ServerId = "s1";
        var copy = (Observation)entry.Resource.DeepCopy();
        copy.Status = ObservationStatus.Preliminary;

        PushPlanner.ClassifyExisting([entry], new Dictionary<PushEntry, Resource> { [entry] = copy }, Caps(true, true, conditionalUpdate: true));

        Assert.Null(entry.State);
        Assert.Equal((Bundle.HTTPVerb.PUT, "Observation?identifier=https://example.org/identifier/observation|one"), (entry.Request.Method!.Value, entry.Request.Url));
    }

    [Fact]
    public void ClassifyExisting_ChangedWithoutConditionalUpdate_BecomesPutById()
    {
        var entry = Entries.Observation("one");
        entry.ServerId = "s1";
        var copy = (Observation)entry.Resource.DeepCopy();
        copy.Status = ObservationStatus.Preliminary;

        PushPlanner.ClassifyExisting([entry], new Dictionary<PushEntry, Resource> { [entry] = copy }, Caps(true, true, conditionalUpdate: false));

        Assert.Equal("Observation/s1", entry.Request.Url);
    }

    [Fact]
    public void ClassifyExisting_ChangedButServerCannotUpdate_Skipped()
    {
        var entry = Entries.Observation("one");
        entry.ServerId = "s1";
        var copy = (Observation)entry.Resource.DeepCopy();
        copy.Status = ObservationStatus.Preliminary;

        PushPlanner.ClassifyExisting([entry], new Dictionary<PushEntry, Resource> { [entry] = copy }, Caps(true, update: false, false));

        Assert.Equal(EntryState.Skipped, entry.State);
        Assert.StartsWith("changed, but the server cannot update Observation", entry.Reason);
    }

    [Theory]
    [InlineData(Trd.Fhir.Adapter.Mapping.Phq9Channel.QuestionnaireResponse)]
    [InlineData(Trd.Fhir.Adapter.Mapping.Phq9Channel.Both)]
    public void UsePhq9Channel_ObservationBundle_ReplacesThePhq9EntriesByThoseOfTheChannel_SameIdentifiersAsADirectMapping(Trd.Fhir.Adapter.Mapping.Phq9Channel channel)
    {
        var protocol = Trd.Fhir.Adapter.Protocol.ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", "phase3-ect-esketamine.json"))).Protocol!;
        var identity = new Trd.Fhir.Adapter.Mapping.Identity("https://ehr.example.org/ids");
        var entries = PushPlanner.Entries(new Trd.Fhir.Adapter.Mapping.ProtocolToFhir(identity).Map(protocol));
        var others = entries.Where(e => e.Resource is not (Observation or QuestionnaireResponse)).Select(e => PushPlanner.Key(e.Identifier)).ToList();

        PushPlanner.UsePhq9Channel(entries, protocol, identity, channel);

        var direct = PushPlanner.Entries(new Trd.Fhir.Adapter.Mapping.ProtocolToFhir(identity, channel).Map(protocol));
        Assert.Equal(direct.Select(e => PushPlanner.Key(e.Identifier)).Order(), entries.Select(e => PushPlanner.Key(e.Identifier)).Order());
        Assert.Equal(protocol.Phq9.Count, entries.Count(e => e.Resource is QuestionnaireResponse));
        Assert.Equal(channel == Trd.Fhir.Adapter.Mapping.Phq9Channel.Both, entries.Any(e => e.Resource is Observation o && PushPlanner.IsPhq9(o)));
        Assert.Equal(others, entries.Where(e => e.Resource is not (Observation or QuestionnaireResponse)).Select(e => PushPlanner.Key(e.Identifier)));
    }

    [Fact]
    public void Phq9KnownOnlyByItsTotal_QuestionnaireResponseChannel_StaysObservations_TheOthersBecomeResponses()
    {
        var read = Trd.Fhir.Adapter.Protocol.ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", "phase1-augmentation.json"))).Protocol!;
        var totalOnly = read.Phq9[0] with { Items = null, Difficulty = null };
        var protocol = read with { Phq9 = [totalOnly, .. read.Phq9.Skip(1)] };

        var entries = PushPlanner.Entries(new Trd.Fhir.Adapter.Mapping.ProtocolToFhir(Trd.Fhir.Adapter.Mapping.Identity.Default, Trd.Fhir.Adapter.Mapping.Phq9Channel.QuestionnaireResponse).Map(protocol));

        // a completed PHQ-9 QuestionnaireResponse needs its nine items: the total-only assessment stays a total Observation (and panel)
        Assert.Equal(protocol.Phq9.Count - 1, entries.Count(e => e.Resource is QuestionnaireResponse));
        var observations = entries.Where(e => e.Resource is Observation o && PushPlanner.IsPhq9(o)).Select(e => (Observation)e.Resource).ToList();
        Assert.Equal(2, observations.Count);
        Assert.All(observations, o => Assert.Equal(totalOnly.Date.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), o.Effective.ToString()));
    }

    [Fact]
    public void FileOnFlowsheet_TotalsAndConfiguredItemRows_AreFiledAndStayWritable_PanelsAreNot()
    {
        const string rows = "urn:oid:2.16.840.1.113883.3.9999.7"; // synthetic site row system
        var protocol = Trd.Fhir.Adapter.Protocol.ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", "phase1-augmentation.json"))).Protocol!;
        var entries = PushPlanner.Entries(Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(protocol));
        var items = Enumerable.Range(1, 9).Select(i => $"ROW-ITEM-{i}").ToList();
        var profile = Trd.Fhir.Adapter.Transport.ServerProfiles.ServerProfileCatalog.BuiltIn("epic") with
        {
            Phq9Channel = Trd.Fhir.Adapter.Transport.ServerProfiles.ServerProfile.Phq9FlowsheetObservation,
            Phq9Flowsheet = new Trd.Fhir.Adapter.Transport.ServerProfiles.Phq9Flowsheet(rows, "ROW-TOTAL", items),
        };

        var filed = PushPlanner.FileOnFlowsheet(entries, profile.Phq9Flowsheet);
        PushPlanner.MarkNotWritable(entries, new ServerCapabilities("test", false, false, new Dictionary<string, ResourceCapabilities>()), profile, Trd.Fhir.Adapter.Mapping.Phq9Channel.Observation);

        var phq9 = entries.Where(e => e.Resource is Observation o && PushPlanner.IsPhq9(o)).ToList();
        var rowOf = phq9.ToDictionary(e => e, e => ((Observation)e.Resource).Code.Coding.SingleOrDefault(c => c.System == rows)?.Code);
        Assert.Equal(protocol.Phq9.Sum(a => 1 + (a.Items?.Count ?? 0)), filed); // a total and nine items per assessment
        Assert.Equal(protocol.Phq9.Count, rowOf.Values.Count(r => r == "ROW-TOTAL"));
        Assert.Equal(protocol.Phq9.Count(a => a.Items is not null), rowOf.Values.Count(r => r == "ROW-ITEM-9"));
        Assert.All(phq9.Where(e => rowOf[e] is not null), e => Assert.Null(e.State));                 // filed: written
        Assert.All(phq9.Where(e => rowOf[e] is null), e => Assert.True(e.State == EntryState.Skipped)); // panels, difficulty: not writable
        Assert.Equal(0, PushPlanner.FileOnFlowsheet(entries, profile.Phq9Flowsheet)); // a second pass adds nothing
    }

    [Fact]
    public void UsePhq9Channel_SameChannel_LeavesTheEntriesAsTheyAre()
    {
        var protocol = Trd.Fhir.Adapter.Protocol.ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", "phase1-augmentation.json"))).Protocol!;
        var entries = PushPlanner.Entries(Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(protocol));
        var before = entries.ToList();

        PushPlanner.UsePhq9Channel(entries, protocol, Trd.Fhir.Adapter.Mapping.Identity.Default, Trd.Fhir.Adapter.Mapping.Phq9Channel.Observation);

        Assert.Equal(before, entries); // the very same entries, not re-mapped
    }

    [Fact]
    public void ApplyConfirmed_LedgerKnowsTheContent_UnchangedWithTheServerIdAndNotLookedUp()
    {
        var known = Entries.Observation("one");
        var fresh = Entries.Observation("two");
        var confirmed = new Dictionary<string, ConfirmedResource> { [PushPlanner.Key(known.Identifier)] = new("srv-1", "7") };

        PushPlanner.ApplyConfirmed([known, fresh], confirmed);

        Assert.Equal((EntryState.Unchanged, "srv-1", "7"), (known.State!.Value, known.ServerId, known.ServerVersion));
        Assert.Equal((null, null), (fresh.State, fresh.ServerId));
        Assert.Equal("https://example.org/identifier/observation|one", PushPlanner.Key(known.Identifier));
    }

    [Fact]
    public void RewritePatient_EveryPatientReference_PointsAtTheServersPatient()
    {
        var entry = Entries.Observation("one");
        var observation = (Observation)entry.Resource;
        observation.Subject = new ResourceReference("Patient/urn-local");
        observation.Performer = [new ResourceReference("Practitioner/p1")];

        PushPlanner.RewritePatient([entry], "srv-patient-9");

        Assert.Equal(("Patient/srv-patient-9", "Practitioner/p1"), (observation.Subject.Reference, observation.Performer[0].Reference));
    }

    [Fact]
    public void MarkNotWritable_ProfileWritesPhq9AsQuestionnaireResponse_Phq9ObservationSkippedNotWritable()
    {
        var phq9Total = Entries.Observation("total"); // LOINC 44261-6, the PHQ-9 total
        var profile = new ServerProfile { Name = "epic", Phq9Channel = ServerProfile.Phq9QuestionnaireResponse };

        PushPlanner.MarkNotWritable([phq9Total], Caps(create: true, update: true, conditionalUpdate: true), profile);

        Assert.Equal((EntryState.Skipped, true), (phq9Total.State!.Value, phq9Total.NotWritable));
        Assert.Equal("not writable on this server: server profile 'epic' writes PHQ-9 as questionnaire-response, not as Observations", phq9Total.Reason);
    }

    [Fact]
    public void MarkNotWritable_ProfileListsWritableKinds_OthersSkippedWithTheProfileName()
    {
        var entry = Entries.Observation("one");
        var profile = new ServerProfile { Name = "narrow", Writable = ["Condition"] };

        PushPlanner.MarkNotWritable([entry], Caps(create: true, update: true, conditionalUpdate: true), profile);

        Assert.Equal("not writable on this server: server profile 'narrow' does not write Observation", entry.Reason);
        Assert.True(entry.NotWritable);
    }

    [Fact]
    public void MarkNotWritable_ServerDeclaresNothing_TriesEverything()
    {
        var entry = Entries.Observation("one");

        PushPlanner.MarkNotWritable([entry], new ServerCapabilities("stub", false, false, new Dictionary<string, ResourceCapabilities>()));

        Assert.Null(entry.State);
    }

    [Fact]
    public void Comparable_IdMetaAndNarrativeDiffer_SameContent()
    {
        var a = (Observation)Entries.Observation("one").Resource;
        var b = (Observation)a.DeepCopy();
        b.Id = "server-id";
        b.Meta = new Meta { VersionId = "3", LastUpdated = new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero) };
        b.Text = new Narrative { Status = Narrative.NarrativeStatus.Generated, Div = "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>" };
        var c = (Observation)a.DeepCopy();
        c.Status = ObservationStatus.Amended;

        Assert.Equal(PushPlanner.Comparable(a), PushPlanner.Comparable(b));
        Assert.NotEqual(PushPlanner.Comparable(a), PushPlanner.Comparable(c));
    }

    [Fact]
    public void Entries_MappedBundle_OneEntryPerResourceWithItsIdentifierAndRequest()
    {
        var source = Entries.Observation("one");
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction, Entry = [new Bundle.EntryComponent { FullUrl = source.FullUrl, Resource = source.Resource, Request = source.Request }] };

        var entry = Assert.Single(PushPlanner.Entries(bundle));

        Assert.Equal((source.FullUrl, "one", "Observation", Bundle.HTTPVerb.POST), (entry.FullUrl, entry.Identifier.Value, entry.Type, entry.Request.Method!.Value));
    }

    [Fact]
    public void IdentifierOf_ResourceWithoutBusinessIdentifier_ThrowsNamingTheType()
    {
        var e = Assert.Throws<InvalidOperationException>(() => PushPlanner.IdentifierOf(new Condition()));

        Assert.Equal("Condition carries no business identifier", e.Message);
    }
}
