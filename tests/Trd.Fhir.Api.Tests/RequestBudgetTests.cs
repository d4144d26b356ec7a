using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Api;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Api.Tests;

/// <summary>The per-request time budget and cancellation on client disconnect (issue 13 item 2) — on a fake clock and with
/// explicit cancellations: no wall-clock assertion.</summary>
public sealed class RequestBudgetTests
{
    private static async Task<(int Status, OperationOutcome Outcome)> Run(ApiSettings settings, Func<HttpContext, System.Threading.Tasks.Task> work, CancellationToken client = default)
    {
        var context = new DefaultHttpContext { RequestAborted = client };
        var body = new MemoryStream();
        context.Response.Body = body;
        await RequestBudget.RunAsync(context, c => work(c), settings);
        var outcome = new FhirJsonDeserializer().Deserialize<OperationOutcome>(System.Text.Encoding.UTF8.GetString(body.ToArray()));
        return (context.Response.StatusCode, outcome);
    }

    [Fact]
    public async System.Threading.Tasks.Task BudgetSpent_WorkCancelled_503TimeoutOutcome()
    {
        var clock = new FakeTimeProvider();
        var settings = new ApiSettings { RequestBudget = TimeSpan.FromSeconds(30), Time = clock };
        var sawCancellation = false;

        var (status, outcome) = await Run(settings, c =>
        {
            Assert.False(c.RequestAborted.IsCancellationRequested);
            clock.Advance(TimeSpan.FromSeconds(31)); // the work takes longer than its budget
            sawCancellation = c.RequestAborted.IsCancellationRequested;
            c.RequestAborted.ThrowIfCancellationRequested();
            return System.Threading.Tasks.Task.CompletedTask;
        });

        Assert.True(sawCancellation);
        Assert.Equal(503, status);
        var issue = Assert.Single(outcome.Issue);
        Assert.Equal(OperationOutcome.IssueType.Timeout, issue.Code);
        Assert.Contains("time budget of 30 s was spent", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task ClientDisconnects_WorkCancelled_499SaysTheClientLeft()
    {
        using var client = new CancellationTokenSource();
        var settings = new ApiSettings { RequestBudget = TimeSpan.FromMinutes(2), Time = new FakeTimeProvider() };

        var (status, outcome) = await Run(settings, c =>
        {
            client.Cancel(); // the client gives up while the work runs
            c.RequestAborted.ThrowIfCancellationRequested();
            return System.Threading.Tasks.Task.CompletedTask;
        }, client.Token);

        Assert.Equal(RequestBudget.ClientClosedRequest, status);
        var issue = Assert.Single(outcome.Issue);
        Assert.Equal(OperationOutcome.IssueType.Incomplete, issue.Code);
        Assert.Contains("client disconnected", issue.Details.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async System.Threading.Tasks.Task WithinBudget_RequestTokenRestoredAndAnswerUntouched()
    {
        var settings = new ApiSettings { RequestBudget = TimeSpan.FromSeconds(30), Time = new FakeTimeProvider() };
        var context = new DefaultHttpContext();
        var original = context.RequestAborted;
        CancellationToken during = default;

        await RequestBudget.RunAsync(context, c => { during = c.RequestAborted; c.Response.StatusCode = 201; return System.Threading.Tasks.Task.CompletedTask; }, settings);

        Assert.NotEqual(original, during);
        Assert.Equal(original, context.RequestAborted);
        Assert.Equal(201, context.Response.StatusCode);
    }

    [Fact]
    public void MapUseCase_Cancelled_Throws()
    {
        // a cancelled request maps nothing and validates nothing (a large Bundle is also checked between chunks: ChunkedBundleCancellationTests)
        var example = File.ReadAllText(Path.Combine(ProjectRoot(), "examples", "phase1-augmentation.json"));
        var protocol = ProtocolReader.Read(System.Text.Encoding.UTF8.GetBytes(example)).Protocol!;
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        var map = new MapProtocol(new Identity(Identity.DefaultBase), ValidatorPool.Shared());

        Assert.Throws<OperationCanceledException>(() => map.Map(protocol, cancellationToken: cts.Token));
    }

    private static string ProjectRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Trd.Fhir.sln"))) return d.FullName;
        throw new InvalidOperationException("Trd.Fhir.sln not found");
    }
}
