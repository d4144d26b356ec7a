using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// The OpenAPI 3.1 contract of <c>serve</c> (<c>/openapi/v1.json</c>), completed by one document transformer keyed by
/// operationId (the endpoint names): security schemes (API key header, JWT bearer) on every operation but Health, request
/// and response schemas (FHIR resources as such, OperationOutcome on every error status), every accepted media type, and the
/// protocol documents of examples/ (embedded at build) as request examples. Tested by OpenApiContractTests.
/// </summary>
public static class OpenApiContract
{
    public const string ApiKeyScheme = "ApiKey";
    public const string BearerScheme = "Bearer";
    private const string Json = "application/json";
    private const string FhirJson = "application/fhir+json";
    private const string FhirSpec = "https://hl7.org/fhir/R4/";

    private static readonly string[] JsonTypes = [Json, FhirJson];
    private static readonly string[] XmlTypes = ["application/fhir+xml", "application/xml", "text/xml"];

    /// <summary>Per operationId: the request's schema (null: no body), whether XML is accepted, and each success status's
    /// media type and schema.</summary>
    private static readonly Dictionary<string, (string? Request, bool Xml, (int Status, string Media, string Schema)[] Success)> Operations = new(StringComparer.Ordinal)
    {
        ["MapProtocol"] = ("ProtocolDocument", false, [(200, FhirJson, "Bundle")]),
        ["Validate"] = ("ValidateInput", true, [(200, FhirJson, "OperationOutcome")]),
        ["PushProtocol"] = ("ProtocolDocument", false, [(200, Json, "PushStatus"), (202, Json, "PushStatus")]),
        ["ProtocolStatus"] = (null, false, [(200, Json, "PushStatus")]),
        ["PullProtocol"] = (null, false, [(200, Json, "ProtocolDocument")]),
        ["PatientReport"] = (null, false, [(200, Json, "ClinicalReport"), (200, "text/html", "Html")]),
        ["ProbeServer"] = (null, false, [(200, Json, "ServerProbe")]),
        ["Ready"] = (null, false, [(200, Json, "ReadyChecks")]),
        ["Health"] = (null, false, [(200, "text/plain", "Text")]),
    };

    public static void Configure(OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
        options.AddDocumentTransformer((document, _, _) =>
        {
            Complete(document);
            return Task.CompletedTask;
        });
    }

