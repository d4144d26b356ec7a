using System.CommandLine;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>trd-fhir map</c>: protocol document(s) → transaction Bundle(s); <c>--reverse</c>: FHIR Bundle/resource → protocol document.
/// Thin: reads files, calls Protocol + Mapping, prints problems with file:line:column and JSON path, returns an exit code.
/// </summary>
internal static class MapCommand
{
    public static Command Create(CliConsole console, TimeProvider time)
    {
        var inputs = new Argument<string[]>("inputs") { Description = "Protocol document(s) (.json) or directories of them; with --reverse, a FHIR Bundle or resource (.json)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output", "-o") { Description = "Write the result to this file (one input) instead of stdout" };
        var outDir = new Option<string?>("--out-dir") { Description = "Write one result per input into this directory and print a summary" };
        var reverse = new Option<bool>("--reverse") { Description = "Read FHIR (a Bundle or a resource) and write the protocol document" };
        var identifierBase = new Option<string>("--identifier-base") { Description = "Base URL of the business identifier systems", DefaultValueFactory = _ => Identity.DefaultBase };
        var noValidate = new Option<bool>("--no-validate") { Description = "Do not validate the mapped Bundle against the profiles (by default a non-conforming Bundle is reported, not written, exit 1)" };
        var phq9As = new Option<string>("--phq9-as") { Description = "How PHQ-9 assessments are written: observation, questionnaire-response or both", DefaultValueFactory = _ => "observation" };
        phq9As.AcceptOnlyFromAmong("observation", "questionnaire-response", "both");
        var igs = new Option<string[]>("--ig") { Description = "With validation: a FHIR NPM package (.tgz) or directory of artefacts to add to the profiles (repeatable)", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false };

        var progressWanted = ProgressLine.Option();

        var command = new Command("map", "Map a TRD protocol document to a FHIR R4 transaction Bundle, or back with --reverse")
        {
            inputs, output, outDir, reverse, identifierBase, noValidate, phq9As, igs, progressWanted,
        };
        command.SetAction(parse =>
        {
            var identity = new Identity(parse.GetValue(identifierBase)!);
            // The same expansion as validate: directories recursively; a missing path or a directory without documents is exit 2.
            var expansion = InputFiles.Expand(parse.GetValue(inputs)!, InputFiles.ProtocolExtensions);
            var missing = expansion.Missing.ToList();
            foreach (var path in missing)
                console.Error($"{path}: no such file or directory (fix: check the path)");
            var what = parse.GetValue(reverse) ? "FHIR JSON files" : "protocol documents";
            foreach (var empty in expansion.Empty)
                console.Error($"map: no {what} (*.json) in {empty} (fix: give a .json file or a directory that holds some)");
            if (missing.Count > 0 || expansion.Empty.Count > 0)
                return ExitCodes.UsageOrInput;
            var files = expansion.Files;
            var target = parse.GetValue(output);
            var directory = parse.GetValue(outDir);
            if (target is not null && (files.Count > 1 || directory is not null))
            {
                console.Error("map: --output takes one input; use --out-dir for several");
                return ExitCodes.UsageOrInput;
            }
            if (directory is not null)
                Directory.CreateDirectory(directory);
            ValidatorPool? validator = null;
            if (!parse.GetValue(reverse) && !parse.GetValue(noValidate) && !ValidatorPool.TryOpen(parse.GetValue(igs) ?? [], new Dictionary<string, string>(), out validator, out var problem))
            {
                console.Error(problem!);
                return ExitCodes.UsageOrInput;
            }
            using var lease = validator;
            var channel = parse.GetValue(phq9As) switch { "questionnaire-response" => Phq9Channel.QuestionnaireResponse, "both" => Phq9Channel.Both, _ => Phq9Channel.Observation };
            var map = new MapProtocol(identity, validator, channel);

            var exit = ExitCodes.Success;
            var progress = ProgressLine.For(console, parse.GetValue(progressWanted), time, "map", "file(s)", files.Count);
            for (var done = 0; done < files.Count; progress.Report(++done)) // the iterator reports, also after a `continue`
            {
                var input = files[done];
                var file = input.Path;
                if (parse.GetValue(reverse) && directory is not null)
                {
                    exit = Math.Max(exit, ReverseEach(input, map, console, directory));
                    continue;
                }
                var (text, summary, ok) = parse.GetValue(reverse) ? Reverse(file, map, console) : Forward(file, map, console);
                if (!ok)
                {
                    exit = ExitCodes.UsageOrInput;
                    continue;
                }
                if (text.Length == 0)
                {
                    exit = Math.Max(exit, ExitCodes.ValidationFailed);
                    continue;
                }
                if (directory is not null)
                {
                    File.WriteAllText(OutputPath(directory, input, parse.GetValue(reverse) ? ".protocol.json" : ".bundle.json"), text);
                    console.Out($"{file}: {summary}");
                }
                else if (target is not null)
                    File.WriteAllText(target, text);
                else
                    console.Write(text);
            }
            return exit;
        });
        return command;
    }

