using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Trd.Fhir.Adapter.Composition;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Auth;
using Trd.Fhir.Adapter.Transport.ServerProfiles;
using Trd.Fhir.Transport.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;

namespace Trd.Fhir.Transport.Tests.Auth;

/// <summary>
/// A server profile's <c>scopes</c> are what the SMART token request asks for when the user gave no <c>--scope</c>: from
/// the first token when the profile is chosen (<c>--server-profile epic</c>), and from the first token after detection
/// when it is detected from <c>/metadata</c> (the token that fetched <c>/metadata</c> is dropped). Composed through the
/// composition root, as the CLI and <c>serve</c> compose it; the token request's form body is what is asserted.
/// </summary>
public sealed class ProfileScopeTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(15);
    private readonly TestClock _clock = new();
    private readonly SmartServer _smart;
    private readonly TempFile _key;

    public ProfileScopeTests()
    {
        _smart = new SmartServer(_clock, "RS384");
        _key = new TempFile(_smart.PrivateKeyPem(pkcs8: true));
        var statement = new CapabilityStatement
        {
            Status = PublicationStatus.Active,
            Kind = CapabilityStatementKind.Instance,
            FhirVersion = FHIRVersion.N4_0_1,
            Date = "2026-05-11",
            Format = ["json"],
            Software = new CapabilityStatement.SoftwareComponent { Name = "Epic", Version = "May 2026" },
        };
        _smart.Server.Given(Request.Create().WithPath("/fhir/metadata").UsingGet()).AtPriority(1)
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/fhir+json")
                .WithBody(new FhirJsonSerializer().SerializeToString(statement)));
    }

    public void Dispose()
    {
        _key.Dispose();
        _smart.Dispose();
    }

    private static readonly string EpicScope = string.Join(' ', ServerProfileCatalog.BuiltIn("epic").Scopes);

    private ServiceProvider Compose(string? profile, string? scope) => new ServiceCollection().AddTrdFhir(new TrdFhirOptions
    {
        Time = _clock,
        Server = new FhirServerOptions
        {
            BaseUrl = new Uri(_smart.BaseUrl),
            ServerProfile = profile,
            Auth = new AuthOptions { Kind = AuthKind.SmartBackend, ClientId = SmartServer.ClientId, KeyId = SmartServer.KeyId, PrivateKeyPath = _key.Path, Algorithm = "RS384", Scope = scope },
        },
    }).BuildServiceProvider();

    private static async System.Threading.Tasks.Task GetPatientAsync(IServiceProvider services)
    {
        using var response = await services.GetRequiredService<IHttpClientFactory>().CreateClient(Trd.Fhir.Adapter.Transport.TransportContext.HttpClientName)
            .GetAsync(new Uri("Patient/1", UriKind.Relative)).WaitAsync(Guard);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async System.Threading.Tasks.Task TokenRequest_ProfileChosen_NoScopeGiven_AsksForTheProfilesScopes()
    {
        await using var services = Compose("epic", scope: null);
        _ = services.GetRequiredService<FhirServerConnection>();

        await GetPatientAsync(services);

        Assert.StartsWith("system/Patient.read system/Patient.search system/Condition.read", EpicScope, StringComparison.Ordinal);
        Assert.Equal(EpicScope, Assert.Single(_smart.TokenRequests).Form["scope"]);
        Assert.Empty(_smart.Refusals);
    }

    [Fact]
    public async System.Threading.Tasks.Task TokenRequest_ProfileDetected_TheTokenAfterDetectionAsksForTheProfilesScopes()
    {
        await using var services = Compose(profile: null, scope: null);
        var connection = services.GetRequiredService<FhirServerConnection>();

        var profile = await connection.ProfileAsync(CancellationToken.None).WaitAsync(Guard); // GET /metadata: software "Epic"
        await GetPatientAsync(services);
        await GetPatientAsync(services);

        Assert.Equal("epic", profile.Name);
        // the /metadata request's token was asked with the generic default; every later request uses a token with Epic's scopes
        Assert.Equal([SmartScopes.Default, EpicScope], _smart.TokenRequests.Select(t => t.Form["scope"]));
        Assert.Empty(_smart.Refusals);
    }

    [Fact]
    public async System.Threading.Tasks.Task TokenRequest_ScopeGiven_WinsOverTheProfilesScopes()
    {
        await using var services = Compose("epic", scope: "system/Patient.read");
        var connection = services.GetRequiredService<FhirServerConnection>();

        await GetPatientAsync(services);
        await connection.ProfileAsync(CancellationToken.None);

        Assert.Equal("system/Patient.read", Assert.Single(_smart.TokenRequests).Form["scope"]);
    }

    [Fact]
    public async System.Threading.Tasks.Task TokenRequest_ProfileWithoutScopes_KeepsTheDefault()
    {
        await using var services = Compose("medplum", scope: null);
        _ = services.GetRequiredService<FhirServerConnection>();

        await GetPatientAsync(services);

        Assert.Empty(ServerProfileCatalog.BuiltIn("medplum").Scopes);
        Assert.Equal(SmartScopes.Default, Assert.Single(_smart.TokenRequests).Form["scope"]);
    }
}
