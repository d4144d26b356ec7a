using System.Net;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.Push;

namespace Trd.Fhir.Adapter.Tests.Transport.Push;

public sealed class PushStrategyTests
{
    private static Bundle Response(params (string Status, string? Location)[] entries) => new()
    {
        Type = Bundle.BundleType.TransactionResponse,
        Entry = entries.Select(e => new Bundle.EntryComponent { Response = new Bundle.ResponseComponent { Status = e.Status, Location = e.Location } }).ToList(),
    };

    [Fact]
    public async System.Threading.Tasks.Task Transaction_ServerAnswers_RecordsIdVersionAndStatePerEntry()
    {
        var stub = new StubServer().ThenStatus(HttpStatusCode.OK, Response(("201 Created", "Observation/a1/_history/3"), ("200 OK", "Observation/b2/_history/1")));
        var entries = new[] { Entries.Observation("one"), Entries.Observation("two") };

        var refusal = await new TransactionStrategy(stub.Connection()).SendAsync(entries, CancellationToken.None);

        Assert.Null(refusal);
        var request = Assert.Single(stub.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("http://stub.test/fhir", request.Url.TrimEnd('/'));
        Assert.Equal(Bundle.BundleType.Transaction, ((Bundle)request.Body!).Type);
        Assert.Equal((EntryState.Created, "a1", "3"), (entries[0].State!.Value, entries[0].ServerId, entries[0].ServerVersion));
        Assert.Equal((EntryState.Unchanged, "b2", "1"), (entries[1].State!.Value, entries[1].ServerId, entries[1].ServerVersion));
    }

    [Fact]
    public async System.Threading.Tasks.Task Transaction_Refused405_ReturnsReasonAndRemembersSize()
    {
        var stub = new StubServer().ThenStatus(HttpStatusCode.MethodNotAllowed, StubServer.Outcome("transactions are not supported"));
        var connection = stub.Connection();
        var entries = new[] { Entries.Observation("one"), Entries.Observation("two"), Entries.Observation("three") };

        var refusal = await new TransactionStrategy(connection).SendAsync(entries, CancellationToken.None);

        Assert.Equal("405 transactions are not supported", refusal);
        Assert.Equal(3, connection.TransactionRefusedAtSize);
        Assert.All(entries, e => Assert.Null(e.State));
    }

    [Fact]
    public async System.Threading.Tasks.Task Transaction_ResponseWithTooFewEntries_FailsAllRetryable()
    {
        var stub = new StubServer().ThenStatus(HttpStatusCode.OK, Response(("201 Created", "Observation/a1")));
        var entries = new[] { Entries.Observation("one"), Entries.Observation("two") };

        await new TransactionStrategy(stub.Connection()).SendAsync(entries, CancellationToken.None);

        Assert.All(entries, e => Assert.Equal((EntryState.Failed, true), (e.State!.Value, e.Retryable)));
        Assert.StartsWith("the server's transaction response has 1 entries for 2 sent", entries[0].Reason);
    }

    [Fact]
    public async System.Threading.Tasks.Task Individual_WithoutConditionalCreate_PostsPlainCreate()
    {
        var stub = new StubServer().ThenStatus(HttpStatusCode.Created, location: "http://stub.test/fhir/Observation/x9/_history/1");
        var entry = Entries.Observation("one");

        await new IndividualStrategy(stub.Connection(), Entries.Capabilities(false, false, conditionalCreate: false)).SendAsync([entry], CancellationToken.None);

        var request = Assert.Single(stub.Requests);
        Assert.Equal((HttpMethod.Post, "http://stub.test/fhir/Observation"), (request.Method, request.Url));
        Assert.Null(request.IfNoneExist);
        Assert.Equal((EntryState.Created, "x9", "1"), (entry.State!.Value, entry.ServerId, entry.ServerVersion));
    }

    [Fact]
    public async System.Threading.Tasks.Task Individual_WithConditionalCreate_SendsIfNoneExistOnTheIdentifier()
    {
        var stub = new StubServer().ThenStatus(HttpStatusCode.OK, location: "Observation/x9/_history/4");
        var entry = Entries.Observation("one");

        await new IndividualStrategy(stub.Connection(), Entries.Capabilities(false, false, conditionalCreate: true)).SendAsync([entry], CancellationToken.None);

        Assert.Equal("identifier=https://example.org/identifier/observation|one", Uri.UnescapeDataString(Assert.Single(stub.Requests).IfNoneExist!));
        Assert.Equal((EntryState.Unchanged, "x9"), (entry.State!.Value, entry.ServerId));
    }

    [Fact]
    public async System.Threading.Tasks.Task Individual_Refused422_FailsThatEntryForGood()
    {
        var stub = new StubServer().ThenStatus(HttpStatusCode.UnprocessableEntity, StubServer.Outcome("code not allowed"));
        var entry = Entries.Observation("one");

        await new IndividualStrategy(stub.Connection(), Entries.Capabilities(false, false, true)).SendAsync([entry], CancellationToken.None);

        Assert.Equal((EntryState.Failed, "the server answered 422: code not allowed", false), (entry.State!.Value, entry.Reason, entry.Retryable));
    }

    [Fact]
    public async System.Threading.Tasks.Task Sender_TransactionRefused_FallsBackToBatchAndSaysSo()
    {
        var stub = new StubServer()
            .ThenStatus(HttpStatusCode.BadRequest, StubServer.Outcome("too many entries"))
            .ThenStatus(HttpStatusCode.OK, Response(("201 Created", "Observation/a1/_history/1")));
        var entry = Entries.Observation("one");
        var notes = new List<string>();

        var used = await new PushSender(stub.Connection(), NullLogger.Instance).SendAsync([entry], Entries.Capabilities(true, true, true), null, notes, CancellationToken.None);

        Assert.Equal(PushStrategy.Batch, used);
        Assert.Equal(["transaction refused (400 too many entries); falling back to batch"], notes);
        Assert.Equal(Bundle.BundleType.Batch, ((Bundle)stub.Requests[1].Body!).Type);
        Assert.Equal(EntryState.Created, entry.State);
    }

    [Fact]
    public async System.Threading.Tasks.Task Sender_Individual_SendsInDependencyOrderWithServerIds()
    {
        var member = Entries.Observation("item");
        var panel = Entries.Observation("panel", member.FullUrl);
        var stub = new StubServer()
            .ThenStatus(HttpStatusCode.Created, location: "Observation/m1/_history/1")
            .ThenStatus(HttpStatusCode.Created, location: "Observation/p1/_history/1");

        var used = await new PushSender(stub.Connection(), NullLogger.Instance).SendAsync([panel, member], Entries.Capabilities(false, false, true), null, [], CancellationToken.None);

        Assert.Equal(PushStrategy.Individual, used);
        Assert.Equal("item", ((Observation)stub.Requests[0].Body!).Identifier[0].Value);
        Assert.Equal("Observation/m1", ((Observation)stub.Requests[1].Body!).HasMember[0].Reference);
    }

    [Fact]
    public async System.Threading.Tasks.Task Sender_DependencyFailed_SkipsDependentWithoutSendingIt()
    {
        var member = Entries.Observation("item");
        var panel = Entries.Observation("panel", member.FullUrl);
        var stub = new StubServer().ThenStatus(HttpStatusCode.UnprocessableEntity, StubServer.Outcome("bad item"));

        await new PushSender(stub.Connection(), NullLogger.Instance).SendAsync([panel, member], Entries.Capabilities(false, false, true), null, [], CancellationToken.None);

        Assert.Single(stub.Requests);
        Assert.Equal((EntryState.Skipped, "not sent: it references item, which the server did not store"), (panel.State!.Value, panel.Reason));
    }

    [Theory]
    [InlineData("Observation/123/_history/2", "123", "2")]
    [InlineData("http://x/fhir/Observation/123/_history/7", "123", "7")]
    [InlineData("Observation/123", "123", null)]
    public void ServerAnswers_Location_GivesIdAndVersion(string location, string id, string? version)
    {
        Assert.Equal(id, ServerAnswers.IdFromLocation(location, "Observation"));
        Assert.Equal(version, ServerAnswers.VersionFromLocation(location));
    }

    [Theory]
    [InlineData("W/\"3\"", "3")]
    [InlineData("\"abc\"", "abc")]
    [InlineData(" ", null)]
    public void ServerAnswers_ETag_GivesVersion(string etag, string? version) => Assert.Equal(version, ServerAnswers.VersionFromETag(etag));
}
