using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Cohort;
using Trd.Fhir.Adapter.Mapping;

namespace Trd.Fhir.Adapter.Cli;

/// <summary><c>cohort</c>: an export directory → one protocol per patient → a cohort read-out (thin handler over <see cref="CohortWorkflow"/>).</summary>
internal static class CohortCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(CliConsole console, TimeProvider clock)
    {
        var input = new Argument<string>("dir") { Description = "Directory of NDJSON files in Bulk Data layout (e.g. the output of 'trd-fhir export')" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the read-out here (stdout by default)" };
        var format = new Option<string>("--format") { Description = "html | json", DefaultValueFactory = _ => "html" };
        var protocols = new Option<string?>("--protocols") { Description = "Directory for one protocol document per patient (default: DIR/protocols)" };
        var validate = new Option<bool>("--validate") { Description = "Validate every resource on the way in (against the Trd.Fhir profiles); invalid ones are counted and listed" };
        var asOf = new Option<DateOnly?>("--as-of") { Description = "Read out as of this date (default: today)" };
        var staleDays = new Option<int>("--stale-days") { Description = "A latest PHQ-9 older than this many days counts as too old", DefaultValueFactory = _ => 90 };
        var identifierBase = new Option<string>("--identifier-base") { Description = "Base URL of the business identifier systems", DefaultValueFactory = _ => Identity.DefaultBase };
        var command = new Command("cohort", "Rebuild each patient's protocol from a Bulk Data export and read the cohort out: patients per phase, response and remission with the PHQ-9 counts behind them, item-9 signals and who needs review, staging, adherence, data too old or missing") { input, output, format, protocols, validate, asOf, staleDays, identifierBase };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(input)!;
            if (!Directory.Exists(dir))
            {
                console.Error($"trd-fhir: cohort: {dir} is not a directory (fix: the output directory of 'trd-fhir export')");
                return ExitCodes.UsageOrInput;
            }
            var kind = parse.GetValue(format);
            if (kind is not ("html" or "json"))
            {
                console.Error($"trd-fhir: --format '{kind}' is not one of html, json");
                return ExitCodes.UsageOrInput;
            }
            if (parse.GetValue(staleDays) < 1)
            {
                console.Error("trd-fhir: --stale-days must be at least 1");
                return ExitCodes.UsageOrInput;
            }
            string? incomplete;
            try
            {
                incomplete = CohortWorkflow.IncompleteExport(dir);
            }
            catch (Bulk.BulkExportException e)
            {
                console.Error($"trd-fhir: cohort: {e.Message}");
                return ExitCodes.UsageOrInput;
            }
            if (incomplete is not null)
            {
                console.Error($"cohort: {dir} is an incomplete export: {incomplete}. Fix: run the same 'trd-fhir export' command again to finish it");
                return ExitCodes.ValidationFailed;
            }
            var pool = parse.GetValue(validate) ? Trd.Fhir.Profiles.ValidatorPool.Shared() : null;
            var workflow = new CohortWorkflow(new FhirToProtocol(new Identity(parse.GetValue(identifierBase)!)), clock)
            {
                Clinical = new ClinicalOptions { AsOf = parse.GetValue(asOf) },
                StaleDays = parse.GetValue(staleDays),
                Validate = pool is null ? null : pool.Validate,
                Progress = m => console.Error($"cohort: {m}"),
            };
            CohortResult result;
            try
            {
                result = workflow.Run(dir, parse.GetValue(protocols) ?? Path.Combine(dir, "protocols"));
            }
            catch (FileNotFoundException e)
            {
                console.Error($"trd-fhir: cohort: {e.Message}");
                return ExitCodes.UsageOrInput;
            }
            foreach (var problem in result.Problems)
                console.Error($"cohort: {problem}");
            if (result.ProblemCount > result.Problems.Count)
                console.Error($"cohort: … and {result.ProblemCount - result.Problems.Count} more problems");
            var text = kind == "json"
                ? JsonSerializer.Serialize(result.Tally.ToJson(result.Resources, result.Skipped, result.InvalidResources), Json) + "\n"
                : CohortHtml.Render(result);
            if (parse.GetValue(output) is { } file)
                File.WriteAllText(file, text);
            else
                console.Write(text);
            var t = result.Tally;
            console.Error($"cohort: {t.Patients.ToString("N0", CultureInfo.InvariantCulture)} patients, {t.Rebuilt.ToString("N0", CultureInfo.InvariantCulture)} protocols rebuilt, {t.NeedsReview.Count} with item-9 signals{(result.InvalidResources > 0 ? $", {result.InvalidResources} invalid resources" : "")}");
            return result.InvalidResources > 0 || t.Rebuilt < t.Patients ? ExitCodes.ValidationFailed : ExitCodes.Success;
        });
        return command;
    }
}
