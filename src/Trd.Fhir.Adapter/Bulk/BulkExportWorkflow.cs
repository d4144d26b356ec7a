using Microsoft.Extensions.Logging;

namespace Trd.Fhir.Adapter.Bulk;

/// <summary>What one export run ended with.</summary>
public sealed record ExportSummary(
    string Directory,
    int Files,
    long Bytes,
    long Resources,
    IReadOnlyList<ExportFile> Damaged,
    IReadOnlyList<string> ErrorIssues,
    int ErrorIssueCount,
    bool ErrorSeverity,
    string? TransactionTime,
    bool Deleted,
    bool Resumed)
{
    /// <summary>Every output file whole and no error-severity issue in the error files.</summary>
    public bool Complete => Damaged.Count == 0 && !ErrorSeverity;
}

/// <summary>Progress of an export: phase text, files done/total, bytes and resources so far, and the time left when known.</summary>
public sealed record ExportProgress(string Message, int FilesDone, int FilesTotal, long Bytes, long Resources, TimeSpan? TimeLeft);

/// <summary>
/// A Bulk Data export from kick-off to files on disk, resumable after a crash: every step is recorded in the state file of
/// the output directory (<see cref="ExportState"/>) before the next one starts, so a second run polls the same status URL,
/// downloads only the files not yet done (resuming a partial one from its length) and never fetches a finished file again.
/// Waits (Retry-After of a 202 or 429, back-off after 5xx) run on the injected clock.
/// </summary>
public sealed class BulkExportWorkflow(BulkDataClient client, TimeProvider time, ILogger<BulkExportWorkflow> logger)
{
    /// <summary>Consecutive failed attempts (status polls or one file's downloads) without progress before giving up.</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>Longest wait honoured between polls (a larger Retry-After is capped).</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMinutes(10);

    public Action<ExportProgress>? Progress { get; init; }

    public async Task<ExportSummary> RunAsync(BulkExportRequest request, string directory, bool keep, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var state = ExportState.Load(directory);
        var resumed = state is not null;
        if (state is not null && (state.Server != client.BaseUrl.AbsoluteUri || state.Request != request.Key()))
            throw new BulkExportUsageException($"{ExportState.PathIn(directory)} belongs to another export (server {state.Server}, request {state.Request}). Fix: use another output directory, or delete that file to start over");
        state ??= new ExportState { Server = client.BaseUrl.AbsoluteUri, Request = request.Key() };

        if (state.StatusUrl is null)
        {
            var statusUrl = await client.KickOffAsync(request, cancellationToken);
            state.StatusUrl = statusUrl.AbsoluteUri;
            state.KickedOffAt = time.GetUtcNow();
            state.Save(directory);
            logger.LogInformation("Bulk export {Path} started", request.Path);
            Report(state, "export started; waiting for the server", 0, 0);
        }
        else
        {
            Report(state, $"resuming the export started at {state.KickedOffAt:u}", 0, 0);
        }

        if (state.TransactionTime is null)
        {
            state.AddManifest(await PollUntilCompleteAsync(new Uri(state.StatusUrl), state, cancellationToken));
            state.Save(directory);
            logger.LogInformation("Bulk export complete on the server: {Files} files", state.Files.Count);
        }

        var started = time.GetTimestamp();
        long resourcesThisRun = 0;
        foreach (var file in state.Files.Where(f => f.State != FileState.Done))
        {
            resourcesThisRun += await DownloadFileAsync(file, state, directory, cancellationToken);
            Report(state, $"{file.Name} done", resourcesThisRun, time.GetElapsedTime(started).TotalSeconds);
        }

        var (issues, issueCount, errorSeverity) = ReadErrorFiles(state, directory);
        var damaged = state.Files.Where(f => f.State == FileState.Damaged).ToList();
        if (!keep && !state.Deleted && damaged.Count == 0)
        {
            var (ok, status) = await client.DeleteAsync(new Uri(state.StatusUrl), cancellationToken);
            state.Deleted = ok;
            state.Save(directory);
            if (!ok)
                Report(state, $"the server answered {status} to DELETE on the status URL; the export may stay on the server", 0, 0);
        }
        var outputs = state.Files.Where(f => f.Kind == "output").ToList();
        return new ExportSummary(directory, outputs.Count, outputs.Sum(f => f.Bytes), outputs.Sum(f => f.Resources), damaged, issues, issueCount, errorSeverity, state.TransactionTime, state.Deleted, resumed);
    }

