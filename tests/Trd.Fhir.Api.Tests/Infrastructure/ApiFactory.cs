using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;
using Trd.Fhir.Adapter.Api;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Api.Tests.Infrastructure;

/// <summary>
/// The API (<c>trd-fhir serve</c>) in memory: WebApplicationFactory over the same host builder the serve verb runs
/// (<see cref="ApiHost.CreateHostBuilder"/>), with one API key (<see cref="Key"/>), a fresh SQLite ledger file, logs captured
/// in <see cref="Logs"/>, and by default an unreachable FHIR server (127.0.0.1:9, no retries). Use it as a class fixture,
/// or create one with <see cref="Configure"/> for other settings (rate limits, JWT, a real or WireMock FHIR server).
/// </summary>
public class ApiFactory : WebApplicationFactory<Program>
{
    public const string Key = "synthetic-test-key-1";
    public const string ClientName = "test-client";
    public static readonly Uri UnreachableServer = new("http://127.0.0.1:9/fhir");
    private static int _counter;
    private readonly SignallingWriter _logs = new();

    public ApiFactory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "trd-fhir-api-tests");
        Directory.CreateDirectory(directory);
        Settings = new ApiSettings
        {
            Server = new FhirServerOptions { BaseUrl = UnreachableServer, Resilience = { MaxRetries = 0 } },
            ApiKeys = [ApiKeyClient.FromKey(ClientName, Key)],
            Ledger = Path.Combine(directory, $"ledger-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}.db"),
            LogWriter = _logs,
        };
    }

    /// <summary>The settings the host is built with; change them (or use <see cref="Configure"/>) before the first request.</summary>
    public ApiSettings Settings { get; }

    /// <summary>A factory with changed settings, e.g. <c>ApiFactory.Configure(s => s.RateLimitPermits = 2)</c>.</summary>
    public static ApiFactory Configure(Action<ApiSettings> configure)
    {
        var factory = new ApiFactory();
        configure(factory.Settings);
        return factory;
    }

    /// <summary>Everything logged so far (text lines, or CLEF when <c>Settings.JsonLogs</c>).</summary>
    public string Logs => _logs.Text;

    /// <summary>The logs once they contain <paramref name="text"/>: the request log line is written after the response has
    /// reached the client, so tests wait for it (bounded at 30 s to fail instead of hanging; not a timing assertion).</summary>
    public Task<string> LogsContainingAsync(string text) => _logs.WaitForAsync(text, TimeSpan.FromSeconds(30));

    /// <summary>A thread-safe log buffer that wakes waiters on every write.</summary>
    private sealed class SignallingWriter : StringWriter
    {
        private readonly Lock _lock = new();
        private TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Text
        {
            get
            {
                lock (_lock) return GetStringBuilder().ToString();
            }
        }

        public override void Write(char value)
        {
            lock (_lock) base.Write(value);
        }

        public override void Write(string? value)
        {
            TaskCompletionSource done;
            lock (_lock)
            {
                base.Write(value);
                done = _written;
                _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            done.TrySetResult();
        }

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public async Task<string> WaitForAsync(string text, TimeSpan bound)
        {
            using var cancel = new CancellationTokenSource(bound);
            while (true)
            {
                Task next;
                lock (_lock)
                {
                    var current = GetStringBuilder().ToString();
                    if (current.Contains(text, StringComparison.Ordinal)) return current;
                    next = _written.Task;
                }
                try
                {
                    await next.WaitAsync(cancel.Token);
                }
                catch (OperationCanceledException)
                {
                    return Text; // the caller's assertion reports what was logged
                }
            }
        }
    }

    /// <summary>Extra services after the host's own (e.g. OpenTelemetry's in-memory exporters), set before the first request.</summary>
    public Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? TestServices { get; set; }

    protected override IHostBuilder CreateHostBuilder() => ApiHost.CreateHostBuilder(Settings).ConfigureServices(s => TestServices?.Invoke(s));

    /// <summary>A client sending <paramref name="key"/> in X-Api-Key (none when null).</summary>
    public HttpClient Client(string? key = Key)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        if (key is not null)
            client.DefaultRequestHeaders.Add(ApiAuth.HeaderName, key);
        return client;
    }

    public static StringContent Body(string text, string mediaType = "application/json") =>
        new(text, Encoding.UTF8, new MediaTypeHeaderValue(mediaType));

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        foreach (var file in new[] { Settings.Ledger, Settings.Ledger + "-wal", Settings.Ledger + "-shm" })
        {
            try
            {
                File.Delete(file);
            }
            catch (IOException)
            {
                // still open by a pooled connection: left in the temp directory
            }
        }
    }
}
