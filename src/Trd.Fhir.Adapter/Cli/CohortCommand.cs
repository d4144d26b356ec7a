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
        var ledger = new Option<string?>("--ledger") { Description = "Share the work with other 'cohort' processes through this PostgreSQL database (postgres://user:password@host:5432/db, or TRD_COHORT_LEDGER): patient partitions claimed with SKIP LOCKED, each read out once, every worker writes the merged read-out" };
        var partitions = new Option<int>("--partitions") { Description = "--ledger: patient partitions of the job (set by the first worker; at least 2 per worker)", DefaultValueFactory = _ => 8 };
        var lease = new Option<TimeSpan>("--lease") { Description = "--ledger: how long a claimed partition stays a worker's without renewal (renewed while it works; a crashed worker's partition is taken over after it): 90s, 10m …", DefaultValueFactory = _ => TimeSpan.FromMinutes(10), CustomParser = ServerOptions.ParseWait };
        var job = new Option<string?>("--job") { Description = "--ledger: the job's name (default: derived from the export's files and the read-out options, the same on every host)" };
        var command = new Command("cohort", "Rebuild each patient's protocol from a Bulk Data export and read the cohort out: patients per phase, response and remission with the PHQ-9 counts behind them, item-9 signals and who needs review, staging, adherence, data too old or missing") { input, output, format, protocols, validate, asOf, staleDays, identifierBase, ledger, partitions, lease, job };
        command.SetAction(async (parse, cancellationToken) =>
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
            var ledgerUrl = parse.GetValue(ledger) ?? Environment.GetEnvironmentVariable("TRD_COHORT_LEDGER");
            if (ledgerUrl is not null && (parse.GetValue(partitions) is < 1 or > 4096 || parse.GetValue(lease) < TimeSpan.FromSeconds(10)))
            {
                console.Error("trd-fhir: --partitions must be 1 to 4096 and --lease at least 10s");
                return ExitCodes.UsageOrInput;
            }
            // workers of one job read out as of the same day: the day is part of the job's key
            var day = parse.GetValue(asOf) ?? (ledgerUrl is null ? null : ClinicalReadout.Today(clock));
            var pool = parse.GetValue(validate) ? Trd.Fhir.Profiles.ValidatorPool.Shared() : null;
            var workflow = new CohortWorkflow(new FhirToProtocol(new Identity(parse.GetValue(identifierBase)!)), clock)
            {
                Clinical = new ClinicalOptions { AsOf = day },
                StaleDays = parse.GetValue(staleDays),
                Validate = pool is null ? null : pool.Validate,
                Progress = m => console.Error($"cohort: {m}"),
            };
            var protocolsDirectory = parse.GetValue(protocols) ?? Path.Combine(dir, "protocols");
            CohortResult result;
            try
            {
                if (ledgerUrl is null)
                {
                    result = workflow.Run(dir, protocolsDirectory);
                }
                else
                {
                    var key = parse.GetValue(job) ?? SharedCohort.JobKey(dir, day!.Value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), parse.GetValue(staleDays).ToString(CultureInfo.InvariantCulture),
                        parse.GetValue(identifierBase)!, parse.GetValue(validate) ? "validate" : "");
                    await using var shared = new CohortLedger(ledgerUrl, clock);
                    result = await new SharedCohort(shared, clock) { Lease = parse.GetValue(lease), Progress = m => console.Error($"cohort: {m}") }
                        .RunAsync(workflow, dir, protocolsDirectory, key, parse.GetValue(partitions), day!.Value, parse.GetValue(staleDays), cancellationToken);
                }
            }
            catch (FileNotFoundException e)
            {
                console.Error($"trd-fhir: cohort: {e.Message}");
                return ExitCodes.UsageOrInput;
            }
            catch (ArgumentException e) when (ledgerUrl is not null)
            {
                console.Error($"trd-fhir: --ledger: {e.Message}");
                return ExitCodes.UsageOrInput;
            }
            catch (Npgsql.NpgsqlException e)
            {
                console.Error($"trd-fhir: cohort: the ledger database failed ({e.Message}); the work done so far is kept: run the same command again to continue");
                return ExitCodes.ValidationFailed;
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
