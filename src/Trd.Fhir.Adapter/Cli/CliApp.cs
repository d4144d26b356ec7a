using System.CommandLine;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>The <c>trd-fhir</c> command line: verbs are thin handlers returning exit codes (see <see cref="ExitCodes"/>).</summary>
public static class CliApp
{
    /// <summary>Runs one command line; <paramref name="time"/> is the clock every verb waits and dates on (default: the system's).</summary>
    public static int Run(string[] args, CliConsole console, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        time ??= TimeProvider.System;
        var root = new RootCommand("trd-fhir: map, validate and sync treatment-resistant-depression protocols as FHIR R4")
        {
            MapCommand.Create(console),
            ValidateCommand.Create(console),
            PackageCommand.Create(console),
            SyncCommands.Push(console, time),
            SyncCommands.Pull(console, time),
            SyncCommands.Probe(console, time),
            LedgerCommands.Create(console, time),
            ReportCommand.Create(console, time),
            ExportCommand.Create(console, time),
            ServeCommand.Create(console),
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                console.Error($"trd-fhir: {error.Message}");
            console.Error("Run 'trd-fhir --help' for usage.");
            return ExitCodes.UsageOrInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = console.StdOut, Error = console.StdErr, EnableDefaultExceptionHandler = false });
        }
        catch (IOException e)
        {
            console.Error($"trd-fhir: {e.Message}");
            return ExitCodes.UsageOrInput;
        }
        catch (UnauthorizedAccessException e)
        {
            console.Error($"trd-fhir: {e.Message}");
            return ExitCodes.UsageOrInput;
        }
        catch (ArgumentException e)
        {
            console.Error($"trd-fhir: {e.Message}");
            return ExitCodes.UsageOrInput;
        }
        catch (Transport.Auth.FhirAuthException e) when (e.Error == Transport.Auth.FhirAuthError.Configuration)
        {
            console.Error($"trd-fhir: {e.Message}");
            return ExitCodes.UsageOrInput;
        }
        catch (Exception e) when (e is HttpRequestException or Transport.FhirTransportException or Hl7.Fhir.Rest.FhirOperationException or TaskCanceledException)
        {
            // Server unreachable or refusing: a sync failure, said plainly (no stack trace, no request content).
            console.Error($"trd-fhir: the FHIR server could not be used: {e.Message}");
            return ExitCodes.ValidationFailed;
        }
    }
}
