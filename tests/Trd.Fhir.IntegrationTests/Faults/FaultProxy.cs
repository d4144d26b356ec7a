using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using WireMock;
using WireMock.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;
using WireMock.Types;
using WireMock.Util;

namespace Trd.Fhir.IntegrationTests.Faults;

/// <summary>What the proxy does to one request.</summary>
public enum FaultKind
{
    /// <summary>Forwarded to the real server, its answer passed back.</summary>
    None,

    /// <summary>429 with <c>Retry-After</c> (0 or 1 s); the server never sees the request.</summary>
    TooManyRequests,

    /// <summary>503 (no Retry-After, as a load balancer answers); the server never sees the request.</summary>
    UnavailableBeforeServer,

    /// <summary>The TCP connection is reset before anything is forwarded; the server never sees the request.</summary>
    ResetBeforeServer,

    /// <summary>Held beyond the client's attempt timeout, then forwarded: the server sees a late request after the client gave up (and usually retried).</summary>
    SlowRequest,

    /// <summary>Forwarded and processed (a write happened); the answer is replaced by a 503.</summary>
    UnavailableAfterServer,

    /// <summary>Forwarded and processed (a write happened); the connection is reset instead of the answer.</summary>
    ResetAfterServer,

    /// <summary>Forwarded and processed (a write happened); the answer is held beyond the client's attempt timeout.</summary>
    SlowResponse,
}

/// <summary>
/// How often each fault is injected (weights are fractions of all requests; the rest is forwarded untouched), the seed of the
/// deterministic <see cref="Random"/> that draws them (one draw per request, in arrival order), and how long a slow
/// request or response is held (longer than the client's attempt timeout).
/// </summary>
public sealed record FaultPlan(int Seed, IReadOnlyDictionary<FaultKind, double> Weights, TimeSpan Hold)
{
    /// <summary>~20 % of requests faulted, spread over every kind; writes lost after the server processed them are a third of it.</summary>
    public static FaultPlan Standard(int seed, TimeSpan hold) => new(seed, new Dictionary<FaultKind, double>
    {
        [FaultKind.TooManyRequests] = 0.04,
        [FaultKind.UnavailableBeforeServer] = 0.03,
        [FaultKind.ResetBeforeServer] = 0.03,
        [FaultKind.SlowRequest] = 0.02,
        [FaultKind.UnavailableAfterServer] = 0.03,
        [FaultKind.ResetAfterServer] = 0.03,
        [FaultKind.SlowResponse] = 0.02,
    }, hold);

    /// <summary>Every request gets <paramref name="kind"/> (the proxy's own tests).</summary>
    public static FaultPlan Always(FaultKind kind, TimeSpan hold) => new(0, new Dictionary<FaultKind, double> { [kind] = 1.0 }, hold);

    public double FaultRate => Weights.Where(w => w.Key != FaultKind.None).Sum(w => w.Value);

    /// <summary>A new draw sequence: the same seed gives the same kinds in the same order. Safe to call from several threads.</summary>
    public Func<FaultKind> NewDraw()
    {
        var upTo = 0.0;
        var cumulative = Weights.Where(w => w.Key != FaultKind.None && w.Value > 0)
            .OrderBy(w => w.Key)
            .Select(w => (Kind: w.Key, UpTo: upTo += w.Value))
            .ToArray();
        if (upTo > 1.0 + 1e-9)
            throw new InvalidOperationException($"fault weights add up to {upTo}, more than 1");
        var random = new Random(Seed);
        var gate = new Lock();
        return () =>
        {
            double x;
            lock (gate)
                x = random.NextDouble();
            foreach (var (kind, bound) in cumulative)
            {
                if (x < bound)
                    return kind;
            }
            return FaultKind.None;
        };
    }
}

