using System.Net;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Tests.Transport.Push;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>The probe use case against a scripted server (the real one is in the integration tests), and the patient key
/// both pull surfaces parse.</summary>
public sealed class ProbeAndPullTests
{
    private static CapabilityStatement Statement() => new()
    {
        Status = PublicationStatus.Active,
        Kind = CapabilityStatementKind.Instance,
        FhirVersion = FHIRVersion.N4_0_1,
        Format = ["json"],
        Rest =
        [
            new CapabilityStatement.RestComponent
            {
                Mode = CapabilityStatement.RestfulCapabilityMode.Server,
                Interaction = [new CapabilityStatement.SystemInteractionComponent { Code = CapabilityStatement.SystemRestfulInteraction.Transaction }],
                Resource =
                [
                    new CapabilityStatement.ResourceComponent
                    {
                        Type = "Observation",
                        Interaction = [new() { Code = CapabilityStatement.TypeRestfulInteraction.Read }, new() { Code = CapabilityStatement.TypeRestfulInteraction.Create }],
                        ConditionalCreate = true,
                    },
                ],
            },
        ],
    };

    [Fact]
    public async System.Threading.Tasks.Task ProbeAsync_LiveAndTheServerDuplicates_SaysSoAndCleansUp()
    {
        var stub = new StubServer()
            .ThenStatus(HttpStatusCode.OK, Statement())
            .ThenStatus(HttpStatusCode.Created, new Observation { Id = "s1", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "44261-6") }, "Observation/s1/_history/1")
            .ThenStatus(HttpStatusCode.OK, new Observation { Id = "s1", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "44261-6") })
            .ThenStatus(HttpStatusCode.Created, new Observation { Id = "s2", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "44261-6") }, "Observation/s2/_history/1")
            .ThenStatus(HttpStatusCode.NoContent);

        var result = await new ProbeServer(stub.Connection()).ProbeAsync(live: true, CancellationToken.None);

        Assert.Equal(
            ["GET http://stub.test/fhir/metadata?_summary=false", "POST http://stub.test/fhir/Observation", "GET http://stub.test/fhir/Observation/s1", "POST http://stub.test/fhir/Observation", "DELETE http://stub.test/fhir/Observation/s1"],
            stub.Requests.Select(r => $"{r.Method} {r.Url}"));
        Assert.Equal(
            [
                ("create (If-None-Exist)", true),
                ("read", true),
                ("conditional create twice", false),
                ("delete", true),
            ], result.Live!.Select(c => (c.Check, c.Ok)));
        Assert.Equal("second create gave id s2: the server DUPLICATES on conditional create", result.Live![2].Detail);
        Assert.True(result.LiveFailed);
        Assert.True(result.Capabilities.Transaction);
        Assert.True(result.Kinds.Single(k => k.Type == "Observation").Caps.ConditionalCreate);
    }

    [Theory]
    [InlineData("https://hospital.example.org/mrn|12345", true, "https://hospital.example.org/mrn", "12345")]
    [InlineData("sys|a|b", true, "sys", "a|b")]
    [InlineData("|12345", false, null, null)]
    [InlineData("https://hospital.example.org/mrn|", false, null, null)]
    [InlineData("12345", false, null, null)]
    [InlineData(null, false, null, null)]
    public void PatientKey_TryParse_SystemBarValueBothNonEmpty(string? text, bool ok, string? system, string? value)
    {
        Assert.Equal(ok, PatientKey.TryParse(text, out var key));
        if (ok) Assert.Equal(new PatientKey(system!, value!), key);
    }
}
