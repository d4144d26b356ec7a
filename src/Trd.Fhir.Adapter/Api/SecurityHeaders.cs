using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// Safe HTTP defaults on every response of <c>trd-fhir serve</c> (docs/api.md "Security headers"):
/// <c>X-Content-Type-Options: nosniff</c>, <c>Referrer-Policy: no-referrer</c>, <c>Cache-Control: no-store</c> (any response
/// may carry patient data: protocols, reports, OperationOutcomes; only the public API reference under /scalar/ may be
/// cached), and a Content-Security-Policy: <c>default-src 'none'; frame-ancestors 'none'</c> for data, and for HTML a policy
/// computed from the page itself (<see cref="ForHtml"/>): each inline <c>&lt;style&gt;</c>/<c>&lt;script&gt;</c> allowed by its
/// SHA-256, nothing else. HSTS (<c>UseHsts</c>) and CORS are configured in <see cref="ApiHost"/>.
/// </summary>
public static partial class SecurityHeaders
{
    /// <summary>The policy of non-HTML responses (JSON, FHIR, text): nothing may load, nobody may frame it.</summary>
    public const string DataPolicy = "default-src 'none'; frame-ancestors 'none'";

    private const string DocsPrefix = "/scalar";

    public static IApplicationBuilder UseTrdFhirSecurityHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var docs = context.Request.Path.StartsWithSegments(DocsPrefix, StringComparison.OrdinalIgnoreCase);
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            if (!docs)
            {
                headers.CacheControl = "no-store";
                headers.Pragma = "no-cache";
            }
            if (string.IsNullOrEmpty(headers.ContentSecurityPolicy))
                headers.ContentSecurityPolicy = DataPolicy;
            return Task.CompletedTask;
        });
        // HTML gets a policy computed from its own inline blocks: held back until the page is complete (pages are small).
        // The body feature is replaced (not only Response.Body) so that an endpoint starting the response early cannot
        // send the headers before the policy is known.
        var prior = context.Features.Get<IHttpResponseBodyFeature>()!;
        var stream = new HtmlHoldingStream(context, prior.Stream);
        var body = new HtmlHoldingBody(stream, prior);
        context.Features.Set<IHttpResponseBodyFeature>(body);
        try
        {
            await next(context);
            await body.CompleteAsync();
        }
        finally
        {
            context.Features.Set(prior);
        }
        if (stream.Held is { } page)
        {
            await using (page)
            {
                context.Response.Headers.ContentSecurityPolicy = ForHtml(Encoding.UTF8.GetString(page.GetBuffer(), 0, (int)page.Length), docs);
                page.Position = 0;
                await page.CopyToAsync(prior.Stream, context.RequestAborted);
            }
        }
    });

    /// <summary>
    /// The Content-Security-Policy of one HTML page: <c>default-src 'none'</c>, the page's inline styles and scripts each
    /// allowed by its SHA-256 (CSP level 2 hash sources), images only as data: URLs, no framing, no base, no forms.
    /// <paramref name="docs"/> (the Scalar API reference) also allows scripts, styles, fonts and fetches from this origin and
    /// inline styles (Scalar injects its styles at run time).
    /// </summary>
    public static string ForHtml(string html, bool docs = false)
    {
        ArgumentNullException.ThrowIfNull(html);
        var scripts = new List<string>();
        var styles = new List<string>();
        foreach (Match block in InlineBlock().Matches(html))
        {
            if (block.Groups["attributes"].Value.Contains("src=", StringComparison.OrdinalIgnoreCase))
                continue;
            var hash = "'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(block.Groups["body"].Value))) + "'";
            (block.Groups["tag"].Value.Equals("script", StringComparison.OrdinalIgnoreCase) ? scripts : styles).Add(hash);
        }
        var policy = new List<string>();
        if (docs)
        {
            policy.Add("default-src 'self'");
            policy.Add("script-src 'self' " + string.Join(' ', scripts.Distinct(StringComparer.Ordinal)));
            policy.Add("style-src 'self' 'unsafe-inline'");
            policy.Add("img-src 'self' data:");
            policy.Add("font-src 'self' data:");
            policy.Add("connect-src 'self'");
        }
        else
        {
            policy.Add("default-src 'none'");
            if (styles.Count > 0) policy.Add("style-src " + string.Join(' ', styles.Distinct(StringComparer.Ordinal)));
            if (scripts.Count > 0) policy.Add("script-src " + string.Join(' ', scripts.Distinct(StringComparer.Ordinal)));
            policy.Add("img-src data:");
        }
        policy.Add("frame-ancestors 'none'");
        policy.Add("base-uri 'none'");
        policy.Add("form-action 'none'");
        return string.Join("; ", policy.Select(p => p.TrimEnd()));
    }

    [GeneratedRegex("<(?<tag>script|style)(?<attributes>(?:\\s[^>]*)?)>(?<body>.*?)</\\k<tag>\\s*>", RegexOptions.Singleline | RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex InlineBlock();

    /// <summary>Passes writes through, except when the response is HTML (decided at the first write, from Content-Type):
    /// then it holds the page in <see cref="Held"/> for the middleware to compute its policy.</summary>
    private sealed class HtmlHoldingStream(HttpContext context, Stream inner) : Stream
    {
        private bool? _holding;

        public MemoryStream? Held { get; private set; }

        /// <summary>Whether this response is HTML (held); decided once, at the start of the response or its first write.</summary>
        public bool Holding => _holding ??= context.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true;

        private Stream Target() => Holding ? Held ??= new MemoryStream() : inner;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => (_holding == true ? null : inner)?.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => _holding == true ? Task.CompletedTask : inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Target().Write(buffer, offset, count);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Target().WriteAsync(buffer, offset, count, cancellationToken);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => Target().WriteAsync(buffer, cancellationToken);

    }

    /// <summary>The response body over <see cref="HtmlHoldingStream"/>: starting an HTML response is deferred to the middleware.</summary>
    private sealed class HtmlHoldingBody(HtmlHoldingStream stream, IHttpResponseBodyFeature prior) : StreamResponseBodyFeature(stream, prior)
    {
        public override Task StartAsync(CancellationToken cancellationToken = default) =>
            stream.Holding ? Task.CompletedTask : base.StartAsync(cancellationToken);
    }
}
