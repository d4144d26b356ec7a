using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>One synthetic protocol and the Patient the EHR must already hold for it (seed it on the server first).</summary>
public sealed record SyntheticCase(TrdProtocol Protocol, Patient Patient, string Document)
{
    /// <summary>A file name for the document (the protocol id + .json).</summary>
    public string FileName => Protocol.Id + ".json";
}

/// <summary>
/// Synthetic, valid, small-but-real TRD protocols for load, fault and crash tests: a phase-1 augmentation protocol (continued
/// SNRI + lithium, CBT, a few delivered CBT sessions, two or three PHQ-9 totals, two prior trials), about 16–19 FHIR resources
/// each so a thousand pushes stay fast on the test server. Deterministic: the same (count, seed, tag) gives byte-identical
/// documents. Protocol ids and patient identifiers are distinct per index and carry the tag, so suites sharing one server never
/// see each other's data. All data is synthetic.
/// </summary>
public static class SyntheticProtocols
{
    public const string PatientSystem = "https://hospital.example.org/fhir/sid/mrn";

    /// <summary><paramref name="count"/> cases; <paramref name="tag"/> (letters, digits, '-', ≤ 20 chars) keeps suites apart.</summary>
    public static IReadOnlyList<SyntheticCase> Generate(int count, int seed, string tag)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (tag.Length is 0 or > 20 || !tag.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            throw new ArgumentException($"tag '{tag}' must be 1–20 ASCII letters, digits or '-'", nameof(tag));
        var random = new Random(seed);
        var cases = new List<SyntheticCase>(count);
        for (var i = 0; i < count; i++)
            cases.Add(Case(random, seed, tag, i));
        return cases;
    }

    private static SyntheticCase Case(Random random, int seed, string tag, int index)
    {
        var id = $"syn-{tag}-{seed}-{index:D4}".ToLowerInvariant();
        var patientValue = $"MRN-{tag}-{seed}-{index:D4}".ToUpperInvariant(); // not derivable from the protocol id: log checks can tell them apart
        var start = new DateOnly(2026, 1, 5).AddDays(random.Next(0, 200));
        var sessions = Enumerable.Range(0, random.Next(2, 4))
            .Select(k => new DeliveredSession(null, "cbt", null, start.AddDays(3 + 7 * k), k == 1 && random.Next(4) == 0 ? SessionStatus.Missed : SessionStatus.Completed, null, null, null))
            .ToArray();
        var baseline = random.Next(15, 25);
        var phq9 = Enumerable.Range(0, random.Next(2, 4))
            .Select(k => new Phq9Assessment(start.AddDays(14 * k), null, null, Math.Max(0, baseline - k * random.Next(0, 4))))
            .ToArray();
        Schedule Daily(int times) => new(times, null, 1, ScheduleUnit.Day, null, null, null);
        var protocol = new TrdProtocol(
            id,
            new PatientRef(PatientSystem, patientValue, null),
            new Diagnosis(random.Next(2) == 0 ? "F33.2" : "F32.2", start.AddMonths(-random.Next(12, 36))),
            [
                new PriorTrial("sertraline", 150, 8, TrialOutcome.NonResponse),
                new PriorTrial("venlafaxine", 225, 6 + random.Next(0, 4), TrialOutcome.NonResponse),
            ],
            [new CareTeamMember(CareTeamRole.Psychiatry, "Dr. Ada Synthetic"), new CareTeamMember(CareTeamRole.Psychology, "Dr. Ben Placeholder")],
            [
                new Phase(1, PhaseStatus.Active, new DatePeriod(start, start.AddDays(12 * 7)), new DatePeriod(start, null), new MinimumDuration(12, DurationUnit.Week),
                [
                    new MedicationIntervention("venlafaxine", InterventionStatus.Active, "venlafaxine", MedicationRole.Continue, 225, Daily(1), false),
                    new MedicationIntervention("lithium", InterventionStatus.Active, "lithium-carbonate", MedicationRole.Augment, 300, Daily(2), false),
                    new PsychotherapyIntervention("cbt", InterventionStatus.Active, PsychotherapyModality.Cbt, new Schedule(1, null, 1, ScheduleUnit.Week, 50, IntRange.Exactly(12), null)),
                ]),
            ],
            sessions,
            phq9);

        // Through the real reader: the document is what a user would hand to the adapter, and it must be valid.
        var document = ProtocolWriter.Write(protocol);
        var read = ProtocolReader.Read(document);
        if (!read.Success)
            throw new InvalidOperationException($"synthetic protocol {id} is not valid: {string.Join("; ", read.Problems)}");
        var patient = new Patient
        {
            Identifier = [new Identifier(PatientSystem, patientValue)],
            Name = [new HumanName { Family = "Synthetic", Given = [$"Test{index}"] }],
            Gender = index % 2 == 0 ? AdministrativeGender.Female : AdministrativeGender.Male,
            BirthDate = new DateOnly(1950, 1, 1).AddDays(random.Next(0, 18000)).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
        };
        return new SyntheticCase(read.Protocol!, patient, document);
    }