    private async Task<BulkManifest> PollUntilCompleteAsync(Uri statusUrl, ExportState state, CancellationToken cancellationToken)
    {
        var failures = 0;
        var backoff = TimeSpan.FromSeconds(1);
        while (true)
        {
            var answer = await client.PollAsync(statusUrl, cancellationToken);
            TimeSpan wait;
            switch (answer)
            {
                case StatusAnswer.Complete complete:
                    return complete.Manifest;
                case StatusAnswer.InProgress running:
                    failures = 0;
                    wait = running.RetryAfter ?? backoff;
                    backoff = Next(backoff);
                    Report(state, $"server working{(running.Progress is { } p ? $": {p}" : "")}; next poll in {Seconds(wait)}", 0, 0);
                    break;
                case StatusAnswer.Busy busy:
                    if (++failures >= MaxAttempts)
                        throw new BulkExportException($"the status URL answered {busy.Status} {failures} times in a row; the export is still recorded, so run the same command again later to continue");
                    wait = busy.RetryAfter ?? backoff;
                    backoff = Next(backoff);
                    Report(state, $"status poll answered {busy.Status}; next poll in {Seconds(wait)}", 0, 0);
                    break;
                default:
                    throw new InvalidOperationException(answer.GetType().Name);
            }
            await Task.Delay(Clamp(wait), time, cancellationToken);
        }
    }

