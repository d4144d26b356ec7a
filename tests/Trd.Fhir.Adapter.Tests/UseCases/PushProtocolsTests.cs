using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Tests.Transport.Push;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>The push use case: every protocol mapped and validated first; nothing is sent while one does not conform.</summary>
public sealed class PushProtocolsTests
{
    private static TrdProtocol Example(string name) => ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", name + ".json"))).Protocol!;

    private static (PushProtocols Sut, StubServer Server) Sut()
    {
        var server = new StubServer();
        var push = new PushWorkflow(server.Connection(), NullLogger<PushWorkflow>.Instance);
        return (new PushProtocols(new MapProtocol(new Identity(Identity.DefaultBase), ValidatorPool.Shared()), push), server);
    }

    [Fact]
    public void Prepare_TwoProtocols_MappedAndValidatedInOrderNothingSent()
    {
        var (sut, server) = Sut();

        var prepared = sut.Prepare([Example("phase2-remission"), Example("phase1-augmentation")], validate: true);

        Assert.Equal([("syn-0004-trd", 117), ("syn-0001-trd", 64)], prepared.Select(p => (p.Protocol!.Id, p.Bundle!.Entry.Count)));
        Assert.All(prepared, p => Assert.False(p.Invalid));
        Assert.All(prepared, p => Assert.NotNull(p.Validation));
        Assert.Empty(server.Requests);
    }

    [Fact]
    public void Prepare_NoValidate_NoValidation()
    {
        var (sut, _) = Sut();

        var prepared = sut.Prepare([Example("phase1-augmentation")], validate: false);

        Assert.Null(Assert.Single(prepared).Validation);
    }

    [Fact]
    public async System.Threading.Tasks.Task PushAsync_OneOfTwoDoesNotConform_RefusesBeforeSendingAnything()
    {
        var (sut, server) = Sut();
        var prepared = sut.Prepare([Example("phase1-augmentation"), Example("phase2-remission")], validate: true).ToList();
        var error = new OperationOutcome { Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.Required }] };
        prepared[1] = prepared[1] with { Validation = error };
        var started = new List<int>();

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => sut.PushAsync(prepared, started.Add, CancellationToken.None));

        Assert.Equal("a protocol whose Bundle does not conform to the profiles is never sent", e.Message);
        Assert.Empty(started);
        Assert.Empty(server.Requests);
    }
}
