using System.CommandLine;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>The <c>trd-fhir</c> command line: verbs are thin handlers returning exit codes (see <see cref="ExitCodes"/>).</summary>
public static class CliApp
{
    /// <summary>A token that looks like an option (<c>--x</c>, <c>-x</c>) but was taken as a file or directory argument because
    /// the verb has no such option, and names no existing path: a usage error, not "no such file".</summary>
    private static string? UnknownOption(ParseResult parse) =>
        parse.CommandResult.Children.OfType<System.CommandLine.Parsing.ArgumentResult>()
            .SelectMany(a => a.Tokens)
            .Select(t => t.Value)
            .Concat(parse.UnmatchedTokens)
            .FirstOrDefault(v => v.Length > 1 && v[0] == '-' && !File.Exists(v) && !Directory.Exists(v));

    /// <summary>Runs one command line; <paramref name="time"/> is the clock every verb waits and dates on (default: the system's).</summary>
    public static int Run(string[] args, CliConsole console, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        time ??= TimeProvider.System;
        var root = new RootCommand("trd-fhir: map, validate and sync treatment-resistant-depression protocols as FHIR R4")
        {
            MapCommand.Create(console, time),
            ValidateCommand.Create(console, time),
            PackageCommand.Create(console),
            SyncCommands.Push(console, time),
            SyncCommands.Pull(console, time),
            SyncCommands.Probe(console, time),
            LedgerCommands.Create(console, time),
            ReportCommand.Create(console, time),
            ExportCommand.Create(console, time),
            CohortCommand.Create(console, time),
            ServeCommand.Create(console),
        };
        var parse = root.Parse(args);
        if (UnknownOption(parse) is { } unknown)
        {
            console.Error($"trd-fhir {parse.CommandResult.Command.Name}: unknown option '{unknown}' (fix: see 'trd-fhir {parse.CommandResult.Command.Name} --help'; a file whose name starts with '-' is given as ./{unknown})");
            return ExitCodes.UsageOrInput;
        }
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
