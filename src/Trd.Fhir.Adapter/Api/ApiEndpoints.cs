using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;
using Hl7.Fhir.Rest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.Report;
using Trd.Fhir.Adapter.Sync;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// The minimal-API endpoints of <c>trd-fhir serve</c>: thin surfaces over the use cases (<c>UseCases/</c>).
/// Bodies are read by <see cref="ApiBody"/> (size limit, media type); every error is an OperationOutcome.
/// </summary>
public static class ApiEndpoints
{
    private const string Json = "application/json";
    private const string Html = "text/html";

    public static IEndpointRouteBuilder MapTrdFhirApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/protocols/$map", MapAsync)
            .WithName("MapProtocol").WithSummary("Protocol document → FHIR R4 transaction Bundle, validated against the profiles")
            .Accepts<object>(Json).Produces(200, contentType: ApiOutcome.FhirJson).ProducesProblemOutcomes(400, 413, 415, 422);
        endpoints.MapPost("/$validate", ValidateAsync)
            .WithName("Validate").WithSummary("Validate a protocol document, a FHIR resource or a Bundle (JSON or XML) → OperationOutcome (200 valid, 422 invalid)")
            .Accepts<object>(Json, ApiOutcome.FhirJson, "application/fhir+xml", "application/xml").Produces(200, contentType: ApiOutcome.FhirJson).ProducesProblemOutcomes(400, 413, 415, 422);
        endpoints.MapGet("/patients/{patient}/protocol", PullAsync)
            .WithName("PullProtocol").WithSummary("Pull a patient's TRD data from the FHIR server and rebuild the protocol document. {patient} is system|value as ONE percent-encoded path segment, e.g. https%3A%2F%2Fhospital.example.org%2Fmrn%7C12345")
            .Produces(200, contentType: Json).ProducesProblemOutcomes(400, 404, 422, 502);
        endpoints.MapGet("/patients/{patient}/report", ReportAsync)
            .WithName("PatientReport").WithSummary("The clinical read-out of a patient's protocol, pulled from the FHIR server: HTML (Accept: text/html) or JSON. Query: asOf=YYYY-MM-DD, baseline=first|phase-1|phase-2|phase-3")
            .Produces(200, contentType: Json).Produces(200, contentType: Html).ProducesProblemOutcomes(400, 404, 422, 502);
        endpoints.MapGet("/servers/probe", ProbeAsync)
            .WithName("ProbeServer").WithSummary("What the configured FHIR server can store and read, and the push strategy it gets (from /metadata)")
            .Produces(200, contentType: Json).ProducesProblemOutcomes(502);
        endpoints.MapGet("/health", () => Results.Text("ok\n", "text/plain"))
            .AllowAnonymous().WithName("Health").WithSummary("Liveness: the process answers (no authentication)");
        endpoints.MapGet("/ready", ReadyAsync)
            .WithName("Ready").WithSummary("Readiness: the validator is warm, the ledger answers, the FHIR server's /metadata answers (authenticated)")
            .Produces(200, contentType: Json).ProducesProblemOutcomes(503);
        return endpoints;
    }

    private static RouteHandlerBuilder ProducesProblemOutcomes(this RouteHandlerBuilder builder, params int[] statuses)
    {
        builder.Produces(401, contentType: ApiOutcome.FhirJson).Produces(429, contentType: ApiOutcome.FhirJson);
        foreach (var status in statuses)
            builder.Produces(status, contentType: ApiOutcome.FhirJson);
        return builder;
    }

    // ---------------- protocol documents ----------------

    /// <summary>A protocol document from the body: 400 for malformed JSON (line/column in diagnostics), 422 for any other
    /// error (every problem, each with its JSON path as the issue expression).</summary>
    internal static async Task<(TrdProtocol? Protocol, IResult? Error)> ReadProtocolAsync(HttpContext context, ApiSettings settings)
    {
        var body = await ApiBody.ReadAsync(context, settings.MaxBodyBytes, allowXml: false);
        if (body.Error is not null)
            return (null, body.Error);
        var read = ProtocolReader.Read(body.Bytes);
        if (read.Protocol is not null)
            return (read.Protocol, null);
        var status = read.Problems.Any(p => p.Code == ProblemCode.InvalidJson) ? StatusCodes.Status400BadRequest : StatusCodes.Status422UnprocessableEntity;
        return (null, ApiOutcome.Fhir(ApiOutcome.From(read.Problems), status));
    }

    private static async Task<IResult> MapAsync(HttpContext context, ApiSettings settings, MapProtocol map)
    {
        var (protocol, error) = await ReadProtocolAsync(context, settings);
        if (protocol is null)
            return error!;
        var mapped = map.Map(protocol, cancellationToken: context.RequestAborted);
        SafetySignalHeader.Add(context.Response, protocol);
        return mapped.Invalid ? ApiOutcome.Fhir(mapped.Validation!, StatusCodes.Status422UnprocessableEntity) : ApiOutcome.Fhir(mapped.Bundle!);
    }

    private static async Task<IResult> ValidateAsync(HttpContext context, ApiSettings settings, MapProtocol map, ValidateFhir validate)
    {
        var body = await ApiBody.ReadAsync(context, settings.MaxBodyBytes, allowXml: true);
        if (body.Error is not null)
            return body.Error;
        var bytes = body.Bytes!;
        OperationOutcome outcome;
        if (body.Format == BodyFormat.Json && FhirJson.ResourceType(bytes) is null)
        {
            // No resourceType: a protocol document. Its problems, then (when it reads) the validation of its mapped Bundle.
            var mapped = map.Map(bytes, cancellationToken: context.RequestAborted);
            if (mapped.Problems.Any(p => p.Code == ProblemCode.InvalidJson))
                return ApiOutcome.Fhir(ApiOutcome.From(mapped.Problems), StatusCodes.Status400BadRequest);
            outcome = ApiOutcome.From(mapped.Problems);
            if (mapped.Validation is not null)
                outcome.Issue.AddRange(mapped.Validation.Issue);
        }
        else
        {
            var parsed = TrdFhirParser.Parse(bytes, xml: body.Format == BodyFormat.Xml);
            if (parsed.Resource is null)
            {
                var syntax = parsed.Outcome.Issue.Any(i => i.Details?.Coding.FirstOrDefault()?.Code is "json-syntax" or "xml-syntax");
                return ApiOutcome.Fhir(parsed.Outcome, syntax ? StatusCodes.Status400BadRequest : StatusCodes.Status422UnprocessableEntity);
            }
            outcome = new OperationOutcome();
            outcome.Issue.AddRange(parsed.Outcome.Issue);
            var validated = validate.Validate(parsed.Resource, context.RequestAborted);
            outcome.Issue.AddRange(validated.Issue);
            outcome.Extension.AddRange(validated.Extension); // codings not checked offline, per system (CodesNotCheckedOffline)
        }
        if (outcome.Issue.Count == 0)
            outcome.Issue.Add(new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Information, Code = OperationOutcome.IssueType.Informational, Details = new CodeableConcept { Text = "valid: no issues" } });
        return ApiOutcome.Fhir(outcome, ApiOutcome.HasErrors(outcome) ? StatusCodes.Status422UnprocessableEntity : StatusCodes.Status200OK);
    }

    // ---------------- pull and report ----------------

    /// <summary>The <c>{patient}</c> route value: <c>system|value</c>, percent-decoded once more because servers keep
    /// <c>%2F</c> encoded inside a path segment.</summary>
    internal static bool TryPatient(string? segment, out PatientKey patient)
    {
        patient = default;
        return segment is not null && PatientKey.TryParse(Uri.UnescapeDataString(segment), out patient);
    }

    private static IResult BadPatient() => ApiOutcome.Error(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid,
        "the patient must be system|value as one percent-encoded path segment (fix: e.g. /patients/https%3A%2F%2Fhospital.example.org%2Fmrn%7C12345/protocol)", "patient");

    private static async Task<(TrdProtocol? Protocol, IResult? Error)> PullProtocolAsync(HttpContext context, string patient, PullProtocol pull, CancellationToken cancellationToken)
    {
        if (!TryPatient(patient, out var who))
            return (null, BadPatient());
        var pulled = await pull.PullAsync(who, null, cancellationToken);
        SafetySignalHeader.Add(context.Response, pulled.SafetySignals, pulled.Problems);
        if (pulled.Protocol is { } protocol)
            return (protocol, null);
        return (null, ApiOutcome.Fhir(ApiOutcome.From(pulled.Problems), pulled.PatientNotFound ? StatusCodes.Status404NotFound : StatusCodes.Status422UnprocessableEntity));
    }

    private static async Task<IResult> PullAsync(HttpContext context, string patient, PullProtocol pull, CancellationToken cancellationToken)
    {
        var (protocol, error) = await PullProtocolAsync(context, patient, pull, cancellationToken);
        return protocol is null ? error! : Results.Text(ProtocolWriter.Write(protocol), Json, Encoding.UTF8);
    }

    private static async Task<IResult> ReportAsync(HttpContext context, string patient, string? asOf, string? baseline, PullProtocol pull, BuildReport build, CancellationToken cancellationToken)
    {
        switch (BuildReport.TryOptions(asOf, baseline, out var options))
        {
            case ReportOptionError.AsOf:
                return ApiOutcome.Error(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid, $"asOf '{asOf}' is not a date (fix: YYYY-MM-DD)", "asOf");
            case ReportOptionError.Baseline:
                return ApiOutcome.Error(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid, $"baseline '{baseline}' is not one of {string.Join(", ", BuildReport.Baselines)}", "baseline");
        }
        var (protocol, error) = await PullProtocolAsync(context, patient, pull, cancellationToken);
        if (protocol is null)
            return error!;
        var report = build.Build(protocol, options);
        var html = context.Request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals(Html, StringComparison.OrdinalIgnoreCase));
        return html ? Results.Text(ReportHtml.Render(report), Html, Encoding.UTF8) : Results.Text(report.ToJson(), Json, Encoding.UTF8);
    }

    // ---------------- server ----------------

    private static async Task<IResult> ProbeAsync(ProbeServer probe, CancellationToken cancellationToken) =>
        Results.Json((await probe.ProbeAsync(live: false, cancellationToken)).Describe());

    private static async Task<IResult> ReadyAsync(FhirServerConnection connection, ValidatorPool validator, LedgerSync sync, CancellationToken cancellationToken)
    {
        var checks = new List<(string Check, bool Ok, string Detail)> { ("validator", validator.Warm, validator.Warm ? "warm" : "warming up") };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await sync.Ledger.InitializeAsync(timeout.Token);
            var ok = await sync.Ledger.IsReadyAsync(timeout.Token);
            checks.Add(("ledger", ok, ok ? sync.Ledger.Location : $"{sync.Ledger.Location} does not answer"));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            checks.Add(("ledger", false, $"{sync.Ledger.Location}: {e.GetType().Name}: {e.Message}"));
        }
        try
        {
            var statement = await connection.NewClient().CapabilityStatementAsync(SummaryType.True, timeout.Token);
            checks.Add(("fhir-server", statement is not null, statement is null ? "no CapabilityStatement" : $"{connection.BaseUrl} answers /metadata"));
        }
        catch (Exception e) when (e is HttpRequestException or FhirTransportException or FhirOperationException or OperationCanceledException)
        {
            checks.Add(("fhir-server", false, $"{connection.BaseUrl}: {e.Message}"));
        }
        if (checks.All(c => c.Ok))
            return Results.Json(new { status = "ready", checks = checks.Select(c => new { check = c.Check, ok = c.Ok, detail = c.Detail }) });
        var outcome = new OperationOutcome();
        foreach (var (check, _, detail) in checks.Where(c => !c.Ok))
            outcome.Issue.Add(new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Error, Code = OperationOutcome.IssueType.Transient, Details = new CodeableConcept { Text = $"{check}: {detail}" } });
        return ApiOutcome.Fhir(outcome, StatusCodes.Status503ServiceUnavailable);
    }
}
