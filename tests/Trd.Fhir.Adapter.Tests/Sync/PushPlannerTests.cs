using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Tests.Transport.Push;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;

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
    public void UsePhq9Channel_SameChannel_LeavesTheEntriesAsTheyAre()
    {
        var protocol = Trd.Fhir.Adapter.Protocol.ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", "phase1-augmentation.json"))).Protocol!;
        var entries = PushPlanner.Entries(Trd.Fhir.Adapter.Mapping.ProtocolToFhir.Default.Map(protocol));
        var before = entries.ToList();

        PushPlanner.UsePhq9Channel(entries, protocol, Trd.Fhir.Adapter.Mapping.Identity.Default, Trd.Fhir.Adapter.Mapping.Phq9Channel.Observation);

        Assert.Equal(before, entries); // the very same entries, not re-mapped
    }
}
