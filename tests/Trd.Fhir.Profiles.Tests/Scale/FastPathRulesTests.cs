using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Trd.Fhir.Profiles.Scale;

namespace Trd.Fhir.Profiles.Tests;

/// <summary>One test per soundness rule of Scale.FastPath / ShapeKey: what stays verbatim in the key, what becomes a class
/// token, which invariants are re-checked on a remembered shape, what is sent to the full engine.</summary>
[Trait("Category", "FastPath")]
public class FastPathRulesTests : IClassFixture<FastPathDifferentialTests.Pair>
{
    private static readonly FhirJsonSerializer Json = new();
    private readonly FastPathDifferentialTests.Pair _pair;

    public FastPathRulesTests(FastPathDifferentialTests.Pair pair) => _pair = pair;

    private static T First<T>() where T : Resource => (T)FastPathDifferentialTests.Corpus().First(r => r is T).DeepCopy();

    private static string Render(OperationOutcome oo) => string.Join('\n', oo.Issue.Select(i => Json.SerializeToString(i)));

    private UInt128? Key(Resource r, Func<string, Resource?>? resolve = null, params string[] profiles)
    {
        var map = new ElementMap(resolve ?? _pair.Fast.Resolver.Resolve);
        return new ShapeKey(map).Compute(r.ToPocoNode(ModelInfo.ModelInspector), map.Root(r.TypeName, [.. r.Meta?.Profile ?? [], .. profiles]), "", []);
    }

    [Fact]
    public void FreeValues_ShareTheKey_PinnedValuesDoNot()
    {
        var a = First<Condition>();
        a.Id = "c-1";
        a.Onset = new FhirDateTime("2024-02-01");
        a.Note = [new Annotation { Text = "first note" }];
        var key = Key(a);
        Assert.NotNull(key);

        var b = (Condition)a.DeepCopy();
        b.Id = "c-2";                                 // id: free
        b.Onset = new FhirDateTime("1999-12-31");      // same precision: free
        b.Note[0].Text = "second note";                // Annotation.text markdown: free
        Assert.Equal(key, Key(b));

        var c = (Condition)a.DeepCopy();
        c.Code.Text = "Another text";                  // inside CodeableConcept: verbatim
        Assert.NotEqual(key, Key(c));

        var d = (Condition)a.DeepCopy();
        d.Onset = new FhirDateTime("2024-02-01T10:00:00+01:00"); // other precision: another class
        Assert.NotEqual(key, Key(d));

        // trd-condition slices identifier by value:system: the discriminator's element is pinned, the rest is not
        var e = (Condition)a.DeepCopy();
        e.Identifier[0].Value = "another-identifier";
        Assert.Equal(key, Key(e));
        e.Identifier[0].System = "https://example.org/other";
        Assert.NotEqual(key, Key(e));
    }

    [Fact]
    public void RelativeReference_TypeVerbatim_IdFree_OtherFormsVerbatim()
    {
        var a = First<Condition>();
        a.Subject = new ResourceReference("Patient/p-1");
        var key = Key(a);
        a.Subject.Reference = "Patient/p-2";
        Assert.Equal(key, Key(a));
        a.Subject.Reference = "Group/p-1";
        Assert.NotEqual(key, Key(a));
        a.Subject.Reference = "https://example.org/fhir/Patient/p-1";
        var absolute = Key(a);
        a.Subject.Reference = "https://example.org/fhir/Patient/p-2";
        Assert.NotEqual(absolute, Key(a));
    }

    [Fact]
    public void ValueFailingItsTypeRegexOrParse_TakesTheFullEngine()
    {
        var a = First<Condition>();
        a.Onset = new FhirDateTime { Value = "2024-02-30" }; // matches the dateTime regex, is no date
        Assert.Null(Key(a));
        Assert.Contains("invalid DateTime", ShapeKey.LastBypass);

        var fast = _pair.Fast.Fast!;
        var bypassed = fast.Bypassed;
        Assert.Equal(Render(_pair.Full.Validate(a)), Render(_pair.Fast.Validate(a)));
        Assert.Equal(bypassed + 1, fast.Bypassed);
    }

