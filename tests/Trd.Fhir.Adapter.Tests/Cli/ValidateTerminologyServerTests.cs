using System.Net;
using System.Net.Sockets;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary>
/// Issue 12 item 4, <c>validate --tx URL</c> wired through to the validator (the server side is tested against WireMock in
/// Trd.Fhir.Profiles.Tests/Fidelity/TerminologyServerTests): a server nobody answers at is a warning and the run passes;
/// a URL that is not http(s) is a usage error.
/// </summary>
public sealed class ValidateTerminologyServerTests() : CliTest("trd-tx-")
{
    [Fact]
    public void Validate_TxServerUnreachable_WarningNamingTheServer_Exit0()
    {
        var server = $"http://127.0.0.1:{ClosedPort()}/fhir";
        var example = Repo.Path("profiles", "examples", "trd-observation-phq9-total.valid.json");

        var (exit, output, _) = Run("validate", "--tx", server, example);

        Assert.Equal(ExitCodes.Success, exit);
        var warning = Assert.Single(output.Split('\n'), l => l.Contains(": warning ", StringComparison.Ordinal));
        Assert.Contains("warning transient: Observation.code.coding[0]: Not checked: 1 code(s) of code systems not held offline, because the terminology server", warning, StringComparison.Ordinal);
        Assert.Contains($"the terminology server {server} could not be reached (", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TxNotAnHttpUrl_UsageError()
    {
        var (exit, _, error) = Run("validate", "--tx", "tx.example.org", Repo.Path("profiles", "examples", "trd-observation-phq9-total.valid.json"));

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("validate: --tx tx.example.org: not an http(s) URL (fix: give the terminology server's FHIR base URL", error, StringComparison.Ordinal);
    }

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
