using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Sync.Ledger;
using Trd.Fhir.Adapter.UseCases;
using Task = System.Threading.Tasks.Task;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// <c>POST /protocols</c> (map + validate + push through the ledger) and <c>GET /protocols/{id}/status</c>. Synchronous by
/// default: 200 with the sync summary when every resource is confirmed; 202 + <c>Content-Location</c> of the status URL when
/// the push is queued (<c>Prefer: respond-async</c>), held by another worker, or failed for a reason that may pass (the
/// background worker retries it); 422 OperationOutcome when it was refused for good (dead letter, e.g. unknown patient).
/// </summary>
public static class ProtocolEndpoints
{
    public static IEndpointRouteBuilder MapProtocolEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/protocols", PushAsync)
            .WithName("PushProtocol").WithSummary("Map, validate and push a protocol document through the sync ledger; Prefer: respond-async queues it (202 + Content-Location of its status)")
            .Accepts<object>("application/json", ApiOutcome.FhirJson).Produces(200, contentType: "application/json").Produces(202, contentType: "application/json")
            .Produces(400, contentType: ApiOutcome.FhirJson).Produces(401, contentType: ApiOutcome.FhirJson).Produces(413, contentType: ApiOutcome.FhirJson)
            .Produces(415, contentType: ApiOutcome.FhirJson).Produces(422, contentType: ApiOutcome.FhirJson).Produces(429, contentType: ApiOutcome.FhirJson);
        endpoints.MapGet("/protocols/{id}/status", StatusAsync)
            .WithName("ProtocolStatus").WithSummary("Where a protocol's push stands in the ledger: state, attempts, last error, resources per state")
            .Produces(200, contentType: "application/json").Produces(401, contentType: ApiOutcome.FhirJson).Produces(404, contentType: ApiOutcome.FhirJson);
        return endpoints;
    }

    public static string StatusUrl(string protocolId) => $"/protocols/{Uri.EscapeDataString(protocolId)}/status";

    private static async Task<IResult> PushAsync(HttpContext context, ApiSettings settings, MapProtocol map, PushThroughLedger push, CancellationToken cancellationToken)
    {
        var (protocol, error) = await ApiEndpoints.ReadProtocolAsync(context, settings);
        if (protocol is null)
            return error!;
        var mapped = map.Map(protocol, cancellationToken: cancellationToken);
        if (mapped.Invalid)
            return ApiOutcome.Fhir(mapped.Validation!, StatusCodes.Status422UnprocessableEntity);

        context.Response.Headers.ContentLocation = StatusUrl(protocol.Id);
        if (context.Request.Headers["Prefer"].Any(p => p is not null && p.Contains("respond-async", StringComparison.OrdinalIgnoreCase)))
        {
            var queued = await push.EnqueueAsync(protocol, cancellationToken);
            return Results.Json(Summary(queued, null), statusCode: StatusCodes.Status202Accepted);
        }
        var result = await push.PushNowAsync(protocol, cancellationToken);
        return result.Item.State switch
        {
            WorkState.Confirmed => Results.Json(Summary(result.Item, result.Report)),
            WorkState.Dead => ApiOutcome.Fhir(Refused(result), StatusCodes.Status422UnprocessableEntity),
            _ => Results.Json(Summary(result.Item, result.Report), statusCode: StatusCodes.Status202Accepted),
        };
    }

    private static async Task<IResult> StatusAsync(string id, LedgerSync sync, CancellationToken cancellationToken)
    {
        var item = await sync.Ledger.GetAsync(id, cancellationToken);
        if (item is null)
            return ApiOutcome.Error(StatusCodes.Status404NotFound, OperationOutcome.IssueType.NotFound, $"no push of protocol '{id}' is known to the ledger (fix: POST /protocols first)", "id");
        var resources = await sync.Ledger.ResourcesAsync(id, cancellationToken);
        return Results.Json(new
        {
            protocolId = item.ProtocolId,
            state = Lower(item.State),
            attempts = item.Attempts,
            lastError = item.LastError,
            nextAttemptAt = item.NextAttemptAt,
            updatedAt = item.UpdatedAt,
            resources = resources.GroupBy(r => r.State).OrderBy(g => g.Key).ToDictionary(g => Lower(g.Key), g => g.Count()),
        });
    }

    /// <summary>The sync summary: the work item, and the push report when the push ran now (counts and per-resource outcomes
    /// by business identifier — no patient data).</summary>
    private static object Summary(WorkItem item, PushReport? report) => new
    {
        protocolId = item.ProtocolId,
        state = Lower(item.State),
        status = StatusUrl(item.ProtocolId),
        attempts = item.Attempts,
        lastError = item.LastError,
        nextAttemptAt = item.NextAttemptAt,
        strategy = report?.Strategy is { } s ? Lower(s) : null,
        counts = report is null ? null : new
        {
            created = report.Count(PushState.Created),
            updated = report.Count(PushState.Updated),
            unchanged = report.Count(PushState.Unchanged),
            failed = report.Count(PushState.Failed),
            skipped = report.Count(PushState.Skipped),
        },
        notes = report?.Notes,
        outcomes = report?.Outcomes.Select(o => new { type = o.ResourceType, identifier = o.Identifier, state = Lower(o.State), serverId = o.ServerId, reason = o.Reason }),
    };

    private static OperationOutcome Refused(LedgerPushResult result)
    {
        var outcome = ApiOutcome.Issue(OperationOutcome.IssueType.BusinessRule, $"the push of protocol {result.Item.ProtocolId} was refused for good (dead letter): {result.Item.LastError}");
        foreach (var o in result.Report?.Outcomes.Where(o => o.State is PushState.Failed or PushState.Skipped) ?? [])
        {
            outcome.Issue.Add(new OperationOutcome.IssueComponent
            {
                Severity = OperationOutcome.IssueSeverity.Error,
                Code = OperationOutcome.IssueType.Processing,
                Details = new CodeableConcept { Text = $"{o.ResourceType} {o.Identifier}: {Lower(o.State)}: {o.Reason}" },
            });
        }
        return outcome;
    }

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();
}
