using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Trd.Fhir.Adapter.Api;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>trd-fhir serve</c>: runs the HTTP API (<see cref="ApiHost"/>) on Kestrel until Ctrl+C. Every setting comes from
/// <see cref="ServeConfiguration"/>: ./appsettings.json (or --config), the environment (<c>Api__…</c>), then this command
/// line (named options and <c>--set Api:Key=value</c>); validated before anything starts (exit 2 with every problem).
/// The quick-start API key comes from <c>TRD_FHIR_API_KEY</c> (hashed at once, client name "default").
/// </summary>
internal static class ServeCommand
{
    public const string ApiKeyVariable = "TRD_FHIR_API_KEY";

    private static readonly (string Variable, string Key)[] Secrets = [("TRD_FHIR_PASSWORD", "Server:Auth:Password"), ("TRD_FHIR_TOKEN", "Server:Auth:Token")];

    public static Command Create(CliConsole console)
    {
        var config = new Option<string?>("--config") { Description = $"JSON settings file (section Api); default ./{ServeConfiguration.DefaultFile} when it exists" };
        var set = new Option<string[]>("--set") { Description = "Any setting as Api:Key=value, e.g. --set Api:Sync:MaxAttempts=8 (repeatable; wins over file and environment)", AllowMultipleArgumentsPerToken = false };
        var urls = new Option<string?>("--urls") { Description = "Where to listen, e.g. http://127.0.0.1:8080 (several separated by ';'); Api:Urls" };
        var server = new Option<string?>("--server") { Description = "FHIR base URL; Api:Server:BaseUrl" };
        var auth = new Option<string?>("--auth") { Description = "none | basic | bearer | smart-backend; Api:Server:Auth:Kind" };
        auth.AcceptOnlyFromAmong("none", "basic", "bearer", "smart-backend");
        var username = new Option<string?>("--username") { Description = "basic: user name; Api:Server:Auth:Username" };
        var password = new Option<string?>("--password") { Description = "basic: password (or TRD_FHIR_PASSWORD); Api:Server:Auth:Password" };
        var token = new Option<string?>("--token") { Description = "bearer: access token (or TRD_FHIR_TOKEN); Api:Server:Auth:Token" };
        var clientId = new Option<string?>("--client-id") { Description = "smart-backend: client id; Api:Server:Auth:ClientId" };
        var privateKey = new Option<string?>("--private-key") { Description = "smart-backend: PEM private key file; Api:Server:Auth:PrivateKeyPath" };
        var keyId = new Option<string?>("--key-id") { Description = "smart-backend: key id (kid); Api:Server:Auth:KeyId" };
        var alg = new Option<string?>("--alg") { Description = "smart-backend: RS384 or ES384; Api:Server:Auth:Algorithm" };
        var scope = new Option<string?>("--scope") { Description = "smart-backend: scopes; Api:Server:Auth:Scope" };
        var tokenEndpoint = new Option<string?>("--token-endpoint") { Description = "smart-backend: token endpoint; Api:Server:Auth:TokenEndpoint" };
        var ledger = new Option<string?>("--ledger") { Description = "The sync ledger: a SQLite file or a PostgreSQL spec; Api:Ledger (default trd-fhir-ledger.db)" };
        var maxBody = new Option<long?>("--max-body-size") { Description = "Largest request body in bytes (413 above); Api:MaxBodyBytes (default 4194304)" };
        var permits = new Option<int?>("--rate-limit") { Description = "Requests per client per window (429 above); Api:RateLimitPermits (default 120)" };
        var window = new Option<int?>("--rate-window-seconds") { Description = "The rate-limit window in seconds; Api:RateLimitWindow (default 60)" };
        var logFormat = new Option<string?>("--log-format") { Description = "text | json (compact JSON, CLEF); Api:JsonLogs" };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var logJson = new Option<bool>("--log-json") { Description = "Same as --log-format json" };
        var identifierBase = new Option<string?>("--identifier-base") { Description = "Base URL of the business identifier systems; Api:IdentifierBase" };
        var command = new Command("serve", "Run the HTTP API (map, validate, push through the ledger, pull, report, probe, health/ready, metrics) with API-key or JWT authentication; settings from appsettings.json, Api__… environment variables and these options (docs/api.md)")
        {
            config, set, urls, server, auth, username, password, token, clientId, privateKey, keyId, alg, scope, tokenEndpoint,
            ledger, maxBody, permits, window, logFormat, logJson, identifierBase,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var given = new List<KeyValuePair<string, string?>>();
            void Map(Option option, string settingKey, Func<object?, string?>? format = null)
            {
                if (parse.GetResult(option) is { Implicit: false } result && result.Tokens.Count > 0)
                    given.Add(new($"{ApiSettings.SectionName}:{settingKey}", format is null ? result.Tokens[^1].Value : format(result.Tokens[^1].Value)));
            }
            Map(urls, "Urls");
            Map(server, "Server:BaseUrl", v => ((string)v!).TrimEnd('/'));
            Map(auth, "Server:Auth:Kind", v => (string)v! switch { "smart-backend" => nameof(AuthKind.SmartBackend), var k => k });
            Map(username, "Server:Auth:Username");
            Map(password, "Server:Auth:Password");
            Map(token, "Server:Auth:Token");
            Map(clientId, "Server:Auth:ClientId");
            Map(privateKey, "Server:Auth:PrivateKeyPath");
            Map(keyId, "Server:Auth:KeyId");
            Map(alg, "Server:Auth:Algorithm");
            Map(scope, "Server:Auth:Scope");
            Map(tokenEndpoint, "Server:Auth:TokenEndpoint");
            Map(ledger, "Ledger");
            Map(maxBody, "MaxBodyBytes");
            Map(permits, "RateLimitPermits");
            Map(window, "RateLimitWindow", v => int.TryParse((string?)v, System.Globalization.CultureInfo.InvariantCulture, out var s) ? TimeSpan.FromSeconds(s).ToString("c", System.Globalization.CultureInfo.InvariantCulture) : (string?)v);
            Map(logFormat, "JsonLogs", v => ((string?)v == "json").ToString());
            if (parse.GetValue(logJson))
                given.Add(new($"{ApiSettings.SectionName}:JsonLogs", "True"));
            Map(identifierBase, "IdentifierBase");
            // Secrets from the environment (kept out of shell history) when neither option nor configuration gives them.
            foreach (var (variable, key) in Secrets)
            {
                if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } secret && !given.Any(g => g.Key == $"{ApiSettings.SectionName}:{key}"))
                    given.Insert(0, new($"{ApiSettings.SectionName}:{key}", secret));
            }
            foreach (var pair in parse.GetValue(set) ?? [])
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0 || !pair.StartsWith(ApiSettings.SectionName + ":", StringComparison.OrdinalIgnoreCase))
                {
                    console.Error($"serve: --set '{pair}' is not Api:Key=value (fix: e.g. --set Api:Sync:MaxAttempts=8; keys in docs/api.md)");
                    return ExitCodes.UsageOrInput;
                }
                given.Add(new(pair[..equals], pair[(equals + 1)..]));
            }

            var file = parse.GetValue(config);
            if (file is not null && !File.Exists(file))
            {
                console.Error($"serve: --config {file}: no such file (fix: check the path)");
                return ExitCodes.UsageOrInput;
            }
            var configuration = ServeConfiguration.Build(file ?? Path.Combine(Directory.GetCurrentDirectory(), ServeConfiguration.DefaultFile), file is not null, given);
            var (settings, errors) = ServeConfiguration.Bind(configuration, s =>
            {
                if (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } apiKey)
                    s.ApiKeys.Add(ApiKeyClient.FromKey("default", apiKey));
            });
            settings.LogWriter = console.StdErr;
            if (errors.Count > 0)
            {
                foreach (var error in errors)
                    console.Error($"serve: {error}");
                return ExitCodes.UsageOrInput;
            }
            using var host = ApiHost.CreateHostBuilder(settings, settings.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Build();
            await host.RunAsync(cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }
}
