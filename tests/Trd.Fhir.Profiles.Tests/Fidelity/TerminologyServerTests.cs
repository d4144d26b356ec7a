using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using WireMock.Matchers;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Tests.Fidelity;

/// <summary>
/// Issue 12 item 4, <c>--tx URL</c> (<see cref="TrdValidatorOptions.TerminologyServer"/>): codes of systems we do not hold
/// go to the server's <c>CodeSystem/$validate-code</c>, bindings no local artefact can check to <c>ValueSet/$validate-code</c>
/// (WireMock.Net stands in for the terminology server: the request and answer are FHIR Parameters, written and read by
/// the Firely SDK). Without a server such codes are information "Not checked offline".
/// </summary>
public sealed class TerminologyServerTests : IDisposable
{
    private const string Snomed = "http://snomed.info/sct";
    private const string MajorDepressiveDisorder = "370143000"; // CONFIRMED (shared/reference/terminology.md)
    private const string NotACode = "999999";                   // what the stub server calls invalid
    private readonly WireMockServer _tx = WireMockServer.Start();

    public void Dispose() => _tx.Stop();

    [Fact]
    public void CodeOfAnExternalSystem_ValidForTheServer_NoIssue_AndTheServerWasAskedAboutThatCoding()
    {
        StubCodeSystem(MajorDepressiveDisorder, valid: true);
        using var validator = WithServer(new Uri(_tx.Url!));

        var oo = validator.Validate(Basic((Snomed, MajorDepressiveDisorder)));

        Assert.Empty(oo.Issue);
        var request = Assert.Single(_tx.LogEntries).RequestMessage;
        Assert.Equal("/CodeSystem/$validate-code", request.Path);
        var asked = new FhirJsonDeserializer().Deserialize<Parameters>(request.Body!);
        Assert.Equal(Snomed, asked.GetSingleValue<FhirUri>("url")?.Value);
        Assert.Equal(MajorDepressiveDisorder, asked.GetSingleValue<Code>("code")?.Value);
    }

    [Fact]
    public void CodeOfAnExternalSystem_InvalidForTheServer_ErrorWithTheServersMessage_AtTheCoding()
    {
        StubCodeSystem(NotACode, valid: false, message: $"Unknown code '{NotACode}' in the CodeSystem '{Snomed}' (stub server)");
        using var validator = WithServer(new Uri(_tx.Url!));

        var oo = validator.Validate(Basic((Snomed, NotACode)));

        var issue = Assert.Single(oo.Issue);
        Assert.Equal(IssueSeverity.Error, issue.Severity);
        Assert.Equal(IssueType.CodeInvalid, issue.Code);
        Assert.Equal(["Basic.code.coding[0]"], issue.Expression);
        Assert.Equal($"Unknown code '{NotACode}' in the CodeSystem '{Snomed}' (stub server)", issue.Details.Text);
    }

    [Fact]
    public void ServerDown_OneWarningPerInput_OtherRulesStillReported()
    {
        var down = new Uri(_tx.Url!);
        _tx.Stop(); // nothing listens there any more: connection refused
        using var validator = WithServer(down);

        var oo = validator.Validate(Basic((Snomed, MajorDepressiveDisorder), (Snomed, NotACode), ("http://hl7.org/fhir/administrative-gender", "bogus")));

        Assert.False(oo.Success);
        var warning = Assert.Single(oo.Issue, i => i.Severity == IssueSeverity.Warning);
        Assert.Equal(["Basic.code.coding[0]"], warning.Expression);
        Assert.StartsWith($"Not checked: 2 code(s) of code systems not held offline, because the terminology server {down} could not be reached", warning.Details.Text, StringComparison.Ordinal);
        var error = Assert.Single(oo.Issue, i => i.Severity == IssueSeverity.Error);
        Assert.Equal(["Basic.code.coding[2]"], error.Expression);
    }

