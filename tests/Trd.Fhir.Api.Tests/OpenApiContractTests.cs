using System.Net;
using System.Text.RegularExpressions;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using Trd.Fhir.Adapter.Api;
using Trd.Fhir.Api.Tests.Infrastructure;

namespace Trd.Fhir.Api.Tests;

/// <summary>
/// The OpenAPI contract (/openapi/v1.json) read back with Microsoft.OpenAPI.NET's reader and its default validation rule set
/// (the 2.x line ASP.NET Core 10's generator is built on, in this process; every diagnostic counts), then checked: 3.1,
/// security schemes applied per operation (not /health), schemas with OperationOutcome on every error status, every
/// accepted media type, the examples of examples/, and every status docs/api.md documents present on its operation.
/// </summary>
public sealed partial class OpenApiContractTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private async Task<(string Json, ReadResult Read)> DocumentAsync()
    {
        using var response = await api.Client(key: null).GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadAsStringAsync();
        return (json, OpenApiDocument.Parse(json, "json"));
    }

    private static IEnumerable<(string Path, HttpMethod Method, OpenApiOperation Operation)> Operations(OpenApiDocument document) =>
        document.Paths.SelectMany(p => (p.Value.Operations ?? []).Select(o => (p.Key, o.Key, o.Value)));

    [Fact]
    public async Task Document_ReadAndValidated_NoErrorsNoWarningsVersion31()
    {
        var (json, read) = await DocumentAsync();

        Assert.StartsWith("{\n  \"openapi\": \"3.1", json.Replace("\r", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(OpenApiSpecVersion.OpenApi3_1, read.Diagnostic!.SpecificationVersion);
        Assert.True(read.Diagnostic.Errors.Count == 0, string.Join("\n", read.Diagnostic.Errors.Select(e => $"{e.Pointer}: {e.Message}")));
        Assert.True(read.Diagnostic.Warnings.Count == 0, string.Join("\n", read.Diagnostic.Warnings.Select(e => $"{e.Pointer}: {e.Message}")));
        var errors = read.Document!.Validate(ValidationRuleSet.GetDefaultRuleSet())?.ToList() ?? [];
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Pointer}: {e.Message}")));
    }

    [Fact]
    public async Task Validator_CopyWithoutInfo_IsCaught()
    {
        // The negative control: the reader and rule set above do report a broken document.
        var broken = System.Text.Json.Nodes.JsonNode.Parse((await DocumentAsync()).Json)!.AsObject();
        broken.Remove("info");

        var read = OpenApiDocument.Parse(broken.ToJsonString(), "json");

        Assert.True(read.Diagnostic!.Errors.Count + (read.Document?.Validate(ValidationRuleSet.GetDefaultRuleSet())?.Count() ?? 0) > 0);
    }

    [Fact]
    public async Task Security_ApiKeyAndBearerSchemes_OnEveryOperationButHealth()
    {
        var document = (await DocumentAsync()).Read.Document!;

        var key = Assert.IsType<OpenApiSecurityScheme>(document.Components!.SecuritySchemes![OpenApiContract.ApiKeyScheme]);
        Assert.Equal((SecuritySchemeType.ApiKey, ParameterLocation.Header, "X-Api-Key"), (key.Type!.Value, key.In!.Value, key.Name));
        var bearer = Assert.IsType<OpenApiSecurityScheme>(document.Components.SecuritySchemes[OpenApiContract.BearerScheme]);
        Assert.Equal((SecuritySchemeType.Http, "bearer", "JWT"), (bearer.Type!.Value, bearer.Scheme, bearer.BearerFormat));
        var operations = Operations(document).ToList();
        Assert.Equal(9, operations.Count);
        foreach (var (path, method, operation) in operations)
        {
            var schemes = (operation.Security ?? []).SelectMany(r => r.Keys.Select(k => k.Reference.Id)).ToList();
            if (path == "/health")
                Assert.Empty(schemes);
            else
                Assert.True(schemes.Order().SequenceEqual([OpenApiContract.ApiKeyScheme, OpenApiContract.BearerScheme]), $"{method} {path}: {string.Join(",", schemes)}");
        }
    }

    [Fact]
    public async Task Responses_EveryErrorStatusIsAnOperationOutcomeAndEverySuccessHasASchema()
    {
        var document = (await DocumentAsync()).Read.Document!;

        foreach (var (path, method, operation) in Operations(document))
        {
            foreach (var (status, response) in operation.Responses!)
            {
                var content = response.Content;
                Assert.True(content is { Count: > 0 }, $"{method} {path} {status}: no content");
                foreach (var (media, type) in content!)
                    Assert.True(type.Schema is not null, $"{method} {path} {status} {media}: no schema");
                if (status[0] is '4' or '5')
                    Assert.Equal("OperationOutcome", Assert.IsType<OpenApiSchemaReference>(Assert.Single(content).Value.Schema).Reference.Id);
            }
        }
        var map = Operations(document).Single(o => o.Operation.OperationId == "MapProtocol").Operation;
        Assert.Equal("Bundle", Assert.IsType<OpenApiSchemaReference>(map.Responses!["200"].Content!["application/fhir+json"].Schema).Reference.Id);
        var bundle = Assert.IsType<OpenApiSchema>(document.Components!.Schemas!["Bundle"]);
        Assert.Equal("https://hl7.org/fhir/R4/bundle.html", bundle.ExternalDocs!.Url!.ToString());
        var report = Operations(document).Single(o => o.Operation.OperationId == "PatientReport").Operation;
        Assert.Equal(["application/json", "text/html"], report.Responses!["200"].Content!.Keys.Order());
    }

    [Fact]
    public async Task Requests_EveryAcceptedMediaTypeAndTheExamples()
    {
        var document = (await DocumentAsync()).Read.Document!;
        IOpenApiRequestBody Body(string id) => Operations(document).Single(o => o.Operation.OperationId == id).Operation.RequestBody!;

        Assert.Equal(["application/fhir+json", "application/json"], Body("MapProtocol").Content!.Keys.Order());
        Assert.Equal(["application/fhir+json", "application/json"], Body("PushProtocol").Content!.Keys.Order());
        Assert.Equal(["application/fhir+json", "application/fhir+xml", "application/json", "application/xml", "text/xml"], Body("Validate").Content!.Keys.Order());
        var examples = Directory.GetFiles(Path.Combine(TestData.Root, "examples"), "*.json").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        Assert.NotEmpty(examples);
        var given = Body("MapProtocol").Content!["application/fhir+json"].Examples!;
        Assert.Equal(examples, given.Keys.Order());
        var first = examples[0]!;
        Assert.Equal(System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TestData.Root, "examples", first + ".json")))!.ToJsonString(), given[first].Value!.ToJsonString());
    }

    [GeneratedRegex("^\\| `(?<method>GET|POST) (?<path>[^`]+)` \\|[^|]*(?:\\\\\\|[^|]*)*\\|(?<success>[^|]*)\\|(?<errors>[^|]*)\\|$", RegexOptions.Multiline)]
    private static partial Regex EndpointRow();

    [Fact]
    public async Task Statuses_EveryStatusDocsApiMdDocuments_AppearsOnItsOperation()
    {
        var document = (await DocumentAsync()).Read.Document!;
        var docs = File.ReadAllText(Path.Combine(TestData.Root, "docs", "api.md"));
        var rows = EndpointRow().Matches(docs).ToList();
        Assert.True(rows.Count >= 9, $"only {rows.Count} endpoint rows found in docs/api.md");

        var checkedOperations = 0;
        foreach (var row in rows)
        {
            var path = row.Groups["path"].Value.Replace("{system}\\|{value}", "{patient}", StringComparison.Ordinal);
            var statuses = Regex.Matches(row.Groups["success"].Value + " " + row.Groups["errors"].Value, "\\b[1-5][0-9]{2}\\b").Select(m => m.Value).Distinct().ToList();
            if (statuses.Count == 0 || !document.Paths.TryGetValue(path, out var item))
                continue;
            var operation = item.Operations![HttpMethod.Parse(row.Groups["method"].Value)];
            foreach (var status in statuses)
                Assert.True(operation.Responses!.ContainsKey(status), $"docs/api.md documents {status} for {row.Groups["method"].Value} {path}; the OpenAPI document does not");
            checkedOperations++;
        }
        Assert.Equal(9, checkedOperations);
    }

    [Fact]
    public async Task ReferencePage_SendsTheApiKey()
    {
        using var response = await api.Client(key: null).GetAsync("/scalar/v1");
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches("\"preferredSecuritySchemes?\":\\s*\\[?\"ApiKey\"", page);
        Assert.DoesNotContain("fonts.scalar.com", page, StringComparison.Ordinal);
    }
}