    /// <summary>Downloads one file to <c>name.part</c>, resuming, retrying and checking it; renames it when whole. Returns the resources it holds.</summary>
    private async Task<long> DownloadFileAsync(ExportFile file, ExportState state, string directory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, file.Name);
        var part = path + ".part";
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (file.State == FileState.Damaged)
            File.Delete(path); // try a damaged file again from the start
        var failures = 0;
        var restartedForTruncation = false;
        var backoff = TimeSpan.FromSeconds(1);
        while (true)
        {
            var attempt = await client.DownloadAsync(file.Url, part, state.RequiresAccessToken, cancellationToken);
            switch (attempt.Outcome)
            {
                case DownloadOutcome.Complete:
                    var check = NdjsonFile.Check(part);
                    if (check.EndsMidLine && !restartedForTruncation)
                    {
                        restartedForTruncation = true; // maybe cut by the server this once: fetch it whole again
                        File.Delete(part);
                        continue;
                    }
                    if (check.EndsMidLine)
                    {
                        NdjsonFile.TruncateTo(part, check.CompleteLength);
                        file.State = FileState.Damaged;
                        file.Problem = $"the server's file ends mid-line (twice): its last line ({check.Length - check.CompleteLength} bytes) is incomplete and was dropped; {check.Resources} whole resources kept";
                    }
                    else
                    {
                        file.State = FileState.Done;
                        file.Problem = null;
                    }
                    File.Move(part, path, overwrite: true);
                    file.Bytes = check.CompleteLength;
                    file.Resources = check.Resources;
                    state.Save(directory);
                    logger.LogInformation("Bulk file {File}: {Resources} resources, {Bytes} bytes", file.Name, file.Resources, file.Bytes);
                    return file.Resources;
                case DownloadOutcome.Interrupted:
                    failures = attempt.Received > 0 ? 0 : failures + 1; // progress resets the count: resume from the bytes on disk
                    Report(state, $"{file.Name}: download cut off at {attempt.Length} bytes ({attempt.Detail}); resuming", 0, 0);
                    break;
                case DownloadOutcome.Retry:
                    failures++;
                    Report(state, $"{file.Name}: {attempt.Detail}; trying again", 0, 0);
                    break;
                case DownloadOutcome.Refused:
                    throw new BulkExportException($"the server refused the access token for {file.Name} ({attempt.Detail}); the token may have expired. The export is recorded in {ExportState.FileName}: run the same command again (with a valid token) to continue");
                case DownloadOutcome.Gone:
                    throw new BulkExportException($"{file.Name}: {attempt.Detail}. Fix: delete {ExportState.FileName} in the output directory to start a new export");
                default:
                    throw new BulkExportException($"{file.Name} could not be downloaded ({attempt.Detail})");
            }
            if (failures >= MaxAttempts)
                throw new BulkExportException($"{file.Name} failed {failures} times in a row ({attempt.Detail}); what was downloaded is kept: run the same command again to continue");
            if (failures > 0)
            {
                await Task.Delay(Clamp(attempt.RetryAfter ?? backoff), time, cancellationToken);
                backoff = Next(backoff);
            }
        }
    }

    /// <summary>The issues of the error files (OperationOutcomes, one per line): the first few texts, the count, and whether any is an error.</summary>
    private static (List<string> Issues, int Count, bool ErrorSeverity) ReadErrorFiles(ExportState state, string directory)
    {
        var texts = new List<string>();
        var count = 0;
        var errorSeverity = false;
        foreach (var file in state.Files.Where(f => f.Kind == "error" && f.State != FileState.Pending))
        {
            var line = 0;
            foreach (var text in File.ReadLines(Path.Combine(directory, file.Name)))
            {
                line++;
                if (string.IsNullOrWhiteSpace(text))
                    continue;
                if (Mapping.FhirJson.Parse(System.Text.Encoding.UTF8.GetBytes(text), out _) is not Hl7.Fhir.Model.OperationOutcome outcome)
                {
                    count++;
                    errorSeverity = true;
                    texts.Add($"{file.Name}:{line}: not an OperationOutcome");
                    continue;
                }
                foreach (var issue in outcome.Issue)
                {
                    count++;
                    errorSeverity |= issue.Severity is Hl7.Fhir.Model.OperationOutcome.IssueSeverity.Error or Hl7.Fhir.Model.OperationOutcome.IssueSeverity.Fatal;
                    if (texts.Count < 20)
                        texts.Add($"{file.Name}:{line}: {issue.Severity?.ToString().ToLowerInvariant()}: {issue.Details?.Text ?? issue.Diagnostics ?? issue.Code?.ToString()}");
                }
            }
        }
        return (texts, count, errorSeverity);
    }

    private void Report(ExportState state, string message, long resourcesThisRun, double secondsThisRun)
    {
        if (Progress is null)
            return;
        var outputs = state.Files.Where(f => f.Kind == "output").ToList();
        var done = outputs.Where(f => f.State != FileState.Pending).ToList();
        TimeSpan? left = null;
        if (resourcesThisRun > 0 && outputs.All(f => f.Count is not null))
        {
            var remaining = outputs.Where(f => f.State == FileState.Pending).Sum(f => f.Count!.Value);
            left = TimeSpan.FromSeconds(remaining * secondsThisRun / resourcesThisRun);
        }
        Progress(new ExportProgress(message, done.Count, outputs.Count, done.Sum(f => f.Bytes), done.Sum(f => f.Resources), left));
    }

    private TimeSpan Clamp(TimeSpan wait) => wait < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait > MaxWait ? MaxWait : wait;

    private static TimeSpan Next(TimeSpan backoff) => TimeSpan.FromSeconds(Math.Min(backoff.TotalSeconds * 2, 60));

    private static string Seconds(TimeSpan span) => $"{Math.Max(1, span.TotalSeconds):0.#} s";
}

/// <summary>An export the user asked for wrongly (the output directory holds another export): exit 2.</summary>
public sealed class BulkExportUsageException(string message) : Exception(message);
