using System.Net;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;
using Trd.Fhir.Adapter.Transport.ServerProfiles;

namespace Trd.Fhir.Adapter.Tests.Transport.Push;

/// <summary>The fallback chain of <see cref="PushSender"/>: transaction → batch → one request per resource, in that order,
/// each step said in a note; what a server refused earlier in the run, a profile without Bundles and a forced strategy the
/// server cannot carry. A scripted stub server answers; the requests it saw are the evidence.</summary>
public sealed class PushSenderTests
{
    private static Bundle BatchResponse(string location) => new()
    {
        Type = Bundle.BundleType.BatchResponse,
        Entry = [new Bundle.EntryComponent { Response = new Bundle.ResponseComponent { Status = "201 Created", Location = location } }],
    };

    private static string Kind(StubServer stub, int k) => stub.Requests[k] switch
    {
        { Body: Bundle { Type: Bundle.BundleType.Transaction } } => "transaction",
        { Body: Bundle { Type: Bundle.BundleType.Batch } } => "batch",
        var r => $"{r.Method} {r.Url}",
    };

    [Fact]
    public async System.Threading.Tasks.Task SendAsync_TransactionNotSupportedThenBatchRefused_TransactionBatchIndividualInThatOrder()
    {
        var stub = new StubServer()
            .ThenStatus(HttpStatusCode.MethodNotAllowed, StubServer.Outcome("transaction not supported"))
            .ThenStatus(HttpStatusCode.NotImplemented, StubServer.Outcome("batch not supported"))
            .ThenStatus(HttpStatusCode.Created, location: "Observation/o1/_history/1");
        var entry = Entries.Observation("one");
        var notes = new List<string>();

        var used = await new PushSender(stub.Connection(), NullLogger.Instance).SendAsync([entry], Entries.Capabilities(true, true, true), null, notes, CancellationToken.None);

        Assert.Equal(PushStrategy.Individual, used);
        Assert.Equal(["transaction", "batch", "POST http://stub.test/fhir/Observation"], Enumerable.Range(0, stub.Requests.Count).Select(k => Kind(stub, k)));
        Assert.Equal(
            [
                "transaction refused (405 transaction not supported); falling back to batch",
                "batch refused (501 batch not supported); falling back to individual requests",
            ], notes);
        Assert.Equal((EntryState.Created, "o1"), (entry.State!.Value, entry.ServerId));
    }

    [Fact]
    public async System.Threading.Tasks.Task SendAsync_TransactionRefusedServerWithoutBatch_StraightToIndividual()
    {
        var stub = new StubServer()
            .ThenStatus(HttpStatusCode.MethodNotAllowed, StubServer.Outcome("transaction not supported"))
            .ThenStatus(HttpStatusCode.Created, location: "Observation/o1/_history/1");
        var notes = new List<string>();

        var used = await new PushSender(stub.Connection(), NullLogger.Instance).SendAsync([Entries.Observation("one")], Entries.Capabilities(true, false, true), null, notes, CancellationToken.None);

        Assert.Equal(PushStrategy.Individual, used);
        Assert.Equal(["transaction", "POST http://stub.test/fhir/Observation"], Enumerable.Range(0, stub.Requests.Count).Select(k => Kind(stub, k)));
        Assert.Equal(["transaction refused (405 transaction not supported); falling back to individual"], notes);
    }

    [Fact]
    public async System.Threading.Tasks.Task SendAsync_TransactionRefusedEarlierInTheRun_NotTriedAgainForAsManyEntries()
    {
        var stub = new StubServer()
            .ThenStatus(HttpStatusCode.RequestEntityTooLarge, StubServer.Outcome("too large"))
            .ThenStatus(HttpStatusCode.OK, BatchResponse("Observation/a/_history/1"))
            .ThenStatus(HttpStatusCode.OK, BatchResponse("Observation/b/_history/1"));
        var connection = stub.Connection();
        var sender = new PushSender(connection, NullLogger.Instance);
        var second = new List<string>();

        await sender.SendAsync([Entries.Observation("a")], Entries.Capabilities(true, true, true), null, [], CancellationToken.None);
        var used = await sender.SendAsync([Entries.Observation("b")], Entries.Capabilities(true, true, true), null, second, CancellationToken.None);

        Assert.Equal(PushStrategy.Batch, used);
        Assert.Equal(["transaction", "batch", "batch"], Enumerable.Range(0, stub.Requests.Count).Select(k => Kind(stub, k)));
        Assert.Equal(["transaction refused (this server refused a transaction of 1 entries earlier in this run); falling back to batch"], second);
    }