/// <summary>
/// A fault-injecting HTTP proxy in front of a real FHIR server, on WireMock.Net. Every request is forwarded to the real server
/// except those the <see cref="FaultPlan"/> picks for a fault, each counted by kind.
/// <para>
/// How: one catch-all WireMock mapping with an async callback forwards the request (method, path, query, headers, body) and
/// applies the HTTP-level faults (429, 503 before/after, holds). WireMock's own <c>FaultType</c> cannot reset a connection
/// (EMPTY_RESPONSE sends the status with an empty body, MALFORMED_RESPONSE_CHUNK half a body plus random bytes, both cleanly
/// terminated) and a callback has no access to the connection, so resets are done by a middleware placed in front of
/// WireMock's (<see cref="WireMockServerSettings.PreWireMockMiddlewareInit"/>): it draws the fault, passes it to the callback
/// in a request header, and calls <see cref="HttpContext.Abort"/> — before the callback runs (nothing forwarded) or after it
/// (the server processed the request, the answer buffered and thrown away), which Kestrel turns into a reset connection.
/// </para>
/// The real server's base URL is rewritten to the proxy's in bodies and Location headers, so paging links and locations keep
/// the client on the proxy.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private const string KindHeader = "X-Trd-Injected-Fault";

    private readonly FaultPlan _plan;
    private readonly Func<FaultKind> _draw;
    private readonly Func<string, string, FaultKind?>? _pick;
    private readonly int[] _counts = new int[Enum.GetValues<FaultKind>().Length];
    private readonly int[] _writeCounts = new int[Enum.GetValues<FaultKind>().Length];
    private readonly HttpClient _forward;
    private readonly WireMockServer _server;
    private readonly string _realBase;
    private int _requests;
    private int _forwarded;
    private int _inFlight;
    private int _tooManyRequests;

    public FaultProxy(Uri realBaseUrl, FaultPlan plan)
        : this(realBaseUrl, plan, pick: null)
    {
    }

    /// <summary>A proxy whose faults <paramref name="pick"/> chooses per request (method, path) — null: the plan draws.</summary>
    public FaultProxy(Uri realBaseUrl, FaultPlan plan, Func<string, string, FaultKind?>? pick)
    {
        _plan = plan;
        _pick = pick;
        _draw = plan.NewDraw();
        _realBase = realBaseUrl.AbsoluteUri.TrimEnd('/');
        _forward = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, MaxConnectionsPerServer = 64 })
        {
            BaseAddress = new Uri(realBaseUrl.GetLeftPart(UriPartial.Authority)),
            Timeout = TimeSpan.FromMinutes(2),
        };
        _server = WireMockServer.Start(new WireMockServerSettings
        {
            Logger = new WireMockNullLogger(),
            MaxRequestLogCount = 50,
            DoNotSaveDynamicResponseInLogEntry = true,
            DisableJsonBodyParsing = true,
            DisableRequestBodyDecompressing = true,
            PreWireMockMiddlewareInit = app => ((IApplicationBuilder)app).Use(InterceptAsync),
        });
        _server.Given(Request.Create().UsingAnyMethod()).RespondWith(Response.Create().WithCallback(RespondAsync));
        BaseUrl = new Uri(_server.Url + realBaseUrl.AbsolutePath.TrimEnd('/'));
    }

    /// <summary>The proxy's FHIR base URL (same path as the real server's, on the proxy's port).</summary>
    public Uri BaseUrl { get; }

    /// <summary>Requests that reached the proxy.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests the real server received through the proxy (faulted before-server requests excluded).</summary>
    public int Forwarded => Volatile.Read(ref _forwarded);

    /// <summary>Requests per kind (<see cref="FaultKind.None"/>: passed through untouched).</summary>
    public IReadOnlyDictionary<FaultKind, int> Counts =>
        Enum.GetValues<FaultKind>().ToDictionary(k => k, k => Volatile.Read(ref _counts[(int)k]));

    public int Faults => Counts.Where(c => c.Key != FaultKind.None).Sum(c => c.Value);

    /// <summary>Writes (any method but GET and HEAD: transactions, batches, creates, updates) per kind.</summary>
    public IReadOnlyDictionary<FaultKind, int> WriteCounts =>
        Enum.GetValues<FaultKind>().ToDictionary(k => k, k => Volatile.Read(ref _writeCounts[(int)k]));

    /// <summary>
    /// Waits until no request is inside the proxy: a held request may still reach the server after its client gave up, so
    /// the server's state is final only once the proxy is idle.
    /// </summary>
    public async Task WhenIdleAsync(CancellationToken cancellationToken = default)
    {
        while (Volatile.Read(ref _inFlight) > 0)
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
    }

    public void Dispose()
    {
        _server.Stop();
        _server.Dispose();
        _forward.Dispose();
    }

    private async Task InterceptAsync(HttpContext context, Func<Task> next)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _inFlight);
        try
        {
            await ApplyAsync(context, next, _pick?.Invoke(context.Request.Method, context.Request.Path.Value ?? "") ?? _draw());
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task ApplyAsync(HttpContext context, Func<Task> next, FaultKind kind)
    {
        Interlocked.Increment(ref _counts[(int)kind]);
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
            Interlocked.Increment(ref _writeCounts[(int)kind]);
        context.Request.Headers[KindHeader] = kind.ToString();
        switch (kind)
        {
            case FaultKind.ResetBeforeServer:
                context.Abort();
                return;
            case FaultKind.ResetAfterServer:
                // WireMock writes the forwarded answer into a buffer that is never sent: the connection is reset instead.
                var wire = context.Response.Body;
                await using (var buffer = new MemoryStream())
                {
                    context.Response.Body = buffer;
                    await next();
                    context.Response.Body = wire;
                }
                context.Abort();
                return;
            default:
                await next();
                return;
        }
    }

    private async Task<IResponseMessage> RespondAsync(IRequestMessage request)
    {
        var kind = Enum.Parse<FaultKind>(Header(request, KindHeader) ?? nameof(FaultKind.None));
        switch (kind)
        {
            case FaultKind.TooManyRequests:
                // Retry-After alternates 1 s and 0 s over the 429s injected.
                return Status(HttpStatusCode.TooManyRequests, retryAfterSeconds: Interlocked.Increment(ref _tooManyRequests) % 2);
            case FaultKind.UnavailableBeforeServer:
                return Status(HttpStatusCode.ServiceUnavailable, retryAfterSeconds: null);
            case FaultKind.SlowRequest:
                await Task.Delay(_plan.Hold);
                return await ForwardAsync(request);
            case FaultKind.UnavailableAfterServer:
                await ForwardAsync(request);
                return Status(HttpStatusCode.ServiceUnavailable, retryAfterSeconds: null);
            case FaultKind.SlowResponse:
                var answer = await ForwardAsync(request);
                await Task.Delay(_plan.Hold);
                return answer;
            default:
                return await ForwardAsync(request);
        }
    }

    private async Task<ResponseMessage> ForwardAsync(IRequestMessage request)
    {
        using var outgoing = ProxyForwarding.Outgoing(request, KindHeader);
        Interlocked.Increment(ref _forwarded);
        using var response = await _forward.SendAsync(outgoing);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        return ProxyForwarding.Incoming(response, bytes, _realBase, BaseUrl, KindHeader);
    }

    private static ResponseMessage Status(HttpStatusCode status, int? retryAfterSeconds)
    {
        var message = new ResponseMessage
        {
            StatusCode = (int)status,
            BodyData = new BodyData { BodyAsString = $"injected fault: {(int)status}", DetectedBodyType = BodyType.String, Encoding = Encoding.UTF8 },
        };
        message.AddHeader("Content-Type", "text/plain; charset=utf-8");
        if (retryAfterSeconds is { } seconds)
            message.AddHeader("Retry-After", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return message;
    }

    private static string? Header(IRequestMessage request, string name) =>
        request.Headers?.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
}
