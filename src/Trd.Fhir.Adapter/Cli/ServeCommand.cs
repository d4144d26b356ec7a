using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Trd.Fhir.Adapter.Api;
using Trd.Fhir.Adapter.Mapping;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>trd-fhir serve</c>: runs the HTTP API (<see cref="ApiHost"/>) on Kestrel until Ctrl+C. Settings come from the section
/// <c>Api</c> of ./appsettings.json and the environment (<c>Api__…</c>), then these options; the quick-start API key from
/// <c>TRD_FHIR_API_KEY</c> (hashed at once, client name "default").
/// </summary>
internal static class ServeCommand
{
    public const string ApiKeyVariable = "TRD_FHIR_API_KEY";

    public static Command Create(CliConsole console)
    {
        var server = new ServerOptions();
        var urls = new Option<string>("--urls") { Description = "Where to listen, e.g. http://127.0.0.1:8080 (several separated by ';')", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var ledger = new Option<string>("--ledger") { Description = "The sync ledger: a SQLite file, or a PostgreSQL connection spec", DefaultValueFactory = _ => "trd-fhir-ledger.db" };
        var maxBody = new Option<long?>("--max-body-size") { Description = "Largest request body in bytes (413 above); default 4194304" };
        var permits = new Option<int?>("--rate-limit") { Description = "Requests per client per window (429 above); default 120" };
        var window = new Option<int?>("--rate-window-seconds") { Description = "The rate-limit window in seconds; default 60" };
        var logFormat = new Option<string>("--log-format") { Description = "text | json (compact JSON, CLEF)", DefaultValueFactory = _ => "text" };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var identifierBase = new Option<string?>("--identifier-base") { Description = "Base URL of the business identifier systems" };
        var command = new Command("serve", "Run the HTTP API (map, validate, push through the ledger, pull, report, probe, health/ready) with API-key or JWT authentication")
        {
            urls, ledger, maxBody, permits, window, logFormat, identifierBase,
        };
        server.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!SyncCommands.Ready(server, parse, console, out var fhir))
                return ExitCodes.UsageOrInput;
            var settings = new ApiSettings();
            new ConfigurationBuilder()
                .AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true)
                .AddEnvironmentVariables()
                .Build().GetSection(ApiSettings.SectionName).Bind(settings);
            fhir.Resilience = settings.Server.Resilience;
            settings.Server = fhir;
            settings.Ledger = parse.GetValue(ledger)!;
            settings.JsonLogs = parse.GetValue(logFormat) == "json" || parse.GetValue(server.JsonLogs);
            settings.LogWriter = console.StdErr;
            if (parse.GetValue(maxBody) is { } bytes) settings.MaxBodyBytes = bytes;
            if (parse.GetValue(permits) is { } limit) settings.RateLimitPermits = limit;
            if (parse.GetValue(window) is { } seconds) settings.RateLimitWindow = TimeSpan.FromSeconds(seconds);
            settings.IdentifierBase = parse.GetValue(identifierBase) ?? settings.IdentifierBase ?? Identity.DefaultBase;
            if (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key)
                settings.ApiKeys.Add(ApiKeyClient.FromKey("default", key));
            if (settings.Validate() is { Count: > 0 } errors)
            {
                foreach (var error in errors)
                    console.Error($"serve: {error}");
                return ExitCodes.UsageOrInput;
            }
            using var host = ApiHost.CreateHostBuilder(settings, parse.GetValue(urls)!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Build();
            await host.RunAsync(cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }
}
