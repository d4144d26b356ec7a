using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Tests.Mapping;

public class ProtocolToFhirTests
{
    internal static TrdProtocol Example(string name)
    {
        var result = ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", name + ".json")));
        Assert.True(result.Success, string.Join("\n", result.Problems));
        return result.Protocol!;
    }

    internal static Bundle Map(string name) => ProtocolToFhir.Default.Map(Example(name));

    private static IEnumerable<T> All<T>(Bundle bundle) where T : Resource => bundle.Entry.Select(e => e.Resource).OfType<T>();

    private static T ByLocal<T>(Bundle bundle, string protocolId, string local) where T : Resource =>
        All<T>(bundle).Single(r => Identity.Default.LocalPart(r, protocolId) == local);

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Map_Example_MatchesGoldenFile(string example)
    {
        var json = FhirJson.Serialize(Map(example));

        Golden.Verify(json, Repo.Path("tests", "Trd.Fhir.Adapter.Tests", "Golden", example + ".bundle.json"));
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Map_SameExampleTwice_IsByteIdentical(string example)
    {
        Assert.Equal(FhirJson.Serialize(Map(example)), FhirJson.Serialize(Map(example)));
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Map_Example_EveryEntryIsAConditionalCreateWithAnUuidFullUrl(string example)
    {
        var bundle = Map(example);

        Assert.Equal(Bundle.BundleType.Transaction, bundle.Type);
        var fullUrls = new HashSet<string>();
        foreach (var entry in bundle.Entry)
        {
            Assert.Matches("^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", entry.FullUrl);
            Assert.True(fullUrls.Add(entry.FullUrl), $"duplicate fullUrl {entry.FullUrl}");
            Assert.Equal(Bundle.HTTPVerb.POST, entry.Request.Method);
            Assert.Equal(entry.Resource!.TypeName, entry.Request.Url);
            Assert.StartsWith("identifier=https://trd-fhir.example.org/fhir/identifier/" + entry.Resource.TypeName.ToLowerInvariant() + "|", entry.Request.IfNoneExist, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Map_Example_ReferencesOnlyEarlierEntriesOrThePatient(string example)
    {
        var bundle = Map(example);
        var seen = new HashSet<string>();
        foreach (var entry in bundle.Entry)
        {
            foreach (var reference in Descendants(entry.Resource!).OfType<ResourceReference>())
            {
                if (reference.Reference is null)
                    continue;
                if (reference.Reference.StartsWith("urn:uuid:", StringComparison.Ordinal))
                    Assert.Contains(reference.Reference, seen);
                else
                    Assert.StartsWith("Patient", reference.Reference, StringComparison.Ordinal);
            }
            seen.Add(entry.FullUrl);
        }
    }

    private static IEnumerable<Base> Descendants(Base node) => new[] { node }.Concat(node.EnumerateElements().SelectMany(kv => kv.Value switch
    {
        Base child => Descendants(child),
        IEnumerable<Base> list => list.SelectMany(Descendants),
        _ => [],
    }));

    [Fact]
    public void Map_Phase2Tms_CarriesDailyThenWeeklySchedule()
    {
        var bundle = Map("phase2-tms-partial-response");

        var acute = ByLocal<ServiceRequest>(bundle, "syn-0002-trd", "tms-acute");
        var repeat = Assert.IsType<Timing>(acute.Occurrence).Repeat;
        Assert.Equal(1, repeat.Frequency);
        Assert.Equal(1m, repeat.Period);
        Assert.Equal(Timing.UnitsOfTime.D, repeat.PeriodUnit);
        Assert.Equal(20m, repeat.Duration);
        Assert.Equal(Timing.UnitsOfTime.Min, repeat.DurationUnit);
        var bounds = Assert.IsType<Hl7.Fhir.Model.Range>(repeat.Bounds);
        Assert.Equal((4m, "wk", 6m, "wk"), (bounds.Low.Value!.Value, bounds.Low.Code, bounds.High.Value!.Value, bounds.High.Code));
        Assert.Contains(acute.Code.Coding, c => c.System == "http://www.ama-assn.org/go/cpt" && c.Code == "90868");

        var maintenance = ByLocal<ServiceRequest>(bundle, "syn-0002-trd", "tms-maintenance");
        var weekly = Assert.IsType<Timing>(maintenance.Occurrence).Repeat;
        Assert.Equal((1, 1m, Timing.UnitsOfTime.Wk), (weekly.Frequency!.Value, weekly.Period!.Value, weekly.PeriodUnit!.Value));
        var weeklyBounds = Assert.IsType<Hl7.Fhir.Model.Range>(weekly.Bounds);
        Assert.Equal((4m, 8m), (weeklyBounds.Low.Value!.Value, weeklyBounds.High.Value!.Value));
        Assert.Equal(bundle.Entry.Single(e => e.Resource == acute).FullUrl, Assert.Single(maintenance.BasedOn).Reference);
    }

    [Fact]
    public void Map_Phase2Tms_SessionsAreProceduresBasedOnTheirCourseWithParameters()
    {
        var bundle = Map("phase2-tms-partial-response");
        var acuteUrl = bundle.Entry.Single(e => Identity.Default.LocalPart(e.Resource!, "syn-0002-trd") == "tms-acute").FullUrl;

        var sessions = All<Procedure>(bundle).Where(p => p.Code.Coding.Any(c => c.Code == Codes.TmsSession)).ToArray();

        Assert.Equal(16, sessions.Length);
        Assert.All(sessions, s => Assert.Equal(acuteUrl, Assert.Single(s.BasedOn).Reference));
        Assert.Single(sessions, s => s.Status == EventStatus.NotDone);
        var first = sessions.Single(s => ((FhirDateTime)s.Performed).Value == "2026-06-01");
        Assert.Contains(first.Code.Coding, c => c.Code == "90867"); // initial session: motor threshold + mapping
        var parameters = first.GetExtension(Codes.ExtTmsParameters);
        Assert.Equal(10m, parameters.GetExtensionValue<Quantity>("frequency").Value);
        Assert.Equal(120m, parameters.GetExtensionValue<Quantity>("motorThreshold").Value);
        Assert.Equal(3000, parameters.GetExtensionValue<Integer>("pulses").Value);
        Assert.Equal("left-dlpfc", parameters.GetExtensionValue<Coding>("target").Code);
    }

    [Fact]
    public void Map_Phase1_AugmentationCarriesLithiumRxNormAndRole()
    {
        var bundle = Map("phase1-augmentation");

        var lithium = ByLocal<MedicationRequest>(bundle, "syn-0001-trd", "lithium");
        var medication = Assert.IsType<CodeableConcept>(lithium.Medication);
        Assert.Contains(medication.Coding, c => c.System == Codes.RxNorm && c.Code == "42351");
        Assert.Contains(lithium.Category, c => c.Coding.Any(x => x.System == Codes.MedicationRoleSystem && x.Code == "augment"));
        var dose = Assert.IsType<Quantity>(lithium.DosageInstruction[0].DoseAndRate[0].Dose);
        Assert.Equal((300m, "mg"), (dose.Value!.Value, dose.Code));
        Assert.Equal(2, lithium.DosageInstruction[0].Timing.Repeat.Frequency);
    }

    [Fact]
    public void Map_Phase2_QuetiapineAugmentationCarriesItsRxNorm()
    {
        var quetiapine = ByLocal<MedicationRequest>(Map("phase2-tms-partial-response"), "syn-0002-trd", "quetiapine");

        Assert.Contains(((CodeableConcept)quetiapine.Medication).Coding, c => c.System == Codes.RxNorm && c.Code == "51272");
    }

    [Fact]
    public void Map_Phase1_PhasePlanCarriesGateAndOrders()
    {
        var bundle = Map("phase1-augmentation");

        var phase = ByLocal<CarePlan>(bundle, "syn-0001-trd", "phase-1");
        var parent = ByLocal<CarePlan>(bundle, "syn-0001-trd", "protocol");
        Assert.Equal(bundle.Entry.Single(e => e.Resource == parent).FullUrl, Assert.Single(phase.PartOf).Reference);
        var gate = phase.GetExtensionValue<Hl7.Fhir.Model.Duration>(Codes.ExtMinimumDuration);
        Assert.Equal((12m, "wk"), (gate.Value!.Value, gate.Code));
        Assert.Equal(4, phase.Activity.Count);
        Assert.All(phase.Activity, a => Assert.StartsWith("urn:uuid:", a.Reference.Reference, StringComparison.Ordinal));
        Assert.Equal(RequestStatus.Active, phase.Status);
    }

    [Theory]
    [MemberData(nameof(Repo.ExampleNames), MemberType = typeof(Repo))]
    public void Map_Example_Phq9TotalEqualsItemSumAndPanelHasAllMembers(string example)
    {
        var protocol = Example(example);
        var bundle = ProtocolToFhir.Default.Map(protocol);
        var byUrl = bundle.Entry.ToDictionary(e => e.FullUrl, e => e.Resource);

        var panels = All<Observation>(bundle).Where(o => o.Code.Coding.Any(c => c.Code == Codes.Phq9Panel)).ToArray();

        Assert.Equal(protocol.Phq9.Count, panels.Length);
        foreach (var panel in panels)
        {
            var members = panel.HasMember.Select(m => (Observation)byUrl[m.Reference]!).ToArray();
            var items = members.Where(m => Codes.Phq9Items.Any(i => m.Code.Coding[0].Code == i.Code)).ToArray();
            Assert.Equal(9, items.Length);
            var sum = items.Sum(i => Codes.Phq9Answers.Select(a => a.Code).ToList().IndexOf(((CodeableConcept)i.Value).Coding[0].Code));
            var total = members.Single(m => m.Code.Coding[0].Code == Codes.Phq9Total);
            Assert.Equal(sum, (int)((Quantity)total.Value).Value!.Value);
            Assert.Equal("{score}", ((Quantity)total.Value).Code);
            Assert.All(members.Append(panel), m => Assert.Contains(m.Category, c => c.Coding.Any(x => x.Code == "survey")));
            var item9 = items.Single(i => i.Code.Coding[0].Code == "44260-8");
            var flagged = item9.Interpretation.Any(c => c.Coding.Any(x => x.Code == "suicidal-ideation"));
            Assert.Equal(((CodeableConcept)item9.Value).Coding[0].Code != "LA6568-5", flagged);
        }
    }

    [Theory]
    [InlineData(4, "none-minimal")]
    [InlineData(5, "mild")]
    [InlineData(9, "mild")]
    [InlineData(10, "moderate")]
    [InlineData(14, "moderate")]
    [InlineData(15, "moderately-severe")]
    [InlineData(19, "moderately-severe")]
    [InlineData(20, "severe")]
    [InlineData(27, "severe")]
    public void Map_Phq9Total_SeverityBandAtEdges(int total, string band)
    {
        var protocol = Example("phase1-augmentation") with { Phq9 = [new Phq9Assessment(new DateOnly(2026, 9, 7), null, null, total)] };

        var observation = All<Observation>(ProtocolToFhir.Default.Map(protocol)).Single(o => o.Code.Coding[0].Code == Codes.Phq9Total);

        Assert.Equal(band, observation.Interpretation[0].Coding[0].Code);
    }

    [Fact]
    public void Map_Phase3_EctAndEsketamineSessions()
    {
        var bundle = Map("phase3-ect-esketamine");

        var ect = ByLocal<ServiceRequest>(bundle, "syn-0003-trd", "ect");
        Assert.Contains(ect.ReasonCode, r => r.Coding.Any(c => c.Code == "severe-suicidality"));
        Assert.Contains(ect.Code.Coding, c => c.Code == "90870");
        var ectSessions = All<Procedure>(bundle).Where(p => p.Code.Coding.Any(c => c.Code == Codes.EctSession)).ToArray();
        Assert.Equal(7, ectSessions.Length);
        Assert.All(ectSessions, s => Assert.Contains(s.Code.Coding, c => c.System == Codes.Snomed && c.Code == "1010697006"));
        var seizure = ectSessions[0].GetExtension(Codes.ExtEctParameters).GetExtensionValue<Quantity>("seizureDuration");
        Assert.Equal((42m, "s"), (seizure.Value!.Value, seizure.Code));

        var esketamine = ByLocal<MedicationRequest>(bundle, "syn-0003-trd", "esketamine");
        Assert.Contains(((CodeableConcept)esketamine.Medication).Coding, c => c.System == Codes.RxNorm && c.Code == "2201623");
        Assert.True(esketamine.GetExtensionValue<FhirBoolean>(Codes.ExtSupervised).Value);
        var administrations = All<Procedure>(bundle).Where(p => p.Code.Coding.Any(c => c.Code == Codes.EsketamineAdministration)).ToArray();
        Assert.Equal(6, administrations.Length);
        Assert.Equal(84m, administrations.Last().GetExtensionValue<Quantity>(Codes.ExtAdministeredDose).Value);
    }

    [Fact]
    public void Map_PatientWithoutServerReference_IsReferencedConditionallyByIdentifier()
    {
        var bundle = Map("phase1-augmentation");

        var condition = All<Condition>(bundle).Single();
        Assert.Equal("Patient?identifier=https://hospital.example.org/fhir/sid/mrn|SYN-0001", condition.Subject.Reference);
        Assert.Equal("SYN-0001", condition.Subject.Identifier.Value);
        Assert.DoesNotContain(bundle.Entry, e => e.Resource is Patient);
        Assert.Contains(condition.Code.Coding, c => c.System == Codes.Snomed && c.Code == "1153570009");
        Assert.Contains(condition.Code.Coding, c => c.System == Codes.Icd10Cm && c.Code == "F33.2");
    }

    [Fact]
    public void NameBasedUuid_MatchesRfc4122Version5()
    {
        // Expected value from CPython 3.11: uuid.uuid5(uuid.NAMESPACE_URL, "https://x.example/id|a/b").
        Assert.Equal("ec813853-ecb9-5024-8c7f-f11915ce03f3", Identity.NameBasedUuid("https://x.example/id|a/b"));
    }
}