    /// <summary>The Patients as one transaction Bundle (plain creates): one round trip seeds them all.</summary>
    public static Bundle PatientTransaction(IEnumerable<SyntheticCase> cases) => new()
    {
        Type = Bundle.BundleType.Transaction,
        Entry = cases.Select(c => new Bundle.EntryComponent
        {
            FullUrl = "urn:uuid:" + Identity.NameBasedUuid($"{PatientSystem}|{c.Patient.Identifier[0].Value}"),
            Resource = (Patient)c.Patient.DeepCopy(),
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" },
        }).ToList(),
    };

    /// <summary>Writes each document to <paramref name="directory"/> as {protocolId}.json; returns the paths.</summary>
    public static IReadOnlyList<string> WriteDocuments(IEnumerable<SyntheticCase> cases, string directory)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string>();
        foreach (var c in cases)
        {
            var path = Path.Combine(directory, c.FileName);
            File.WriteAllText(path, c.Document);
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>What the server must hold after every case is pushed: (resourceType, "system|value") of each mapped resource.</summary>
    public static HashSet<(string ResourceType, string Identifier)> ExpectedIdentifiers(IEnumerable<SyntheticCase> cases, Identity? identity = null)
    {
        var mapper = identity is null ? ProtocolToFhir.Default : new ProtocolToFhir(identity);
        var expected = new HashSet<(string, string)>();
        foreach (var c in cases)
        {
            foreach (var entry in mapper.Map(c.Protocol).Entry)
            {
                var identifier = Identity.IdentifiersOf(entry.Resource!)[0];
                if (!expected.Add((entry.Resource!.TypeName, $"{identifier.System}|{identifier.Value}")))
                    throw new InvalidOperationException($"two resources of {c.Protocol.Id} share the identifier {identifier.Value}");
            }
        }
        return expected;
    }

    /// <summary>
    /// Every resource of the given types on the server whose business identifier belongs to one of <paramref name="cases"/>
    /// (matched by protocol id prefix), as (resourceType, "system|value") — one element per server resource, so a duplicate
    /// shows up twice. Compare with <see cref="ExpectedIdentifiers"/>.
    /// </summary>
    public static async Task<List<(string ResourceType, string Identifier)>> OnServerAsync(Hl7.Fhir.Rest.FhirClient client, IEnumerable<SyntheticCase> cases, IEnumerable<string> resourceTypes)
    {
        var prefixes = cases.Select(c => c.Protocol.Id + "/").ToArray();
        var found = new List<(string, string)>();
        foreach (var type in resourceTypes)
        {
            var page = await client.SearchAsync(type, pageSize: 1000);
            while (page is not null)
            {
                foreach (var resource in page.Entry.Select(e => e.Resource).Where(r => r is not null))
                {
                    foreach (var identifier in Identity.IdentifiersOf(resource!).Where(i => i.Value is not null && prefixes.Any(p => i.Value.StartsWith(p, StringComparison.Ordinal))))
                        found.Add((resource!.TypeName, $"{identifier.System}|{identifier.Value}"));
                }
                page = await client.ContinueAsync(page);
            }
        }
        return found;
    }

    /// <summary>The resource types the mapping of these cases produces.</summary>
    public static string[] ResourceTypes(IEnumerable<SyntheticCase> cases) =>
        ExpectedIdentifiers(cases).Select(e => e.ResourceType).Distinct().Order(StringComparer.Ordinal).ToArray();
}
