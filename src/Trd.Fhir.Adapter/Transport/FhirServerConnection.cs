using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Serialization;
using Microsoft.Extensions.Logging;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.Adapter.Transport;

/// <summary>
/// One FHIR server: hands out a fresh <see cref="FhirClient"/> per operation (FhirClient is not safe to share across
/// concurrent calls, firely-net-sdk#2633) over the shared, resilient HttpClient, and reads <c>/metadata</c> once.
/// Knows FHIR, not the protocol.
/// </summary>
public sealed class FhirServerConnection(IHttpClientFactory httpClientFactory, Uri baseUrl, ILogger<FhirServerConnection> logger, ServerProfiles.ServerProfile? chosenProfile = null) : IDisposable
{
    private readonly SemaphoreSlim _capabilitiesLock = new(1, 1);
    private ServerCapabilities? _capabilities;
    private CapabilityStatement? _statement;

    public Uri BaseUrl { get; } = baseUrl;

    public void Dispose() => _capabilitiesLock.Dispose();

    /// <summary>
    /// The smallest transaction this server has refused as a whole (e.g. Medplum's cap on conditional entries), so later
    /// pushes of that size go straight to the fallback instead of paying for the refusal again. Null until one is refused.
    /// </summary>
    public int? TransactionRefusedAtSize { get; private set; }

    public void RememberTransactionRefusal(int entries) =>
        TransactionRefusedAtSize = TransactionRefusedAtSize is { } known ? Math.Min(known, entries) : entries;

    public FhirClient NewClient() => new(BaseUrl, httpClientFactory.CreateClient(TransportContext.HttpClientName), new FhirClientSettings
    {
        PreferredFormat = ResourceFormat.Json,
        VerifyFhirVersion = false,
        // Locations and statuses are all a push needs: no read-back round trip per resource (Epic-like servers are rate-limited).
        ReturnPreference = ReturnPreference.Minimal,
        // Servers add what they like (Medplum: meta.author/project): read leniently, never fail a push on a response detail.
        SerializationEngine = FhirSerializationEngineFactory.Ostrich(ModelInfo.ModelInspector),
    });

    public async Task<ServerCapabilities> CapabilitiesAsync(CancellationToken cancellationToken)
    {
        if (_capabilities is { } known)
            return known;
        await _capabilitiesLock.WaitAsync(cancellationToken);
        try
        {
            if (_capabilities is null)
            {
                var statement = await NewClient().CapabilityStatementAsync(SummaryType.False, cancellationToken)
                    ?? throw new FhirTransportException($"{BaseUrl}metadata returned no CapabilityStatement");
                _statement = statement;
                _capabilities = ServerCapabilities.From(statement);
                logger.LogInformation("FHIR server {Software}: transaction {Transaction}, batch {Batch}, {ResourceTypes} resource types", _capabilities.Software, _capabilities.Transaction, _capabilities.Batch, _capabilities.Resources.Count);
            }
            return _capabilities;
        }
        finally
        {
            _capabilitiesLock.Release();
        }
    }

    /// <summary>The server profile chosen by the user (<c>--server-profile</c>); null: detected from the CapabilityStatement.</summary>
    public ServerProfiles.ServerProfile? ChosenProfile { get; set; } = chosenProfile;

    /// <summary>Told the profile once it is detected from <c>/metadata</c> (the composition root: its SMART scopes become the
    /// token request's default scope).</summary>
    public Action<ServerProfiles.ServerProfile>? ProfileDetected { get; init; }

    /// <summary>The server profile in force: the chosen one, or the one detected from <c>/metadata</c> (with the reason).</summary>
    public async Task<ServerProfiles.ServerProfile> ProfileAsync(CancellationToken cancellationToken)
    {
        if (ChosenProfile is { } chosen)
            return chosen;
        await CapabilitiesAsync(cancellationToken);
        var detected = ChosenProfile = ServerProfiles.ServerProfileCatalog.Detect(_statement);
        ProfileDetected?.Invoke(detected);
        return detected;
    }

    /// <summary>Every resource a search finds, following <c>next</c> links (opaque, session-scoped on some servers) on this
    /// server only (<see cref="SameServer"/>). Never a silent part of the result: paging that loops back to a page already
    /// read, or runs past <paramref name="maxPages"/>, stops the search with an error.</summary>
    public async Task<List<(Resource Resource, string? FullUrl)>> SearchAllAsync(string resourceType, SearchParams query, CancellationToken cancellationToken, int maxPages = 1000)
    {
        var client = NewClient();
        var found = new List<(Resource, string?)>();
        var followed = new HashSet<string>(StringComparer.Ordinal);
        var page = await client.SearchAsync(query, resourceType, cancellationToken);
        for (var pages = 1; page is not null; pages++)
        {
            found.AddRange(page.Entry
                .Where(e => e.Resource is not null && e.Search?.Mode is null or Bundle.SearchEntryMode.Match or Bundle.SearchEntryMode.Include)
                .Where(e => e.Resource is not OperationOutcome)
                .Select(e => (e.Resource!, e.FullUrl)));
            if (page.NextLink is null)
                break;
            var next = SameServer(page.NextLink);
            if (!followed.Add(next.AbsoluteUri))
                throw new FhirTransportException($"the server's paging of a {resourceType} search loops: page {pages} links to a page already read; the search stopped rather than read it again (fix: report it to the server's operators)");
            if (pages >= maxPages)
                throw new FhirTransportException($"a {resourceType} search has more than {maxPages} pages; it stopped rather than return part of the result (fix: narrow the search, e.g. pull --since)");
            page.NextLink = next;
            page = await client.ContinueAsync(page, PageDirection.Next, cancellationToken);
        }
        return found;
    }

    /// <summary>
    /// A <c>next</c> link to follow. On this server's origin: as it is. On another origin but below this server's base path
    /// — a server behind a proxy that writes links with its internal host name (HAPI without forwarded headers) —: the same
    /// path and query on this server's origin. Anywhere else: refused, so paging never leaves the server (and no
    /// credentials could follow it there); the search fails rather than return a partial result.
    /// </summary>
    internal Uri SameServer(Uri next)
    {
        if (!next.IsAbsoluteUri)
            return new Uri(TransportServiceCollectionExtensions.WithTrailingSlash(BaseUrl), next);
        if (Auth.CredentialScopeHandler.SameOrigin(next, BaseUrl))
            return next;
        var basePath = TransportServiceCollectionExtensions.WithTrailingSlash(BaseUrl).AbsolutePath;
        if ((next.AbsolutePath.TrimEnd('/') + "/").StartsWith(basePath, StringComparison.Ordinal))
        {
            logger.LogWarning("The server's next link names {Origin}, not {Server}: followed on {Server}", next.GetLeftPart(UriPartial.Authority), BaseUrl.GetLeftPart(UriPartial.Authority), BaseUrl.GetLeftPart(UriPartial.Authority));
            return new UriBuilder(next) { Scheme = BaseUrl.Scheme, Host = BaseUrl.Host, Port = BaseUrl.Port }.Uri;
        }
        throw new FhirTransportException($"the server's next page link points to {next.GetLeftPart(UriPartial.Authority)}{next.AbsolutePath}, outside the FHIR server {BaseUrl}: not followed, so the search stopped without its remaining pages (fix: configure the server's public base URL, e.g. HAPI's server_address, or call Trd.Fhir with the base URL its links use)");
    }
}

/// <summary>A transport failure the user can act on (server unreachable, refused, unexpected answer).</summary>
public sealed class FhirTransportException(string message, Exception? inner = null) : Exception(message, inner);
