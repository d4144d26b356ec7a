using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Tests.Mapping;

/// <summary>Issue 11 item 1: one patient per protocol — never a merge.</summary>
public class PatientScopeTests
{
    private const string Mrn = "https://hospital.example.org/fhir/sid/mrn";

    private static Patient Person(string id, string mrn) => new() { Id = id, Identifier = [new Identifier(Mrn, mrn)] };

    private static Observation Total(string id, int total, string date, ResourceReference subject) => new()
    {
        Id = id,
        Status = ObservationStatus.Final,
        Code = new CodeableConcept(Codes.Loinc, Codes.Phq9Total),
        Subject = subject,
        Effective = new FhirDateTime(date),
        Value = new Integer(total),
    };

    private static SourcedResource[] Sourced(params Resource[] resources) =>
        resources.Select((r, i) => new SourcedResource(r, $"Bundle.entry[{i}]", $"http://ehr.example/fhir/{r.TypeName}/{r.Id}")).ToArray();

    // Alice 18 → 12 → 9; Bob 22 → 3 → 2 (the data): by literal reference to two Patient resources.
    private static SourcedResource[] TwoByReference() => Sourced(
        Person("alice", "A-1"), Person("bob", "B-2"),
        Total("a1", 18, "2026-01-05", new ResourceReference("Patient/alice")),
        Total("b1", 22, "2026-01-06", new ResourceReference("Patient/bob")),
        Total("a2", 12, "2026-02-05", new ResourceReference("Patient/alice")),
        Total("b2", 3, "2026-02-06", new ResourceReference("http://ehr.example/fhir/Patient/bob")),
        Total("a3", 9, "2026-03-05", new ResourceReference("Patient/alice")),
        Total("b3", 2, "2026-03-06", new ResourceReference("Patient/bob/_history/2")));

