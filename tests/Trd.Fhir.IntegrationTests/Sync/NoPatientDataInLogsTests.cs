using System.Text.RegularExpressions;
using Trd.Fhir.Adapter.Cli;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.IntegrationTests.Sync;

/// <summary>
/// Patient data never reaches the logs: a push and a pull through the real CLI wiring (Serilog, HTTP client, verbose
/// and JSON log formats) against the real server; the captured stderr must not contain the patient's identifier value,
/// name or birth date — while stdout (the user's own output) may.
/// </summary>
[Collection(FhirServerFixture.CollectionName)]
public sealed partial class NoPatientDataInLogsTests(FhirServerFixture server)
{
    private const string SecretMrn = "MRN-PHI-7731";

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, new CliConsole(stdout, stderr));
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("--verbose")]
    [InlineData("--log-json")]
    public async System.Threading.Tasks.Task PushAndPull_Logs_NeverContainPatientIdentifierNameOrBirthDate(string logOption)
    {
        await server.ResetAsync();
        var protocol = SyncHarness.Example("phase2-tms-partial-response", SecretMrn);
        using var sync = new SyncHarness(server.BaseUrl);
        await sync.RegisterPatientAsync(server, protocol.Patient); // name "Synthetic, Test", born 1980-01-01
        var file = Path.Combine(Directory.CreateTempSubdirectory("trd-phi-").FullName, "protocol.json");
        await File.WriteAllTextAsync(file, ProtocolWriter.Write(protocol));

        var push = Run("push", file, "--server", server.BaseUrl.ToString(), logOption);
        var pull = Run("pull", "--server", server.BaseUrl.ToString(), "--patient", $"{protocol.Patient.System}|{SecretMrn}", logOption);

        Assert.Equal(0, push.Exit);
        Assert.Equal(0, pull.Exit);
        Assert.Contains(SecretMrn, pull.Out, StringComparison.Ordinal); // the pulled document is the user's output …
        var logs = push.Err + pull.Err;
        Assert.Contains("Push of protocol", logs, StringComparison.Ordinal); // … the logs are there and say what happened …
        Assert.DoesNotContain(SecretMrn, logs, StringComparison.OrdinalIgnoreCase); // … without patient data
        Assert.DoesNotContain("Synthetic", logs, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("1980-01-01", logs, StringComparison.Ordinal);
        Assert.DoesNotMatch(ResourceJson(), logs); // no serialized resources either
    }

    [GeneratedRegex("\"resourceType\"\\s*:")]
    private static partial Regex ResourceJson();
}