    [Fact]
    public void SwappedPeriod_SameKey_IsNotAHit_Per1FromTheEngine()
    {
        var plan = First<CarePlan>();
        plan.Period = new Period { Start = "2026-09-07", End = "2026-12-07" };
        var fast = _pair.Fast.Fast!;
        Assert.DoesNotContain(_pair.Fast.Validate(plan).Issue, i => i.Severity is OperationOutcome.IssueSeverity.Error);
        var swapped = (CarePlan)plan.DeepCopy();
        swapped.Period = new Period { Start = "2026-12-07", End = "2026-09-07" };
        Assert.Equal(Key(plan), Key(swapped));

        var (hits, invariantMisses) = (fast.Hits, fast.InvariantMisses);
        var outcome = _pair.Fast.Validate(swapped);
        Assert.Equal(hits, fast.Hits);
        Assert.Equal(invariantMisses + 1, fast.InvariantMisses);
        Assert.Contains(outcome.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Error && (i.Details?.Text ?? "").Contains("per-1", StringComparison.Ordinal));
        Assert.Equal(Render(_pair.Full.Validate(swapped)), Render(outcome));

        // the unswapped instance of that shape is still decided by the memo
        Assert.DoesNotContain(_pair.Fast.Validate(plan).Issue, i => i.Severity is OperationOutcome.IssueSeverity.Error);
        Assert.Equal(hits + 1, fast.Hits);
    }

    [Theory]
    [InlineData("maxLength")]
    [InlineData("pattern")]
    [InlineData("binding")]
    public void StringConstrainedByAProfile_StaysVerbatim(string constraint)
    {
        const string url = "https://example.org/fhir/StructureDefinition/test-note";
        var text = new ElementDefinition("Observation.note.text");
        switch (constraint)
        {
            case "maxLength": text.MaxLength = 20; break;
            case "pattern": text.Pattern = new Markdown("fixed note"); break;
            default: text.Binding = new ElementDefinition.ElementDefinitionBindingComponent { Strength = BindingStrength.Required, ValueSet = "http://example.org/vs" }; break;
        }
        var sd = new StructureDefinition
        {
            Url = url,
            Type = "Observation",
            Snapshot = new StructureDefinition.SnapshotComponent { Element = [new ElementDefinition("Observation"), new ElementDefinition("Observation.note"), text] },
        };
        Resource? Resolve(string u) => u == url ? sd : _pair.Fast.Resolver.Resolve(u);
        var a = First<Observation>();
        a.Note = [new Annotation { Text = "first note" }];
        var b = (Observation)a.DeepCopy();
        b.Note[0].Text = "second note";
        Assert.Equal(Key(a, Resolve), Key(b, Resolve));                // core Observation: Annotation.text is free
        Assert.NotEqual(Key(a, Resolve, url), Key(b, Resolve, url));  // under the profile: verbatim
    }

    [Fact]
    public void Switch_OffOnRequest_AndWithATerminologyServer()
    {
        using var off = TrdValidator.Create(new TrdValidatorOptions { FastPath = false });
        Assert.Null(off.Fast);
        using var tx = TrdValidator.Create(new TrdValidatorOptions { TerminologyServer = new Uri("http://127.0.0.1:9/fhir") });
        Assert.Null(tx.Fast);
        Assert.NotNull(_pair.Fast.Fast);
    }

    [Fact]
    public void Bundle_TakesTheFullEngine()
    {
        var fast = _pair.Fast.Fast!;
        var before = (fast.Hits, fast.Misses, fast.Bypassed, fast.InvariantMisses);
        var bundle = new Bundle { Type = Bundle.BundleType.Collection, Entry = [new Bundle.EntryComponent { FullUrl = "urn:uuid:0f1e2d3c-4b5a-4968-8776-655443322110", Resource = First<Condition>() }] };
        Assert.Equal(Render(_pair.Full.ValidateBundle(bundle)), Render(_pair.Fast.ValidateBundle(bundle)));
        Assert.Equal(before, (fast.Hits, fast.Misses, fast.Bypassed, fast.InvariantMisses));
    }
}
