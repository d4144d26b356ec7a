using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>
/// Differential test of the linear Bundle validation (ChunkedBundle): for the golden Bundles, the test Bundles and single
/// mutations of them (broken required element, reference to an entry of the wrong type, dangling reference, duplicate
/// fullUrl, unknown profile, missing request, relative reference), validating in chunks — down to one entry per chunk —
/// gives exactly the issues of one whole-Bundle validation, in the same order.
/// </summary>
public class ChunkedBundleTests(ChunkedBundleTests.TrdFixture trd, ValidatorFixture test) : IClassFixture<ChunkedBundleTests.TrdFixture>, IClassFixture<ValidatorFixture>
{
    public sealed class TrdFixture : IDisposable
    {
        public TrdValidator Validator { get; } = TrdValidator.Create();

        public void Dispose() => Validator.Dispose();
    }

    private static readonly FhirJsonSerializer Json = new();

    private static string Dir(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    private static string[] GoldenFiles() => [.. Directory.GetFiles(Dir("golden"), "*.bundle.json").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    public static TheoryData<string> Golden() => [.. GoldenFiles()];

    private static Bundle LoadGolden(string name) => (Bundle)TrdFhirParser.ParseJson(File.ReadAllText(Path.Combine(Dir("golden"), name))).Resource!;

    private static Bundle LoadTest(string name) => (Bundle)TrdFhirParser.ParseJson(TestData.Instance(name)).Resource!;

    private static List<string> Issues(OperationOutcome oo) => [.. oo.Issue.Select(i => Json.SerializeToString(i))];

    private static void AssertSame(TrdValidator v, Bundle bundle, ProfilePolicy policy, string what)
    {
        var whole = Issues(v.ValidateBundle(bundle, policy, 0));
        foreach (var chunk in new[] { 1, 5 })
        {
            var chunked = Issues(v.ValidateBundle(bundle, policy, chunk));
            Assert.True(whole.SequenceEqual(chunked),
                $"{what}, chunks of {chunk}: whole-Bundle issues\n{string.Join('\n', whole)}\nchunked\n{string.Join('\n', chunked)}");
        }
    }

    [Theory]
    [MemberData(nameof(Golden))]
    public void Chunked_GoldenBundle_SameIssuesAsOnePass(string name)
    {
        var bundle = LoadGolden(name);
        AssertSame(trd.Validator, bundle, ProfilePolicy.MetaProfile, name);
    }

    [Theory]
    [InlineData("bundle-transaction.json")]
    [InlineData("bundle-target-profile.json")]
    public void Chunked_TestBundles_SameIssuesAsOnePass_BothPolicies(string name)
    {
        AssertSame(test.Validator, LoadTest(name), ProfilePolicy.MetaProfile, name);
        AssertSame(test.Validator, LoadTest(name), ProfilePolicy.MetaProfileAndKind, name);
    }

    [Fact]
    public void Chunked_TargetProfileBrokenOnAnotherChunksEntry_ReportedOnceAtTheTarget()
    {
        // test-careplan → Observation (no meta.profile, score 30): the error comes only from the reference's target profile,
        // and the target sits in another chunk than the CarePlan when chunks hold one entry.
        var bundle = LoadTest("bundle-target-profile.json");
        var oo = test.Validator.ValidateBundle(bundle, ProfilePolicy.MetaProfile, 1);

        var issue = Assert.Single(oo.Issue);
        Assert.Equal(["Bundle.entry[1].resource"], issue.Expression);
        Assert.Contains("test-phq9-1", issue.Details.Text, StringComparison.Ordinal);
    }

    public static TheoryData<string, int> Mutations()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in GoldenFiles())
        {
            for (var kind = 0; kind < MutationKinds; kind++) data.Add(file, kind);
        }
        return data;
    }

    private const int MutationKinds = 8;

