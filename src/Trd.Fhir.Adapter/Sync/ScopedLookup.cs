using System.Net;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>
/// Finds what the server already holds of a push, without ever sending an unscoped identifier search: every look-up is
/// scoped by the patient (the profile's parameter) and carries what the server requires. Where the profile allows
/// identifier search, the identifiers go in the query; otherwise the search is by patient plus the entries' own codes or
/// categories, and identifiers are matched on our side. A refused search (400 naming a missing parameter…) fails the
/// entries it was for with the server's message and the search's shape (no identifier values).
/// </summary>
public sealed class ScopedLookup(FhirServerConnection server, ServerProfile profile, ServerCapabilities capabilities)
{
    private const int IdentifierSearchChunk = 20;

    public async Task<Dictionary<PushEntry, Resource>> FindAsync(IReadOnlyList<PushEntry> entries, string patientId, CancellationToken cancellationToken)
    {
        var copies = new Dictionary<PushEntry, Resource>();
        foreach (var group in entries.Where(i => i.State is null).GroupBy(i => i.Type))
        {
            if (capabilities.Resources.Count > 0 && !capabilities.For(group.Key).Search)
                continue; // cannot look: rely on If-None-Exist
            foreach (var chunk in profile.IdentifierSearch ? group.Chunk(IdentifierSearchChunk) : [group.ToArray()])
            {
                var query = new SearchParams().Add(profile.PatientParameter, $"Patient/{patientId}");
                if (profile.IdentifierSearch)
                    query.Add("identifier", string.Join(",", chunk.Select(i => PushPlanner.Key(i.Identifier))));
                else
                    AddOwnCodes(group.Key, chunk, query);
                query.Count = 100;
                var missing = profile.Complete(group.Key, query);
                if (missing.Count > 0)
                {
                    PushEntry.Fail(chunk, $"cannot look {group.Key} up on this server: server profile '{profile.Name}' requires {string.Join(" and ", missing)} and gives no value; without a look-up a re-push could duplicate, so nothing was sent", retryable: false);
                    continue;
                }
                List<(Resource Resource, string? FullUrl)> found;
                try
                {
                    found = await server.SearchAllAsync(group.Key, query, cancellationToken);
                }
                catch (FhirOperationException e) when (e.Status is HttpStatusCode.BadRequest or HttpStatusCode.Forbidden or HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)
                {
                    ServerAnswers.ThrowIfStop(e, profile);
                    PushEntry.Fail(chunk, $"the server refused the look-up {SearchShape.Of(group.Key, query)} ({(int)e.Status}: {ServerAnswers.OutcomeText(e.Outcome) ?? e.Message}); nothing was sent for it", retryable: false);
                    continue;
                }
                Match(group.Key, chunk, found, copies);
            }
        }
        return copies;
    }

    /// <summary>For a kind whose search needs code or category: the entries' own codes (then categories), so the search
    /// finds exactly the kinds of resource the push would write.</summary>
    private void AddOwnCodes(string resourceType, IReadOnlyList<PushEntry> chunk, SearchParams query)
    {
        if (!profile.Searches.TryGetValue(resourceType, out var rule))
            return;
        foreach (var name in new[] { "code", "category" })
        {
            if (!rule.Required.Any(g => g.Split('|').Contains(name)))
                continue;
            var tokens = chunk.SelectMany(e => Codings(e.Resource, name)).Where(c => c.Code is not null)
                .Select(c => c.System is null ? c.Code : $"{c.System}|{c.Code}").Distinct(StringComparer.Ordinal).ToArray();
            if (tokens.Length > 0)
            {
                query.Add(name, string.Join(",", tokens));
                return;
            }
        }
    }

    private static IEnumerable<Coding> Codings(Base resource, string element) =>
        resource.EnumerateElements().Where(kv => kv.Key == element).SelectMany(kv => kv.Value switch
        {
            CodeableConcept c => c.Coding,
            IEnumerable<CodeableConcept> list => list.SelectMany(c => c.Coding),
            _ => [],
        });

    private static void Match(string resourceType, IReadOnlyList<PushEntry> chunk, List<(Resource Resource, string? FullUrl)> found, Dictionary<PushEntry, Resource> copies)
    {
        foreach (var (resource, _) in found.Where(f => f.Resource.TypeName == resourceType))
        {
            var identifiers = Identity.IdentifiersOf(resource);
            var match = chunk.FirstOrDefault(i => identifiers.Any(x => x.System == i.Identifier.System && x.Value == i.Identifier.Value));
            if (match is null || match.State is not null)
                continue;
            if (match.ServerId is not null && match.ServerId != resource.Id)
            {
                match.Fail($"{resourceType} with this business identifier exists twice on the server ({match.ServerId}, {resource.Id}); resolve the duplicate first", retryable: false);
                continue;
            }
            match.ServerId = resource.Id;
            match.ServerVersion = resource.Meta?.VersionId;
            copies[match] = resource;
        }
    }
}

/// <summary>A search as it may be shown in messages and logs: parameter names, with values only for codes and categories
/// (never identifiers or patient references).</summary>
public static class SearchShape
{
    private static readonly HashSet<string> Shown = ["category", "code", "status", "_count", "intent"];

    public static string Of(string resourceType, SearchParams query) =>
        resourceType + "?" + string.Join("&", query.ToUriParamList().Select(p => p.Item1 + "=" + (Shown.Contains(p.Item1) ? p.Item2 : "…")));
}