    [Fact]
    public async System.Threading.Tasks.Task SendAsync_ProfileWithoutBundlesAndForcedTransaction_OneRequestPerResourceAndSaysWhy()
    {
        var stub = new StubServer().ThenStatus(HttpStatusCode.Created, location: "Observation/o1/_history/1");
        var epicLike = new ServerProfile { Name = "epic", Bundles = false };
        var notes = new List<string>();

        var used = await new PushSender(stub.Connection(), NullLogger.Instance, epicLike).SendAsync([Entries.Observation("one")], Entries.Capabilities(true, true, true), PushStrategy.Transaction, notes, CancellationToken.None);

        Assert.Equal(PushStrategy.Individual, used);
        Assert.Equal(["POST http://stub.test/fhir/Observation"], Enumerable.Range(0, stub.Requests.Count).Select(k => Kind(stub, k)));
        Assert.Equal(["--strategy transaction ignored: server profile 'epic' sends no Bundles; one request per resource"], notes);
    }

    [Fact]
    public async System.Threading.Tasks.Task SendAsync_ForcedBatchOnAServerDeclaringNeither_OneRequestPerResource()
    {
        var stub = new StubServer().ThenStatus(HttpStatusCode.Created, location: "Observation/o1/_history/1");
        var notes = new List<string>();

        var used = await new PushSender(stub.Connection(), NullLogger.Instance).SendAsync([Entries.Observation("one")], Entries.Capabilities(false, false, true), PushStrategy.Batch, notes, CancellationToken.None);

        Assert.Equal(PushStrategy.Individual, used);
        Assert.Single(stub.Requests);
        Assert.Equal(["--strategy batch ignored: the server's CapabilityStatement declares neither transaction nor batch; one request per resource"], notes);
    }

    [Fact]
    public async System.Threading.Tasks.Task SendAsync_NothingPending_SendsNothingAndReturnsNull()
    {
        var stub = new StubServer();
        var done = Entries.Observation("one");
        done.Done(EntryState.Unchanged);

        var used = await new PushSender(stub.Connection(), NullLogger.Instance).SendAsync([done], Entries.Capabilities(true, true, true), null, [], CancellationToken.None);

        Assert.Null(used);
        Assert.Empty(stub.Requests);
    }

    /// <summary>The rounds helper with a fake strategy: a refusal stops the rounds and is returned as it was said.</summary>
    [Fact]
    public async System.Threading.Tasks.Task SendInRounds_StrategyRefuses_ReturnsItsReasonAfterTheFirstRound()
    {
        var member = Entries.Observation("item");
        var panel = Entries.Observation("panel", member.FullUrl);
        var fake = new RefusingStrategy("413 too large");

        var refused = await PushSender.SendInRoundsAsync(fake, [panel, member], new Dictionary<string, PushEntry> { [panel.FullUrl] = panel, [member.FullUrl] = member }, CancellationToken.None);

        Assert.Equal("413 too large", refused);
        Assert.Equal([["item"]], fake.Rounds);
    }

    private sealed class RefusingStrategy(string reason) : IPushStrategy
    {
        public List<string[]> Rounds { get; } = [];

        public PushStrategy Kind => PushStrategy.Batch;

        public System.Threading.Tasks.Task<string?> SendAsync(IReadOnlyList<PushEntry> entries, CancellationToken cancellationToken)
        {
            Rounds.Add([.. entries.Select(e => e.Identifier.Value)]);
            return System.Threading.Tasks.Task.FromResult<string?>(reason);
        }
    }
}
