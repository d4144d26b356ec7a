using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>
/// Differential test of Scale.SharedStateValidator (the validator's own entry point re-run with one FHIRPath cache for
/// the process) against the public Firely entry point: every resource of the golden Bundles, single mutations of each
/// (status / subject removed, an unknown profile, a code changed, a reference retargeted) and the test instances give the
/// same issues, in the same order — validated twice, so the second run reads the shared cache.
/// </summary>
public class SharedStateValidatorTests : IClassFixture<SharedStateValidatorTests.Pair>
{
    public sealed class Pair : IDisposable
    {
        public TrdValidator Shared { get; } = TrdValidator.Create();
        public TrdValidator Public { get; } = TrdValidator.Create(new TrdValidatorOptions { SharedState = false });

        public void Dispose()
        {
            Shared.Dispose();
            Public.Dispose();
        }
    }

    private static readonly FhirJsonSerializer Json = new();
    private readonly Pair _pair;

    public SharedStateValidatorTests(Pair pair) => _pair = pair;

    private static IEnumerable<Resource> Corpus() =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "TestData", "golden"), "*.bundle.json").Order(StringComparer.Ordinal)
            .SelectMany(f => ((Bundle)TrdFhirParser.ParseJson(File.ReadAllText(f)).Resource!).Entry.Select(e => e.Resource));

    private void AssertSame(Resource r, string what)
    {
        var expected = string.Join('\n', _pair.Public.Validate(r).Issue.Select(i => Json.SerializeToString(i)));
        for (var pass = 0; pass < 2; pass++)
        {
            var actual = string.Join('\n', _pair.Shared.Validate(r).Issue.Select(i => Json.SerializeToString(i)));
            Assert.True(expected == actual, $"{what} (pass {pass}):\npublic entry\n{expected}\nshared state\n{actual}");
        }
    }

    [Fact]
    public void SharedState_IsUsed()
    {
        Assert.True(_pair.Shared.SharesState);
        Assert.False(_pair.Public.SharesState);
    }

    [Fact]
    public void SharedState_GoldenCorpus_SameIssuesAsPublicEntry()
    {
        var n = 0;
        foreach (var r in Corpus()) AssertSame(r, $"resource {n++} {r.TypeName}");
        Assert.True(n > 300);
    }

    [Fact]
    public void SharedState_MutatedCorpus_SameIssuesAsPublicEntry()
    {
        var corpus = Corpus().ToList();
        var errors = 0;
        for (var k = 0; k < corpus.Count; k++)
        {
            var r = corpus[k].DeepCopy();
            switch (k % 5)
            {
                case 0:
                    (r.GetType().GetProperty("StatusElement") ?? r.GetType().GetProperty("Subject"))?.SetValue(r, null);
                    break;
                case 1:
                    r.Meta ??= new Meta();
                    r.Meta.Profile = [.. r.Meta.Profile, "https://example.org/fhir/StructureDefinition/nope"];
                    break;
                case 2:
                    if (r.GetType().GetProperty("Code")?.GetValue(r) is CodeableConcept cc && cc.Coding.Count > 0) cc.Coding[0].Code = "not-a-code";
                    break;
                case 3:
                    if (r.GetType().GetProperty("Subject")?.GetValue(r) is ResourceReference s) s.Reference = "Group/x";
                    break;
                case 4:
                    if (r is Observation o) o.Value = new FhirString("thirty");
                    else r.Meta = null;
                    break;
            }
            AssertSame(r, $"mutation {k % 5} of resource {k} {r.TypeName}");
            errors += _pair.Public.Validate(r).Success ? 0 : 1;
        }
        Assert.True(errors > corpus.Count / 3, $"the mutations should break many resources; {errors} of {corpus.Count} broken");
    }
}
