using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trd.Fhir.Adapter.Bulk;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Cli;

/// <summary><c>export</c>: a FHIR Bulk Data export to a directory of NDJSON files, resumable (thin handler over <see cref="BulkExportWorkflow"/>).</summary>
internal static class ExportCommand
{
    /// <summary>Without --types: the patient and the resource kinds a TRD protocol is rebuilt from.</summary>
    public static readonly IReadOnlyList<string> DefaultTypes = ["Patient", .. PullWorkflow.ResourceTypes];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(CliConsole console, TimeProvider clock)
    {
        var server = new ServerOptions();
        var group = new Option<string?>("--group") { Description = "Export the patients of this Group (Group/[id]/$export)" };
        var patients = new Option<string?>("--patients") { Description = "Export these patients only: a file with one Patient id (or Patient/id) per line (POST Patient/$export)" };
        var system = new Option<bool>("--system") { Description = "System-level export ([base]/$export) instead of Patient/$export" };
        var since = new Option<DateTimeOffset?>("--since") { Description = "Only resources changed after this instant (_since), e.g. the transactionTime of the previous export" };
        var types = new Option<string[]>("--types") { Description = $"Resource types (_type), comma-separated or repeated; 'all' for whatever the server exports (default: {string.Join(",", DefaultTypes)})", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the NDJSON files and the export state (a second run with the same directory continues)", Required = true };
        var keep = new Option<bool>("--keep") { Description = "Do not DELETE the export on the server when done" };
        var format = new Option<string>("--format") { Description = "text | json (summary on stdout)", DefaultValueFactory = _ => "text" };
        var command = new Command("export", "FHIR Bulk Data export ($export: system, all patients, a Group or listed patients) to NDJSON files: polls honouring Retry-After, streams the files to disk, resumes after a crash, reports error files, deletes the export on the server when done") { group, patients, system, since, types, output, keep, format };
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!SyncCommands.Ready(server, parse, console, out var options))
                return ExitCodes.UsageOrInput;
            if (Request(parse, group, patients, system, since, types, console) is not { } request)
                return ExitCodes.UsageOrInput;
            var directory = parse.GetValue(output)!;
            await using var services = server.Compose(parse, options, console, clock);
            var time = services.GetRequiredService<TimeProvider>();
            var client = new BulkDataClient(services.GetRequiredService<IHttpClientFactory>(), options.BaseUrl!, time);
            var workflow = new BulkExportWorkflow(client, time, services.GetRequiredService<ILogger<BulkExportWorkflow>>()) { Progress = p => console.Error(Line(p)) };
            ExportSummary summary;
            try
            {
                summary = await workflow.RunAsync(request, directory, parse.GetValue(keep), cancellationToken);
            }
            catch (BulkExportUsageException e)
            {
                console.Error($"trd-fhir: {e.Message}");
                return ExitCodes.UsageOrInput;
            }
            catch (BulkExportException e)
            {
                console.Error($"trd-fhir: export: {e.Message}");
                return ExitCodes.ValidationFailed;
            }
            Write(console, summary, parse.GetValue(format) == "json");
            return summary.Complete ? ExitCodes.Success : ExitCodes.ValidationFailed;
        });
        return command;
    }

    private static BulkExportRequest? Request(ParseResult parse, Option<string?> group, Option<string?> patients, Option<bool> system, Option<DateTimeOffset?> since, Option<string[]> types, CliConsole console)
    {
        var groupId = parse.GetValue(group);
        var patientsFile = parse.GetValue(patients);
        var isSystem = parse.GetValue(system);
        if ((groupId is not null ? 1 : 0) + (patientsFile is not null ? 1 : 0) + (isSystem ? 1 : 0) > 1)
        {
            console.Error("trd-fhir: give at most one of --group, --patients and --system");
            return null;
        }
        if (groupId is not null && !System.Text.RegularExpressions.Regex.IsMatch(groupId, "^[A-Za-z0-9\\-\\.]{1,64}$"))
        {
            console.Error($"trd-fhir: --group '{groupId}' is not a FHIR id (fix: the Group's id, e.g. --group trd-cohort)");
            return null;
        }
        List<string> ids = [];
        if (patientsFile is not null)
        {
            if (!File.Exists(patientsFile))
            {
                console.Error($"trd-fhir: --patients: {patientsFile} not found");
                return null;
            }
            (ids, var problems) = BulkExportRequest.ReadPatientsFile(patientsFile);
            foreach (var problem in problems)
                console.Error($"trd-fhir: {problem}");
            if (problems.Count > 0)
                return null;
        }
        var typeList = (parse.GetValue(types) ?? []).SelectMany(t => t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        var badType = typeList.FirstOrDefault(t => t != "all" && !Hl7.Fhir.Model.ModelInfo.IsKnownResource(t));
        if (badType is not null)
        {
            console.Error($"trd-fhir: --types: '{badType}' is not a FHIR R4 resource type (fix: e.g. --types Patient,Observation)");
            return null;
        }
        IReadOnlyList<string> chosen = typeList.Count == 0 ? DefaultTypes : typeList.Contains("all") ? [] : typeList.Distinct().ToList();
        var level = groupId is not null ? ExportLevel.Group : isSystem ? ExportLevel.System : ExportLevel.Patient;
        return new BulkExportRequest(level, groupId, ids, parse.GetValue(since), chosen);
    }

    private static string Line(ExportProgress p)
    {
        var left = p.TimeLeft is { } t ? $", about {Math.Ceiling(t.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s left" : "";
        var files = p.FilesTotal > 0 ? $"[files {p.FilesDone}/{p.FilesTotal}, {Bytes(p.Bytes)}, {p.Resources.ToString("N0", CultureInfo.InvariantCulture)} resources{left}] " : "";
        return $"export: {files}{p.Message}";
    }

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1 << 30 => (bytes / (double)(1 << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GB",
        >= 1 << 20 => (bytes / (double)(1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
        >= 1 << 10 => (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    private static void Write(CliConsole console, ExportSummary s, bool json)
    {
        if (json)
        {
            console.Write(JsonSerializer.Serialize(new
            {
                directory = s.Directory,
                complete = s.Complete,
                files = s.Files,
                bytes = s.Bytes,
                resources = s.Resources,
                transactionTime = s.TransactionTime,
                deletedOnServer = s.Deleted,
                resumed = s.Resumed,
                damaged = s.Damaged.Select(d => new { file = d.Name, problem = d.Problem }),
                errorIssues = s.ErrorIssueCount,
                errors = s.ErrorIssues,
            }, Json) + "\n");
            return;
        }
        console.Out($"{s.Directory}: {s.Files} files, {s.Resources.ToString("N0", CultureInfo.InvariantCulture)} resources, {Bytes(s.Bytes)}{(s.Resumed ? " (resumed run)" : "")}");
        foreach (var d in s.Damaged)
            console.Out($"  damaged: {d.Name}: {d.Problem}");
        if (s.ErrorIssueCount > 0)
        {
            console.Out($"  the server reported {s.ErrorIssueCount} issue(s) in its error files{(s.ErrorSeverity ? " (errors: the export is incomplete)" : "")}:");
            foreach (var issue in s.ErrorIssues)
                console.Out($"    {issue}");
        }
        console.Out($"  transactionTime {s.TransactionTime} (next incremental export: --since {s.TransactionTime})");
        console.Out(s.Deleted ? "  export deleted on the server" : "  export kept on the server");
    }
}