    [Fact]
    public void ServerUnavailable_AskedOnceForTheWholeRun()
    {
        _tx.Given(Request.Create().UsingPost()).RespondWith(Response.Create().WithStatusCode(503));
        using var validator = WithServer(new Uri(_tx.Url!));

        var first = validator.Validate(Basic((Snomed, MajorDepressiveDisorder)));
        var second = validator.Validate(Basic((Snomed, NotACode)));

        Assert.Single(_tx.LogEntries);
        foreach (var oo in new[] { first, second })
        {
            Assert.True(oo.Success);
            Assert.Contains("could not be reached (HTTP 503)", Assert.Single(oo.Issue).Details.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void RequiredBindingToAValueSetOnlyTheServerKnows_AskedOfValueSetValidateCode()
    {
        _tx.Given(Request.Create().WithPath("/ValueSet/$validate-code").UsingPost().WithBody(new RegexMatcher("\"good\"")))
            .RespondWith(FhirJson(Result(true, null)));
        _tx.Given(Request.Create().WithPath("/ValueSet/$validate-code").UsingPost().WithBody(new RegexMatcher("\"bad\"")))
            .RespondWith(FhirJson(Result(false, "The code 'bad' is not in the value set (stub server)")));
        _tx.Given(Request.Create().WithPath("/CodeSystem/$validate-code").UsingPost()).RespondWith(FhirJson(Result(true, null)));
        var options = TerminologyTests.Options();
        options.TerminologyServer = new Uri(_tx.Url!);
        using var validator = TrdValidator.Create(options);

        var good = validator.Validate(TerminologyTests.Instance("good"));
        var bad = validator.Validate(TerminologyTests.Instance("bad"));

        Assert.Empty(good.Issue);
        var issue = Assert.Single(bad.Issue);
        Assert.Equal(IssueSeverity.Error, issue.Severity);
        Assert.Equal(["Observation.value"], issue.Expression);
        Assert.StartsWith("The code 'bad' is not in the value set (stub server)", issue.Details.Text, StringComparison.Ordinal);
        var asked = _tx.LogEntries.Where(e => e.RequestMessage.Path == "/ValueSet/$validate-code")
            .Select(e => new FhirJsonDeserializer().Deserialize<Parameters>(e.RequestMessage.Body!).GetSingleValue<FhirUri>("url")?.Value);
        Assert.All(asked, url => Assert.Equal(TerminologyTests.RemoteValueSet, url));
    }

    [Fact]
    public void RequiredBindingToALocalValueSetOverSnomed_TheLocalServiceCannotExpandIt_AskedOfTheServer()
    {
        _tx.Given(Request.Create().WithPath("/ValueSet/$validate-code").UsingPost().WithBody(new RegexMatcher(NotACode)))
            .RespondWith(FhirJson(Result(false, $"'{NotACode}' is not in the value set (stub server)")));
        _tx.Given(Request.Create().WithPath("/ValueSet/$validate-code").UsingPost().WithBody(new RegexMatcher(MajorDepressiveDisorder)))
            .RespondWith(FhirJson(Result(true, null)));
        _tx.Given(Request.Create().WithPath("/CodeSystem/$validate-code").UsingPost()).RespondWith(FhirJson(Result(true, null)));
        var options = TerminologyTests.Options();
        options.ExtraSources.Add(ArtifactSource.FromResources(new ValueSet
        {
            Url = TerminologyTests.RemoteValueSet, Name = "AllOfSnomed", Status = PublicationStatus.Draft,
            Compose = new ValueSet.ComposeComponent { Include = [new ValueSet.ConceptSetComponent { System = Snomed }] },
        }));
        options.TerminologyServer = new Uri(_tx.Url!);
        using var validator = TrdValidator.Create(options);

        var good = validator.Validate(SnomedValue(MajorDepressiveDisorder));
        var bad = validator.Validate(SnomedValue(NotACode));

        Assert.Empty(good.Issue);
        var issue = Assert.Single(bad.Issue);
        Assert.Equal(IssueSeverity.Error, issue.Severity);
        Assert.StartsWith($"'{NotACode}' is not in the value set (stub server)", issue.Details.Text, StringComparison.Ordinal);
        Assert.Contains(_tx.LogEntries, e => e.RequestMessage.Path == "/ValueSet/$validate-code");

        static Observation SnomedValue(string code)
        {
            var o = TerminologyTests.Instance(code);
            o.Value = new CodeableConcept(Snomed, code);
            return o;
        }
    }

    [Fact]
    public void NoServer_LargeExternalSystem_InformationNotCheckedOffline_OncePerSystem()
    {
        using var validator = TrdValidator.Create(new TrdValidatorOptions { ReportCodesNotCheckedOffline = true });

        var oo = validator.Validate(Basic((Snomed, MajorDepressiveDisorder), (Snomed, NotACode)));

        var info = Assert.Single(oo.Issue);
        Assert.Equal(IssueSeverity.Information, info.Severity);
        Assert.Equal(["Basic.code.coding[0]"], info.Expression);
        Assert.StartsWith($"Not checked offline: 2 code(s) of SNOMED CT ({Snomed})", info.Details.Text, StringComparison.Ordinal);
        Assert.Contains("--tx", info.Details.Text, StringComparison.Ordinal);
    }

    private static TrdValidator WithServer(Uri server) => TrdValidator.Create(new TrdValidatorOptions { TerminologyServer = server, TerminologyTimeout = TimeSpan.FromSeconds(30) });

    private void StubCodeSystem(string code, bool valid, string? message = null) =>
        _tx.Given(Request.Create().WithPath("/CodeSystem/$validate-code").UsingPost().WithBody(new RegexMatcher($"\"{code}\"")))
            .RespondWith(FhirJson(Result(valid, message)));

    private static Parameters Result(bool valid, string? message)
    {
        var p = new Parameters();
        p.Add("result", new FhirBoolean(valid));
        if (message is not null) p.Add("message", new FhirString(message));
        return p;
    }

    private static IResponseBuilder FhirJson(Resource body) =>
        Response.Create().WithStatusCode(200).WithHeader("Content-Type", "application/fhir+json").WithBody(new FhirJsonSerializer().SerializeToString(body));

    private static Basic Basic(params (string System, string Code)[] codings) => new()
    {
        Code = new CodeableConcept { Coding = codings.Select(c => new Coding(c.System, c.Code)).ToList() },
    };
}