    internal static void Complete(OpenApiDocument document)
    {
        document.Info.Title = "trd-fhir API";
        document.Info.Description = "Map, validate, push and pull treatment-resistant-depression protocols as FHIR R4. Authenticate with the X-Api-Key header or a JWT bearer token; errors are FHIR OperationOutcomes. A patient is addressed as one path segment system|value, percent-encoded (encodeURIComponent).";
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal)
        {
            [ApiKeyScheme] = new OpenApiSecurityScheme { Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = ApiAuth.HeaderName, Description = "An API key (Api:ApiKeys, or TRD_FHIR_API_KEY for the quick start)" },
            [BearerScheme] = new OpenApiSecurityScheme { Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "JWT", Description = "A JWT from the configured authority (Api:Jwt)" },
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        foreach (var (name, schema) in Schemas(document))
            document.Components.Schemas[name] = schema;

        foreach (var path in document.Paths.Values)
        {
            foreach (var operation in path.Operations?.Values.ToList() ?? [])
            {
                if (operation.OperationId is null || !Operations.TryGetValue(operation.OperationId, out var shape))
                    continue;
                if (operation.OperationId != "Health")
                {
                    operation.Security =
                    [
                        new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, document)] = [] },
                        new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] },
                    ];
                }
                if (shape.Request is { } request)
                    operation.RequestBody = RequestBody(document, request, shape.Xml);
                operation.Responses ??= [];
                foreach (var group in shape.Success.GroupBy(s => s.Status))
                {
                    var key = group.Key.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    var description = operation.Responses.TryGetValue(key, out var existing) ? existing.Description : null;
                    operation.Responses[key] = new OpenApiResponse
                    {
                        Description = description ?? (group.Key == 202 ? "Accepted: queued; poll the status URL in Content-Location" : "OK"),
                        Content = group.ToDictionary(s => s.Media, s => new OpenApiMediaType { Schema = Ref(document, s.Schema) }, StringComparer.Ordinal),
                        Headers = group.Key == 200 && operation.OperationId is "MapProtocol" or "PullProtocol" or "PatientReport" ? SafetySignals() : null,
                    };
                }
                foreach (var error in operation.Responses.Where(r => r.Key.StartsWith('4') || r.Key.StartsWith('5')).ToList())
                {
                    operation.Responses[error.Key] = new OpenApiResponse
                    {
                        Description = error.Value.Description ?? "Error",
                        Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal) { [FhirJson] = new() { Schema = Ref(document, "OperationOutcome") } },
                    };
                }
            }
        }
    }

    /// <summary>The <see cref="SafetySignalHeader"/> of responses that carry a protocol's PHQ-9 without an OperationOutcome.</summary>
    private static Dictionary<string, IOpenApiHeader> SafetySignals() => new(StringComparer.Ordinal)
    {
        [SafetySignalHeader.Name] = new OpenApiHeader
        {
            Description = "PHQ-9 item-9 safety signals (RFC 8941 list), present only when there is one: \"2026-03-02\";item9=1;total=19 per assessment, or \"unreadable\";where=\"…\" when an item 9 could not be read",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        },
    };

    private static OpenApiSchemaReference Ref(OpenApiDocument document, string name) => new(name, document);

    private static OpenApiRequestBody RequestBody(OpenApiDocument document, string schema, bool xml)
    {
        var content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal);
        foreach (var type in JsonTypes)
            content[type] = new OpenApiMediaType { Schema = Ref(document, schema), Examples = Examples() };
        if (xml)
        {
            foreach (var type in XmlTypes)
                content[type] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A FHIR R4 resource or Bundle in XML" } };
        }
        return new OpenApiRequestBody { Required = true, Content = content };
    }

    /// <summary>The protocol documents of examples/ (embedded by the csproj), one named example each.</summary>
    private static Dictionary<string, IOpenApiExample> Examples()
    {
        var assembly = typeof(OpenApiContract).Assembly;
        var examples = new Dictionary<string, IOpenApiExample>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("examples/", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            var id = Path.GetFileNameWithoutExtension(name["examples/".Length..]);
            examples[id] = new OpenApiExample { Summary = $"examples/{id}.json (synthetic)", Value = JsonNode.Parse(stream) };
        }
        return examples;
    }

    private static OpenApiSchema Object(string description, string? docs = null, params string[] required) => new()
    {
        Type = JsonSchemaType.Object,
        Description = description,
        Required = required.Length > 0 ? new HashSet<string>(required, StringComparer.Ordinal) : null,
        ExternalDocs = docs is null ? null : new OpenApiExternalDocs { Url = new Uri(docs) },
    };

    private static OpenApiSchema Resource(string type, string description)
    {
        var schema = Object(description, FhirSpec + type.ToLowerInvariant() + ".html", "resourceType");
        schema.Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
        {
            ["resourceType"] = new OpenApiSchema { Type = JsonSchemaType.String, Const = type },
        };
        return schema;
    }

    private static Dictionary<string, IOpenApiSchema> Schemas(OpenApiDocument document)
    {
        var outcome = Resource("OperationOutcome", "A FHIR R4 OperationOutcome: every error of this API, and the result of $validate. Each issue has severity, code, details.coding (the problem code), diagnostics (line/column and the fix) and expression (the JSON path or FHIRPath).");
        outcome.Required!.Add("issue");
        outcome.Properties!["issue"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Array,
            Items = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Required = new HashSet<string>(["severity", "code"], StringComparer.Ordinal),
                Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
                {
                    ["severity"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("fatal"), JsonValue.Create("error"), JsonValue.Create("warning"), JsonValue.Create("information")] },
                    ["code"] = new OpenApiSchema { Type = JsonSchemaType.String },
                    ["diagnostics"] = new OpenApiSchema { Type = JsonSchemaType.String },
                    ["expression"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                },
            },
        };
        var bundle = Resource("Bundle", "A FHIR R4 Bundle (here: a transaction Bundle with conditional creates, validated against the Trd.Fhir profiles).");
        bundle.Properties!["type"] = new OpenApiSchema { Type = JsonSchemaType.String };
        bundle.Properties["entry"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = Ref(document, "FhirResourceEntry") };
        var protocol = Object("A TRD protocol document (the adapter's input). Its full JSON Schema (2020-12) is docs/protocol.schema.json; format: docs/protocol-format.md.", null, "id", "patient");
        protocol.Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
        {
            ["id"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["patient"] = Object("The patient by identifier (system + value), optionally a server reference", null, "system", "value"),
            ["diagnosis"] = new OpenApiSchema { Type = JsonSchemaType.Array },
            ["priorTrials"] = new OpenApiSchema { Type = JsonSchemaType.Array },
            ["careTeam"] = new OpenApiSchema { Type = JsonSchemaType.Array },
            ["phases"] = new OpenApiSchema { Type = JsonSchemaType.Array },
            ["sessions"] = new OpenApiSchema { Type = JsonSchemaType.Array },
            ["phq9"] = new OpenApiSchema { Type = JsonSchemaType.Array },
        };
        return new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
        {
            ["OperationOutcome"] = outcome,
            ["Bundle"] = bundle,
            ["FhirResourceEntry"] = Object("A Bundle entry: fullUrl, resource (any FHIR R4 resource), request", FhirSpec + "bundle.html"),
            ["FhirResource"] = Resource("Resource", "Any FHIR R4 resource or Bundle (resourceType names its type)"),
            ["ProtocolDocument"] = protocol,
            ["ValidateInput"] = new OpenApiSchema { OneOf = [Ref(document, "ProtocolDocument"), Ref(document, "FhirResource")], Description = "A protocol document (JSON without resourceType), or a FHIR resource or Bundle" },
            ["PushStatus"] = Object("Where a push stands: protocolId, state (queued, claimed, confirmed, failed, dead), attempts, lastError, resources per state, and the per-resource report when it was sent now", null, "protocolId", "state"),
            ["ClinicalReport"] = Object("The clinical read-out: PHQ-9 course, response/remission, adherence, phase-gate hints, staging, validation findings (docs/clinical.md)"),
            ["ServerProbe"] = Object("What the FHIR server can store and read, and the push strategy it gets (docs/servers.md)"),
            ["ReadyChecks"] = Object("Readiness checks: validator, ledger, FHIR server"),
            ["Html"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A self-contained HTML page" },
            ["Text"] = new OpenApiSchema { Type = JsonSchemaType.String },
        };
    }
}
