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
}
