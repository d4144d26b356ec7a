using System.Diagnostics;
using System.Text.RegularExpressions;
using OpenTelemetry;

namespace Trd.Fhir.Adapter.Telemetry;

/// <summary>
/// Runs on every span before any exporter: no URL of a span keeps a query string (FHIR searches carry
/// <c>identifier=system|value</c>) or a path segment that is not part of the FHIR server's base, a resource type or an
/// operation (ids become <c>{id}</c>); an incoming request's path is replaced by its route template
/// (<c>/patients/{patient}/protocol</c>), because the patient identifier is a path segment.
/// </summary>
public sealed partial class RedactingProcessor : BaseProcessor<Activity>
{
    private static readonly string[] PathTags = ["url.path", "http.target"];
    private static readonly string[] FullUrlTags = ["url.full", "http.url"];
    private static readonly string[] DroppedTags = ["url.query", "url.original"];

    public override void OnEnd(Activity data)
    {
        ArgumentNullException.ThrowIfNull(data);
        foreach (var tag in DroppedTags)
        {
            if (data.GetTagItem(tag) is not null)
                data.SetTag(tag, null);
        }
        foreach (var tag in FullUrlTags)
        {
            if (data.GetTagItem(tag) is string url)
                data.SetTag(tag, Uri.TryCreate(url, UriKind.Absolute, out var uri) ? RedactUrl(uri) : "{redacted}");
        }
        foreach (var tag in PathTags)
        {
            if (data.GetTagItem(tag) is string path)
                data.SetTag(tag, data.Kind == ActivityKind.Server ? data.GetTagItem("http.route") as string ?? "{redacted}" : RedactPath(path));
        }
    }

    /// <summary>Adds what a FHIR call was without what it was about: <c>fhir.interaction</c> (capabilities, read, search,
    /// create, update, delete, bundle, operation) and <c>fhir.resource_type</c>; and redacts its URL at once.</summary>
    public static void TagFhirCall(Activity activity, string method, Uri? uri)
    {
        ArgumentNullException.ThrowIfNull(activity);
        if (uri is null || !uri.IsAbsoluteUri)
            return;
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var typeIndex = Array.FindLastIndex(segments, s => ResourceType().IsMatch(s));
        var type = typeIndex >= 0 ? segments[typeIndex] : null;
        var after = typeIndex >= 0 ? segments[(typeIndex + 1)..] : [];
        var interaction = (method, type, after) switch
        {
            (_, _, _) when segments.LastOrDefault() == "metadata" => "capabilities",
            (_, _, _) when segments.LastOrDefault()?.StartsWith('$') == true => "operation",
            ("GET", not null, []) or ("POST", not null, ["_search"]) => "search",
            ("GET", not null, _) => "read",
            ("POST", null, _) => "bundle",
            ("POST", not null, _) => "create",
            ("PUT" or "PATCH", _, _) => "update",
            ("DELETE", _, _) => "delete",
            _ => "other",
        };
        activity.SetTag("fhir.interaction", interaction);
        if (type is not null)
            activity.SetTag("fhir.resource_type", type);
        activity.SetTag("url.full", RedactUrl(uri));
    }

    public static string RedactUrl(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return $"{uri.Scheme}://{uri.Authority}{RedactPath(uri.AbsolutePath)}";
    }

    /// <summary>The base (everything before the first resource type) stays; after it only resource types, operations
    /// (<c>$…</c>), <c>_history</c>/<c>_search</c> and <c>metadata</c> stay; any other segment becomes <c>{id}</c>. A query is dropped.</summary>
    public static string RedactPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var query = path.IndexOf('?', StringComparison.Ordinal);
        var segments = (query >= 0 ? path[..query] : path).Split('/');
        var first = Array.FindIndex(segments, s => ResourceType().IsMatch(s));
        if (first < 0)
            return string.Join('/', segments);
        for (var i = first + 1; i < segments.Length; i++)
        {
            var s = segments[i];
            if (!(ResourceType().IsMatch(s) || s.StartsWith('$') || s is "_history" or "_search" or "metadata" or ""))
                segments[i] = "{id}";
        }
        return string.Join('/', segments);
    }

    [GeneratedRegex("^[A-Z][a-z]+[A-Za-z]*$", RegexOptions.CultureInvariant)]
    private static partial Regex ResourceType();
}
