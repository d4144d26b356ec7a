using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// Each request's time budget (<see cref="ApiSettings.RequestBudget"/>, on <see cref="ApiSettings.Time"/>): the request's
/// <see cref="HttpContext.RequestAborted"/> is replaced by a token cancelled when the client disconnects or the budget is
/// spent. The use cases pass it on (a large Bundle's validation stops between chunks), and the cancellation is answered
/// with an OperationOutcome saying which: 503 + <c>timeout</c> for a spent budget, 499 + <c>incomplete</c> for a client
/// that went away (written if anyone still listens).
/// </summary>
public static class RequestBudget
{
    /// <summary>HTTP 499 (nginx's "client closed request"): the status recorded when the client disconnected.</summary>
    public const int ClientClosedRequest = 499;

    public static IApplicationBuilder UseTrdFhirRequestBudget(this IApplicationBuilder app, ApiSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return app.Use((context, next) => RunAsync(context, next, settings));
    }

    /// <summary>The middleware itself (public for its tests).</summary>
    public static async System.Threading.Tasks.Task RunAsync(HttpContext context, RequestDelegate next, ApiSettings settings)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(settings);
        var client = context.RequestAborted;
        using var budget = new CancellationTokenSource(settings.RequestBudget, settings.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(client, budget.Token);
        context.RequestAborted = linked.Token;
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested && !context.Response.HasStarted)
        {
            context.RequestAborted = CancellationToken.None; // write the answer even though the request's token is cancelled
            var outcome = client.IsCancellationRequested
                ? ApiOutcome.Issue(OperationOutcome.IssueType.Incomplete, "cancelled: the client disconnected before the answer was ready; the work was stopped")
                : ApiOutcome.Issue(OperationOutcome.IssueType.Timeout,
                    $"cancelled: the request's time budget of {settings.RequestBudget.TotalSeconds:0.#} s was spent; the work was stopped (fix: send a smaller document, or raise Api:RequestBudget)");
            try
            {
                await ApiOutcome.WriteAsync(context, client.IsCancellationRequested ? ClientClosedRequest : StatusCodes.Status503ServiceUnavailable, outcome);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // the client is gone: nobody to answer
            }
        }
        finally
        {
            context.RequestAborted = client;
        }
    }
}