    [Fact]
    public void Read_TwoPatientsByReference_FailsNamingHowMany()
    {
        var result = FhirToProtocol.Default.Read(TwoByReference());

        Assert.Null(result.Protocol);
        var error = Assert.Single(result.Problems, p => p.IsError);
        Assert.Contains("2 patients", error.Message, StringComparison.Ordinal);
        Assert.Contains("--out-dir", error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadEach_TwoPatientsByReference_GivesTwoProtocolsEachWithOnlyItsOwnTotals()
    {
        var reading = FhirToProtocol.Default.ReadEach(TwoByReference());

        Assert.Equal(2, reading.Protocols.Count);
        var alice = reading.Protocols.Single(p => p.Protocol!.Patient.Value == "A-1").Protocol!;
        var bob = reading.Protocols.Single(p => p.Protocol!.Patient.Value == "B-2").Protocol!;
        Assert.Equal([18, 12, 9], alice.Phq9.Select(a => a.Total));
        Assert.Equal([22, 3, 2], bob.Phq9.Select(a => a.Total));
        Assert.NotEqual(alice.Id, bob.Id);
    }

    [Fact]
    public void ReadEach_TwoPatientsByIdentifierOnly_GivesTwoProtocols()
    {
        ResourceReference By(string mrn) => new() { Identifier = new Identifier(Mrn, mrn) };
        var input = Sourced(
            Total("a1", 18, "2026-01-05", By("A-1")),
            Total("b1", 22, "2026-01-06", By("B-2")),
            Total("a2", 9, "2026-03-05", new ResourceReference("Patient?identifier=" + Mrn + "|A-1")));

        var single = FhirToProtocol.Default.Read(input);
        var reading = FhirToProtocol.Default.ReadEach(input);

        Assert.Null(single.Protocol);
        Assert.Contains(single.Problems, p => p.IsError && p.Message.Contains("2 patients", StringComparison.Ordinal));
        Assert.Equal([18, 9], reading.Protocols.Single(p => p.Protocol!.Patient.Value == "A-1").Protocol!.Phq9.Select(a => a.Total));
        Assert.Equal([22], reading.Protocols.Single(p => p.Protocol!.Patient.Value == "B-2").Protocol!.Phq9.Select(a => a.Total));
    }

    [Fact]
    public void Read_SubjectReferenceAndIdentifierNameTwoPatients_ReportedNotAttached()
    {
        var both = Total("x", 25, "2026-01-07", new ResourceReference("Patient/alice") { Identifier = new Identifier(Mrn, "B-2") });
        var input = Sourced(Person("alice", "A-1"), Person("bob", "B-2"), Total("a1", 10, "2026-01-05", new ResourceReference("Patient/alice")), both);

        var reading = FhirToProtocol.Default.ReadEach(input);

        Assert.Contains(reading.Problems, p => p.Path == "Bundle.entry[3]" && p.Message.Contains("two different patients", StringComparison.Ordinal));
        Assert.All(reading.Protocols, r => Assert.DoesNotContain(r.Protocol!.Phq9, a => a.Total == 25));
    }

    [Fact]
    public void Read_ResourceWithoutSubject_IsReportedAndNotAttached()
    {
        var orphan = Total("o", 25, "2026-01-07", null!);
        var result = FhirToProtocol.Default.Read(Sourced(Person("alice", "A-1"), Total("a1", 10, "2026-01-05", new ResourceReference("Patient/alice")), orphan));

        Assert.Equal([10], result.Protocol!.Phq9.Select(a => a.Total));
        Assert.Contains(result.Problems, p => p.Path == "Bundle.entry[2]" && p.Message.Contains("cannot be tied to a patient", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_ContainedPatient_TiesTheResourceByItsIdentifier()
    {
        var total = Total("c", 7, "2026-01-05", new ResourceReference("#p"));
        total.Contained.Add(new Patient { Id = "p", Identifier = [new Identifier(Mrn, "C-3")] });

        var result = FhirToProtocol.Default.Read(Sourced(total));

        Assert.Equal(new PatientRef(Mrn, "C-3", null), result.Protocol!.Patient);
        Assert.Equal([7], result.Protocol.Phq9.Select(a => a.Total));
    }

    [Fact]
    public void Read_ForeignPatientId_IsNotTurnedIntoAReference()
    {
        var result = FhirToProtocol.Default.Read(Sourced(Person("123", "A-1"), Total("a1", 10, "2026-01-05", new ResourceReference("Patient/123"))));

        Assert.Null(result.Protocol!.Patient.Reference);
        var bundle = ProtocolToFhir.Default.Map(result.Protocol);
        Assert.All(bundle.Entry.Select(e => e.Resource).OfType<Observation>(), o => Assert.StartsWith("Patient?identifier=", o.Subject.Reference, StringComparison.Ordinal));
    }

    [Fact]
    public void ProtocolId_WithKey_IsKeyedStableAndNotTheUnkeyedHash()
    {
        var key = new PseudonymKey("an installation secret of 32 bytes!");
        var input = Sourced(Person("alice", "A-1"), Total("a1", 10, "2026-01-05", new ResourceReference("Patient/alice")));

        var keyed = new FhirToProtocol(Identity.Default, key).Read(input);
        var again = new FhirToProtocol(Identity.Default, new PseudonymKey("an installation secret of 32 bytes!")).Read(input);
        var other = new FhirToProtocol(Identity.Default, new PseudonymKey("another installation secret......")).Read(input);

        Assert.Equal(keyed.Protocol!.Id, again.Protocol!.Id);
        Assert.NotEqual(keyed.Protocol.Id, other.Protocol!.Id);
        Assert.NotEqual(PseudonymKey.UnkeyedProtocolId(Mrn, "A-1"), keyed.Protocol.Id);
        Assert.Matches("^pulled-[0-9a-f]{32}$", keyed.Protocol.Id);
        Assert.DoesNotContain(keyed.Notices, n => n.Path == "protocol.id");
    }

    [Fact]
    public void ProtocolId_WithoutKey_WarnsOncePerReader()
    {
        var reader = new FhirToProtocol(Identity.Default, null);
        var input = Sourced(Person("alice", "A-1"), Total("a1", 10, "2026-01-05", new ResourceReference("Patient/alice")));

        var first = reader.Read(input);
        var second = reader.Read(input);

        Assert.Contains(first.Notices, n => n.Path == "protocol.id" && n.Message.Contains(PseudonymKey.EnvironmentVariable, StringComparison.Ordinal));
        Assert.DoesNotContain(second.Notices, n => n.Path == "protocol.id");
        Assert.Equal(PseudonymKey.UnkeyedProtocolId(Mrn, "A-1"), first.Protocol!.Id);
    }

    [Fact]
    public void PseudonymKey_TooShort_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => new PseudonymKey("short"));
    }
}
