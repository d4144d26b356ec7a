using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Trd.Fhir.Adapter.Composition;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.Transport.ServerProfiles;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>The options every verb that talks to a FHIR server shares (--server, --auth …), and the composition of the
/// services they need (through the composition root). Secrets can come from the environment so they stay out of shell history.</summary>
internal sealed class ServerOptions
{
    public Option<string> Server { get; } = new("--server") { Description = "FHIR base URL, e.g. https://fhir.example.org/r4", Required = true };
    public Option<AuthKind> Auth { get; } = new("--auth") { Description = "none | basic | bearer | smart-backend", HelpName = "none|basic|bearer|smart-backend", DefaultValueFactory = _ => AuthKind.None, CustomParser = ParseAuth };
    public Option<string?> Username { get; } = new("--username") { Description = "basic: user name" };
    public Option<string?> Password { get; } = new("--password") { Description = "basic: password (or environment variable TRD_FHIR_PASSWORD)" };
    public Option<string?> Token { get; } = new("--token") { Description = "bearer: access token (or environment variable TRD_FHIR_TOKEN)" };
    public Option<string?> ClientId { get; } = new("--client-id") { Description = "smart-backend: registered client id" };
    public Option<string?> PrivateKey { get; } = new("--private-key") { Description = "smart-backend: PEM private key file (RSA for RS384, EC P-384 for ES384)" };
    public Option<string?> KeyId { get; } = new("--key-id") { Description = "smart-backend: key id (kid) in the registered JWKS" };
    public Option<string> Algorithm { get; } = new("--alg") { Description = "smart-backend: RS384 or ES384", DefaultValueFactory = _ => "RS384" };
    public Option<string?> Scope { get; } = new("--scope") { Description = "smart-backend: scopes to request (default: the server profile's scopes, else system/*.read system/*.write)" };
    public Option<string?> JwksUrl { get; } = new("--jwks-url") { Description = "smart-backend: the JWK Set URL registered for the client (sent as jku with --key-id as kid); required for ES384" };
    public Option<string?> EpicClientId { get; } = new("--epic-client-id") { Description = "Send this Epic-Client-ID header (usually the client id) on every request to the server" };
    public Option<string?> TokenEndpoint { get; } = new("--token-endpoint") { Description = "smart-backend: token endpoint (default: from .well-known/smart-configuration)" };
    public Option<TimeSpan> MaxWait { get; } = new("--max-wait") { Description = "Longest total wait for a throttling (429 Retry-After) or failing (open circuit breaker) server before giving up on what is left: seconds, or 90s, 10m, 1h (default 10m; 0 never waits)", DefaultValueFactory = _ => new ResilienceSettings().MaxWait, CustomParser = ParseWait };
    public Option<bool> JsonLogs { get; } = new("--log-json") { Description = "Logs on stderr as compact JSON (CLEF) instead of text" };
    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "More log detail (never patient data)" };

    public Option<string?> ServerProfile { get; } = new("--server-profile") { Description = "generic | hapi | epic | medplum | a profile file (.json); default: detected from the server's CapabilityStatement (docs/servers.md)" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Server, ServerProfile, Auth, Username, Password, Token, ClientId, PrivateKey, KeyId, Algorithm, Scope, JwksUrl, EpicClientId, TokenEndpoint, MaxWait, JsonLogs, Verbose })
            command.Options.Add(option);
    }

    private static AuthKind ParseAuth(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count == 0 ? "none" : result.Tokens[0].Value;
        switch (text)
        {
            case "none": return AuthKind.None;
            case "basic": return AuthKind.Basic;
            case "bearer": return AuthKind.Bearer;
            case "smart-backend": return AuthKind.SmartBackend;
            default:
                result.AddError($"--auth '{text}' is not one of: none, basic, bearer, smart-backend");
                return AuthKind.None;
        }
    }

    /// <summary><c>--max-wait</c>: plain seconds, a number with s/m/h, or hh:mm:ss; 0 to 24 h.</summary>
    internal static TimeSpan ParseWait(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count == 0 ? "" : result.Tokens[0].Value.Trim();
        var unit = text.Length > 0 ? char.ToLowerInvariant(text[^1]) : ' ';
        var number = unit is 's' or 'm' or 'h' ? text[..^1] : text;
        TimeSpan? wait = double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? unit switch { 'm' => TimeSpan.FromMinutes(value), 'h' => TimeSpan.FromHours(value), _ => TimeSpan.FromSeconds(value) }
            : TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var span) ? span : null;
        if (wait is not { } ok || ok < TimeSpan.Zero || ok > TimeSpan.FromHours(24))
        {
            result.AddError($"--max-wait '{text}' is not a wait of 0 to 24 hours (e.g. --max-wait 90s, 10m, 1h, or 600 for seconds)");
            return TimeSpan.Zero;
        }
        return ok;
    }

    public FhirServerOptions Read(ParseResult parse) => new()
    {
        BaseUrl = AbsoluteUrl(parse.GetValue(Server)),
        Resilience = new ResilienceSettings { MaxWait = parse.GetValue(MaxWait) },
        Auth = new AuthOptions
        {
            Kind = parse.GetValue(Auth),
            Username = parse.GetValue(Username),
            Password = parse.GetValue(Password) ?? Environment.GetEnvironmentVariable("TRD_FHIR_PASSWORD"),
            Token = parse.GetValue(Token) ?? Environment.GetEnvironmentVariable("TRD_FHIR_TOKEN"),
            ClientId = parse.GetValue(ClientId),
            PrivateKeyPath = parse.GetValue(PrivateKey),
            KeyId = parse.GetValue(KeyId),
            Algorithm = parse.GetValue(Algorithm)!,
            Scope = parse.GetValue(Scope),
            JwksUrl = AbsoluteUrl(parse.GetValue(JwksUrl)),
            EpicClientId = parse.GetValue(EpicClientId),
            TokenEndpoint = AbsoluteUrl(parse.GetValue(TokenEndpoint)),
        },
        ServerProfile = parse.GetValue(ServerProfile),
    };

    public const string PatientHint = "e.g. --patient " + PatientKey.Example;

    private static Uri? AbsoluteUrl(string? text) =>
        text is not null && Uri.TryCreate(text.TrimEnd('/'), UriKind.Absolute, out var url) ? url : null;

    /// <summary>What is missing for the chosen auth, as a usage message; null when complete.</summary>
    public static string? Incomplete(FhirServerOptions options) => ProfileProblem(options.ServerProfile) ?? options.Auth.Kind switch
    {
        AuthKind.Basic when options.Auth.Username is null || options.Auth.Password is null => "--auth basic needs --username and --password (or TRD_FHIR_PASSWORD)",
        AuthKind.Bearer when options.Auth.Token is null => "--auth bearer needs --token (or TRD_FHIR_TOKEN)",
        AuthKind.SmartBackend when options.Auth.ClientId is null || options.Auth.PrivateKeyPath is null => "--auth smart-backend needs --client-id and --private-key",
        AuthKind.SmartBackend when options.Auth.Algorithm is not ("RS384" or "ES384") => "--alg must be RS384 or ES384",
        AuthKind.SmartBackend when options.Auth.Algorithm == "ES384" && options.Auth.JwksUrl is null => "--alg ES384 needs --jwks-url (and --key-id): EC keys are registered only through a JWK Set URL, sent as jku with kid in the JWT header; or use --alg RS384 with the statically registered RSA key",
        AuthKind.SmartBackend when options.Auth.JwksUrl is not null && options.Auth.KeyId is null => "--jwks-url needs --key-id: the key id (kid) of the signing key in that JWK Set",
        _ => options.BaseUrl is { IsAbsoluteUri: true } url && url.Scheme is "http" or "https" ? null : "--server must be an absolute http(s) URL",
    };

    private static string? ProfileProblem(string? profile)
    {
        try
        {
            ServerProfileCatalog.ChooseOrDetect(profile);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException)
        {
            return e.Message;
        }
    }

    /// <summary>The composition root (<see cref="TrdFhirServices.AddTrdFhir"/>) for one CLI run: logging to stderr, transport,
    /// the server connection, the validator pool and the use cases.</summary>
    public ServiceProvider Compose(ParseResult parse, FhirServerOptions options, CliConsole console, TimeProvider time, string? identifierBase = null, PushStrategy? forced = null, Phq9Channel? phq9As = null) =>
        new ServiceCollection().AddTrdFhir(new TrdFhirOptions
        {
            Server = options,
            IdentifierBase = identifierBase ?? Identity.DefaultBase,
            Time = time,
            ForcedStrategy = forced,
            Phq9As = phq9As,
            Logger = TrdFhirLogging.Configure(console.StdErr, parse.GetValue(JsonLogs), parse.GetValue(Verbose)).CreateLogger(),
        }).BuildServiceProvider();
}