    private static (string Text, string Summary, bool Ok) Forward(string file, MapProtocol map, CliConsole console)
    {
        var mapped = map.Map(File.ReadAllBytes(file));
        console.Problems(file, mapped.Problems);
        if (mapped.Bundle is not { } bundle)
            return ("", "", false);
        if (mapped.Validation is { } outcome && !ValidateCommand.ReportMapped(file, bundle, outcome, console, "map"))
            return ("", "", true);
        var counts = bundle.Entry.GroupBy(e => e.Resource!.TypeName).Select(g => $"{g.Count()} {g.Key}");
        return (FhirJson.Serialize(bundle), $"{bundle.Entry.Count} resources ({string.Join(", ", counts)})", true);
    }

    private static (string Text, string Summary, bool Ok) Reverse(string file, MapProtocol map, CliConsole console)
    {
        var reversed = map.Reverse(File.ReadAllBytes(file));
        if (reversed.NotFhir is { } issue)
        {
            NotFhir(file, issue, console);
            return ("", "", false);
        }
        var result = reversed.Result!;
        console.Problems(file, [.. result.Problems, .. result.Notices]);
        if (result.Protocol is not { } protocol)
            return ("", "", false);
        return (ProtocolWriter.Write(protocol), Summary(protocol), true);
    }

    private static string Summary(TrdProtocol protocol) => $"{protocol.Phases.Count} phases, {protocol.Sessions.Count} sessions, {protocol.Phq9.Count} PHQ-9";

    private static void NotFhir(string file, OperationOutcome.IssueComponent issue, CliConsole console)
    {
        var where = issue.Diagnostics is { } d && d.StartsWith("line ", StringComparison.Ordinal) ? $"{file}:{d[5..].Replace(", position ", ":", StringComparison.Ordinal)}" : file;
        console.Error($"{where}: not a FHIR resource: {issue.Details?.Text} (fix: give a FHIR R4 Bundle or resource in JSON)");
    }

    /// <summary>Where the result for <paramref name="input"/> goes under <c>--out-dir</c>: a file found in a subfolder of a
    /// given directory keeps that subfolder (<c>a/x.json</c> → <c>out/a/x.bundle.json</c>), so equal names never collide.</summary>
    private static string OutputPath(string directory, InputFile input, string suffix)
    {
        var relative = input.RelativePath;
        var folder = Path.Combine(directory, Path.GetDirectoryName(relative) ?? "");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, Path.GetFileNameWithoutExtension(relative) + suffix);
    }

    /// <summary>One protocol per patient in the input, each written as <c>{input}.{protocol id}.protocol.json</c>.</summary>
    private static int ReverseEach(InputFile input, MapProtocol map, CliConsole console, string directory)
    {
        var file = input.Path;
        var (reading, issue) = map.ReverseEach(File.ReadAllBytes(file));
        if (reading is null)
        {
            NotFhir(file, issue!, console);
            return ExitCodes.UsageOrInput;
        }
        console.Problems(file, reading.Problems);
        var exit = reading.Problems.Any(p => p.IsError) ? ExitCodes.UsageOrInput : ExitCodes.Success;
        foreach (var result in reading.Protocols)
        {
            console.Problems(file, [.. result.Problems, .. result.Notices]);
            if (result.Protocol is not { } protocol)
            {
                exit = ExitCodes.UsageOrInput;
                continue;
            }
            var target = OutputPath(directory, input, $".{protocol.Id}.protocol.json");
            var name = Path.GetFileName(target);
            File.WriteAllText(target, ProtocolWriter.Write(protocol));
            console.Out($"{file}: {name}: {Summary(protocol)}");
        }
        console.Out($"{file}: {reading.Protocols.Count} patient(s), {reading.Protocols.Count(p => p.Protocol is not null)} protocol(s) written");
        return exit;
    }
}
