using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Trd.Fhir.Adapter.Mapping;
using WireMock;
using WireMock.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;
using WireMock.Types;
using WireMock.Util;
using Trd.Fhir.IntegrationTests.Faults;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.IntegrationTests.Bulk;

/// <summary>A fault the proxy plays on a Bulk Data request instead of (or on top of) the real server's answer.</summary>
public abstract record BulkFault
{
    /// <summary>Answered by the proxy with this status (an OperationOutcome body, optional <c>Retry-After</c>); the server never sees the request.</summary>
    public sealed record Status(int Code, int? RetryAfterSeconds = null) : BulkFault;

    /// <summary>Forwarded; the answer is a 200 whose body stops in the middle of its last line (Content-Length matches, so it looks whole).</summary>
    public sealed record CutMidLine : BulkFault;

    /// <summary>Forwarded; the first half of the body is sent, then the connection is held open until the client goes away.</summary>
    public sealed record HoldAfterHalf : BulkFault
    {
        /// <summary>The bytes sent before the hold (set once the real answer is known).</summary>
        public int SentBytes { get; set; }

        /// <summary>Completed when the half body is on the wire.</summary>
        public TaskCompletionSource Holding { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>
/// WireMock.Net in front of the real test FHIR server (tests/fhir-server, bulk.mjs) for the faults real Bulk Data servers add.
/// Every request is forwarded to the real server (the real base URL rewritten to the proxy's in manifests and headers, so the
/// client stays on the proxy) except those a fault rule picks: a rule is a path pattern, the fault, how many matching
/// requests get it and how many to let through first, and optionally only requests carrying one bearer token. The proxy
/// also plays a SMART Backend Services authorization server (<c>.well-known/smart-configuration</c> and a token endpoint
/// handing out <c>token-1</c>, <c>token-2</c> …). WireMock's request log (<see cref="Requests"/>) is what tests count.
/// </summary>
public sealed class BulkFaultProxy : IDisposable
{
    private const string FaultHeader = "X-Trd-Bulk-Fault";

    private sealed class Rule(Regex path, BulkFault fault, int times, int skip, string? token)
    {
        public Regex Path { get; } = path;
        public BulkFault Fault { get; } = fault;
        public int Times { get; } = times;
        public int Skip { get; } = skip;
        public string? Token { get; } = token;
        public int Matched { get; set; }
    }

    private readonly List<Rule> _rules = [];
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, BulkFault> _pending = new();
    private readonly ConcurrentDictionary<string, byte[]> _files = new(StringComparer.Ordinal);
    private readonly HttpClient _forward;
    private readonly WireMockServer _server;
    private readonly string _realBase;
    private int _faults;
    private int _keys;
    private int _tokens;

    public BulkFaultProxy(Uri realBaseUrl)
    {
        _realBase = realBaseUrl.AbsoluteUri.TrimEnd('/');
        _forward = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
        {
            BaseAddress = new Uri(realBaseUrl.GetLeftPart(UriPartial.Authority)),
            Timeout = TimeSpan.FromMinutes(2),
        };
        _server = WireMockServer.Start(new WireMockServerSettings
        {
            Logger = new WireMockNullLogger(),
            MaxRequestLogCount = 10_000,
            DoNotSaveDynamicResponseInLogEntry = true,
            DisableJsonBodyParsing = true,
            DisableRequestBodyDecompressing = true,
            PreWireMockMiddlewareInit = app => ((IApplicationBuilder)app).Use(InterceptAsync),
        });
        var path = realBaseUrl.AbsolutePath.TrimEnd('/');
        BaseUrl = new Uri(_server.Url + path);
        TokenUrl = _server.Url + "/auth/token";
        _server.Given(Request.Create().WithPath(path + "/.well-known/smart-configuration").UsingGet()).AtPriority(1)
            .RespondWith(Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/json")
                .WithBodyAsJson(new { token_endpoint = TokenUrl, token_endpoint_auth_methods_supported = new[] { "private_key_jwt" }, grant_types_supported = new[] { "client_credentials" } }));
        _server.Given(Request.Create().WithPath("/auth/token").UsingPost()).AtPriority(1).RespondWith(Response.Create().WithCallback(IssueToken));
        _server.Given(Request.Create().UsingAnyMethod()).AtPriority(100).RespondWith(Response.Create().WithCallback(RespondAsync));
    }

    /// <summary>The proxy's FHIR base URL (same path as the real server's).</summary>
    public Uri BaseUrl { get; }

    /// <summary>The token endpoint the smart-configuration names.</summary>
    public string TokenUrl { get; }

    /// <summary>Tokens handed out so far (<c>token-1</c> … <c>token-N</c>).</summary>
    public int TokensIssued => Volatile.Read(ref _tokens);

    /// <summary>Requests that got a fault.</summary>
    public int Faults => Volatile.Read(ref _faults);

    /// <summary>Plays <paramref name="fault"/> on <paramref name="times"/> requests whose path matches <paramref name="pathPattern"/>
    /// (after letting <paramref name="skip"/> of them through), counting only requests that carry <c>Bearer token</c> when given.</summary>
    public void Add(string pathPattern, BulkFault fault, int times = 1, int skip = 0, string? token = null)
    {
        lock (_gate)
            _rules.Add(new Rule(new Regex(pathPattern, RegexOptions.CultureInvariant), fault, times, skip, token));
    }

    /// <summary>One row per request in WireMock's log, in arrival order.</summary>
    public sealed record Seen(DateTime At, string Method, string Path, int Status, string? Range, string? Authorization);

    public IReadOnlyList<Seen> Requests() => _server.LogEntries
        .OrderBy(e => e.RequestMessage.DateTime)
        .Select(e => new Seen(e.RequestMessage.DateTime, e.RequestMessage.Method, e.RequestMessage.Path, Convert.ToInt32(e.ResponseMessage.StatusCode, CultureInfo.InvariantCulture),
            Header(e.RequestMessage, "Range"), Header(e.RequestMessage, "Authorization")))
        .ToList();

    /// <summary>Requests whose path ends with <paramref name="suffix"/> (e.g. a file name or <c>/Patient/$export</c>).</summary>
    public IReadOnlyList<Seen> Requests(string suffix) => Requests().Where(r => r.Path.EndsWith(suffix, StringComparison.Ordinal)).ToList();

    /// <summary>The whole body the real server sent for a file (its last full 200, before any fault touched it), by path suffix.</summary>
    public byte[] ServerFile(string suffix) => _files.Single(f => f.Key.EndsWith(suffix, StringComparison.Ordinal)).Value;

    public void Dispose()
    {
        _server.Stop();
        _server.Dispose();
        _forward.Dispose();
    }

    private async Task InterceptAsync(HttpContext context, Func<Task> next)
    {
        var fault = Pick(context.Request.Path.Value ?? "", context.Request.Headers.Authorization.ToString());
        if (fault is null)
        {
            await next();
            return;
        }
        Interlocked.Increment(ref _faults);
        var key = Interlocked.Increment(ref _keys).ToString(CultureInfo.InvariantCulture);
        _pending[key] = fault;
        context.Request.Headers[FaultHeader] = key;
        if (fault is not BulkFault.HoldAfterHalf hold)
        {
            await next();
            return;
        }
        var wire = context.Response.Body;
        context.Response.Body = new HoldingStream(wire, hold, context.RequestAborted);
        try
        {
            await next();
        }
        catch (OperationCanceledException)
        {
            // the client went away while held: that is the point
        }
        finally
        {
            context.Response.Body = wire;
        }
    }

    private BulkFault? Pick(string path, string authorization)
    {
        lock (_gate)
        {
            foreach (var rule in _rules)
            {
                if (!rule.Path.IsMatch(path) || (rule.Token is not null && authorization != "Bearer " + rule.Token))
                    continue;
                rule.Matched++;
                if (rule.Matched > rule.Skip && rule.Matched - rule.Skip <= rule.Times)
                    return rule.Fault;
            }
            return null;
        }
    }

    private ResponseMessage IssueToken(IRequestMessage request)
    {
        var n = Interlocked.Increment(ref _tokens);
        var form = request.Body ?? "";
        var ok = form.Contains("grant_type=client_credentials", StringComparison.Ordinal) && form.Contains("client_assertion=", StringComparison.Ordinal);
        var body = ok
            ? System.Text.Json.JsonSerializer.Serialize(new { access_token = $"token-{n}", token_type = "bearer", expires_in = 300, scope = "system/*.read" })
            : """{"error":"invalid_request"}""";
        var message = new ResponseMessage
        {
            StatusCode = ok ? 200 : 400,
            BodyData = new BodyData { BodyAsString = body, DetectedBodyType = BodyType.String, Encoding = Encoding.UTF8 },
        };
        message.AddHeader("Content-Type", "application/json");
        return message;
    }

    private async Task<IResponseMessage> RespondAsync(IRequestMessage request)
    {
        var key = Header(request, FaultHeader);
        var fault = key is not null && _pending.TryRemove(key, out var f) ? f : null;
        switch (fault)
        {
            case BulkFault.Status status:
                return Status(status.Code, status.RetryAfterSeconds);
            case BulkFault.CutMidLine:
                var whole = await ForwardAsync(request);
                var bytes = whole.BodyData!.BodyAsBytes!;
                // ends with "\n": drop it and the last 20 bytes of the last line
                whole.BodyData.BodyAsBytes = bytes[..Math.Max(1, bytes.Length - 21)];
                return whole;
            case BulkFault.HoldAfterHalf hold:
                var answer = await ForwardAsync(request);
                hold.SentBytes = answer.BodyData!.BodyAsBytes!.Length / 2;
                return answer;
            default:
                return await ForwardAsync(request);
        }
    }

    private async Task<ResponseMessage> ForwardAsync(IRequestMessage request)
    {
        using var outgoing = ProxyForwarding.Outgoing(request, FaultHeader);
        using var response = await _forward.SendAsync(outgoing);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var path = new Uri(request.AbsoluteUrl).AbsolutePath;
        if (response.StatusCode == System.Net.HttpStatusCode.OK && path.Contains("/$export-file/", StringComparison.Ordinal))
            _files[path] = bytes;
        // file bodies pass untouched; manifests and OperationOutcomes get the proxy's base URL
        var ndjson = response.Content.Headers.ContentType?.MediaType?.Contains("ndjson", StringComparison.Ordinal) == true;
        return ProxyForwarding.Incoming(response, bytes, _realBase, BaseUrl, FaultHeader, bodyAsIs: ndjson);
    }

    private static ResponseMessage Status(int code, int? retryAfterSeconds)
    {
        var outcome = new OperationOutcome
        {
            Issue = [new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Error,
                Code = code == 401 ? OperationOutcome.IssueType.Login : OperationOutcome.IssueType.Transient,
                Details = new CodeableConcept { Text = code == 401 ? "access token expired" : $"injected fault {code}" },
            }],
        };
        var message = new ResponseMessage
        {
            StatusCode = code,
            BodyData = new BodyData { BodyAsString = FhirJson.Serialize(outcome, pretty: false), DetectedBodyType = BodyType.String, Encoding = Encoding.UTF8 },
        };
        message.AddHeader("Content-Type", "application/fhir+json");
        if (retryAfterSeconds is { } seconds)
            message.AddHeader("Retry-After", seconds.ToString(CultureInfo.InvariantCulture));
        return message;
    }

    private static string? Header(IRequestMessage request, string name) =>
        request.Headers?.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();

    /// <summary>Passes the first <see cref="BulkFault.HoldAfterHalf.SentBytes"/> bytes, flushes them, then waits until the client goes away.</summary>
    private sealed class HoldingStream(Stream wire, BulkFault.HoldAfterHalf hold, CancellationToken aborted) : Stream
    {
        private long _sent;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _sent; set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var room = (int)Math.Max(0, hold.SentBytes - _sent);
            if (room > 0)
            {
                var part = buffer[..Math.Min(room, buffer.Length)];
                await wire.WriteAsync(part, cancellationToken);
                _sent += part.Length;
            }
            if (_sent >= hold.SentBytes)
            {
                await wire.FlushAsync(cancellationToken);
                hold.Holding.TrySetResult();
                await Task.Delay(Timeout.Infinite, aborted);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => wire.FlushAsync(cancellationToken);

        public override void Flush() => wire.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
