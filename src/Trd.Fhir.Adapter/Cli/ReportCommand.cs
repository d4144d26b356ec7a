using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Composition;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Report;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>trd-fhir report</c>: the clinical read-out of one protocol — from a protocol document, or pulled from a FHIR server by
/// patient identifier — as one self-contained HTML file (or JSON with the same numbers). The mapped Bundle, with the
/// read-out's Observations and Flags added, is validated and the findings are part of the report. Exit 0: report written,
/// Bundle valid; 1: report written, the Bundle has validation errors (or the pull failed); 2: usage or input errors.
/// </summary>
internal static class ReportCommand
{
    public static Command Create(CliConsole console, TimeProvider time)
    {
        var input = new Argument<string?>("protocol") { Description = "Protocol document (.json); or use --server and --patient", Arity = ArgumentArity.ZeroOrOne };
        var server = new ServerOptions();
        server.Server.Required = false;
        var patient = new Option<string?>("--patient") { Description = "With --server: the patient's identifier as system|value" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the report here (stdout by default)" };
        var format = new Option<string>("--format") { Description = "html | json", DefaultValueFactory = _ => "html" };
        var asOf = new Option<string?>("--as-of") { Description = "Read out as of this date (YYYY-MM-DD) instead of today; later data is ignored" };
        var baseline = new Option<string>("--baseline") { Description = "Baseline PHQ-9: first | phase-1 | phase-2 | phase-3 (the first PHQ-9 within that phase)", DefaultValueFactory = _ => "first" };
        var identifierBase = new Option<string>("--identifier-base") { Description = "Base URL of the business identifier systems", DefaultValueFactory = _ => Identity.DefaultBase };
        var command = new Command("report", "Clinical read-out of a protocol (PHQ-9 trend, response/remission, adherence, phase gates, staging, validation) as one self-contained HTML file or JSON")
        {
            input, patient, output, format, asOf, baseline, identifierBase,
        };
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetValue(input);
            var serverUrl = parse.GetValue(server.Server);
            if ((file is null) == (serverUrl is null))
            {
                console.Error("report: give a protocol document or --server with --patient (one of the two)");
                return ExitCodes.UsageOrInput;
            }
            if (parse.GetValue(format) is not ("html" or "json"))
            {
                console.Error($"report: --format '{parse.GetValue(format)}' is not one of html, json");
                return ExitCodes.UsageOrInput;
            }
            switch (BuildReport.TryOptions(parse.GetValue(asOf), parse.GetValue(baseline)!, out var options))
            {
                case ReportOptionError.AsOf:
                    console.Error($"report: --as-of '{parse.GetValue(asOf)}' is not a date YYYY-MM-DD");
                    return ExitCodes.UsageOrInput;
                case ReportOptionError.Baseline:
                    console.Error($"report: --baseline '{parse.GetValue(baseline)}' is not one of {string.Join(", ", BuildReport.Baselines)}");
                    return ExitCodes.UsageOrInput;
            }

            TrdProtocol? protocol;
            FhirServerOptions? serverOptions = null;
            PatientKey who = default;
            if (file is not null)
            {
                if (!File.Exists(file))
                {
                    console.Error($"{file}: no such file (fix: check the path)");
                    return ExitCodes.UsageOrInput;
                }
                var read = ProtocolReader.Read(await File.ReadAllBytesAsync(file, cancellationToken));
                console.Problems(file, read.Problems.Where(p => p.IsError));
                if (read.Protocol is null)
                    return ExitCodes.UsageOrInput;
                protocol = read.Protocol;
            }
            else
            {
                if (!PatientKey.TryParse(parse.GetValue(patient), out who))
                {
                    console.Error($"report: --server needs --patient system|value (fix: {ServerOptions.PatientHint})");
                    return ExitCodes.UsageOrInput;
                }
                if (!SyncCommands.Ready(server, parse, console, out var ready))
                    return ExitCodes.UsageOrInput;
                serverOptions = ready;
                protocol = null;
            }

            await using var services = serverOptions is null
                ? new ServiceCollection().AddTrdFhir(new TrdFhirOptions { IdentifierBase = parse.GetValue(identifierBase)!, Time = time }).BuildServiceProvider()
                : server.Compose(parse, serverOptions, console, time, parse.GetValue(identifierBase));
            if (protocol is null)
            {
                protocol = (await SyncCommands.PullAsync(services, console, who, null, cancellationToken)).Protocol;
                if (protocol is null)
                    return ExitCodes.ValidationFailed;
            }
            var report = services.GetRequiredService<BuildReport>().Build(protocol, options);
            var readout = report.Readout;
            var rendered = parse.GetValue(format) == "json" ? report.ToJson() : ReportHtml.Render(report);
            if (parse.GetValue(output) is { } target)
            {
                await File.WriteAllTextAsync(target, rendered, cancellationToken);
                console.Error($"report: {target} ({readout.Phq9.Count} PHQ-9, {readout.Adherence.Count} courses, {readout.Hints.Count} hints; validation {report.Errors} errors, {report.Warnings} warnings)");
            }
            else
                console.Write(rendered);
            return report.Errors == 0 ? ExitCodes.Success : ExitCodes.ValidationFailed;
        });
        return command;
    }
}