    [Theory]
    [MemberData(nameof(Mutations))]
    public void Chunked_MutatedGoldenBundle_SameIssuesAsOnePass(string name, int kind)
    {
        var bundle = LoadGolden(name);
        var n = bundle.Entry.Count;
        // a different entry per (bundle, kind), spread over the Bundle
        var at = (kind * 37 + name.Length * 11) % n;
        var entry = bundle.Entry[at];
        var firstReference = References(entry.Resource).FirstOrDefault();
        switch (kind)
        {
            case 0: // a required element gone (status where there is one, else the meta.profile's subject)
                var required = entry.Resource.GetType().GetProperty("StatusElement") ?? entry.Resource.GetType().GetProperty("Subject");
                required!.SetValue(entry.Resource, null);
                break;
            case 1: // reference to an entry of another type (the next entry whose type differs)
                var other = bundle.Entry.First(e => e.Resource.TypeName != entry.Resource.TypeName && e.Resource.TypeName != "Patient");
                if (firstReference is not null) firstReference.Reference = other.FullUrl;
                break;
            case 2: // dangling urn:uuid
                if (firstReference is not null) firstReference.Reference = "urn:uuid:00000000-0000-4000-8000-000000000000";
                break;
            case 3: // duplicate fullUrl (bdl-7)
                entry.FullUrl = bundle.Entry[(at + 1) % n].FullUrl;
                break;
            case 4: // a profile nobody knows
                entry.Resource.Meta ??= new Meta();
                entry.Resource.Meta.Profile = [.. entry.Resource.Meta.Profile, "https://example.org/fhir/StructureDefinition/nope"];
                break;
            case 5: // no request in a transaction (bdl-3, bdl-3c)
                entry.Request = null;
                break;
            case 6: // a relative reference that matches nothing, and one resolved through an id
                bundle.Entry[(at + 2) % n].Resource.Id = "target-id";
                if (firstReference is not null) firstReference.Reference = $"{bundle.Entry[(at + 2) % n].Resource.TypeName}/target-id";
                break;
            case 7: // every entry's first reference pointed at the same entry of the wrong type (many cross-chunk targets)
                foreach (var e in bundle.Entry.Where((_, i) => i % 5 == 0))
                {
                    if (References(e.Resource).FirstOrDefault() is { } r) r.Reference = bundle.Entry[at].FullUrl;
                }
                break;
        }
        AssertSame(trd.Validator, bundle, ProfilePolicy.MetaProfile, $"{name} mutation {kind} at entry {at}");
    }

    private static IEnumerable<ResourceReference> References(Base node)
    {
        if (node is ResourceReference { Reference: not null } r) yield return r;
        foreach (var (_, value) in node.EnumerateElements())
        {
            var children = value is Base b ? [b] : value as IEnumerable<Base> ?? [];
            foreach (var child in children)
            {
                foreach (var found in References(child)) yield return found;
            }
        }
    }
}

/// <summary>Cancellation between chunks and the compile gate (no lock while an instance validates) — no clocks involved.</summary>
public class ChunkedBundleCancellationTests(ValidatorFixture fixture) : IClassFixture<ValidatorFixture>
{
    private static Bundle Load(string name) => (Bundle)TrdFhirParser.ParseJson(TestData.Instance(name)).Resource!;

    [Fact]
    public void ValidateBundle_TokenAlreadyCancelled_Throws()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.Throws<OperationCanceledException>(() => fixture.Validator.ValidateBundle(Load("bundle-transaction.json"), ProfilePolicy.MetaProfile, cts.Token));
    }

    [Fact]
    public void ChunkedValidate_CancelledWhileAChunkValidates_StopsBeforeTheNextChunk()
    {
        var bundle = Load("bundle-transaction.json");
        using var cts = new CancellationTokenSource();
        var chunks = 0;

        Assert.Throws<OperationCanceledException>(() => Scale.ChunkedBundle.Validate(bundle, 1, b =>
        {
            // the first call is the shell, the second the first chunk: cancel while it "runs"
            if (++chunks == 2) cts.Cancel();
            return new OperationOutcome();
        }, cts.Token));

        Assert.Equal(2, chunks);
    }

    [Fact]
    public void CompileGate_NewKinds_CompiledOnceWithEmptyInstancesOnly()
    {
        var calls = new List<(Resource Stub, string? Profile)>();
        var gate = new Scale.CompileGate((r, p) => { calls.Add((r, p)); return new OperationOutcome(); }, new Dictionary<string, string> { ["Observation"] = TestData.Phq9Total });
        var bundle = Load("bundle-transaction.json");

        gate.Ensure(bundle, null, ProfilePolicy.MetaProfileAndKind);
        var first = calls.Count;
        gate.Ensure(bundle, null, ProfilePolicy.MetaProfileAndKind);

        Assert.Equal(first, calls.Count);
        Assert.Contains(calls, c => c.Stub is Bundle { Entry.Count: 0 });
        // every Observation entry is compiled as an empty Observation claiming the kind profile (MetaProfileAndKind)
        Assert.Contains(calls, c => c.Stub is Observation { Status: null } o && o.Meta.Profile.Contains(TestData.Phq9Total));
        Assert.All(calls, c => Assert.True(c.Stub is not DomainResource d || (d.Text is null && d.Contained.Count == 0)));
        Assert.All(calls, c => Assert.DoesNotContain(bundle.Entry, e => ReferenceEquals(e.Resource, c.Stub)));
    }
}
