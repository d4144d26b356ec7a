using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Trd.Fhir.Adapter.Composition;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Transport;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>The options every verb that talks to a FHIR server shares (--server, --auth …), and the composition of the
/// services they need (through the composition root). Secrets can come from the environment so they stay out of shell history.</summary>
internal sealed class ServerOptions
{
    public Option<string> Server { get; } = new("--server") { Description = "FHIR base URL, e.g. https://fhir.example.org/r4", Required = true };
    public Option<AuthKind> Auth { get; } = new("--auth") { Description = "none | basic | bearer | smart-backend", DefaultValueFactory = _ => AuthKind.None, CustomParser = ParseAuth };
    public Option<string?> Username { get; } = new("--username") { Description = "basic: user name" };
    public Option<string?> Password { get; } = new("--password") { Description = "basic: password (or environment variable TRD_FHIR_PASSWORD)" };
    public Option<string?> Token { get; } = new("--token") { Description = "bearer: access token (or environment variable TRD_FHIR_TOKEN)" };
    public Option<string?> ClientId { get; } = new("--client-id") { Description = "smart-backend: registered client id" };
    public Option<string?> PrivateKey { get; } = new("--private-key") { Description = "smart-backend: PEM private key file (RSA for RS384, EC P-384 for ES384)" };
    public Option<string?> KeyId { get; } = new("--key-id") { Description = "smart-backend: key id (kid) in the registered JWKS" };
    public Option<string> Algorithm { get; } = new("--alg") { Description = "smart-backend: RS384 or ES384", DefaultValueFactory = _ => "RS384" };
    public Option<string> Scope { get; } = new("--scope") { Description = "smart-backend: scopes to request", DefaultValueFactory = _ => "system/*.read system/*.write" };
    public Option<string?> TokenEndpoint { get; } = new("--token-endpoint") { Description = "smart-backend: token endpoint (default: from .well-known/smart-configuration)" };
    public Option<bool> JsonLogs { get; } = new("--log-json") { Description = "Logs on stderr as compact JSON (CLEF) instead of text" };
    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "More log detail (never patient data)" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Server, Auth, Username, Password, Token, ClientId, PrivateKey, KeyId, Algorithm, Scope, TokenEndpoint, JsonLogs, Verbose })
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

    public FhirServerOptions Read(ParseResult parse) => new()
    {
        BaseUrl = AbsoluteUrl(parse.GetValue(Server)),
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
            Scope = parse.GetValue(Scope)!,
            TokenEndpoint = AbsoluteUrl(parse.GetValue(TokenEndpoint)),
        },
    };

    public const string PatientHint = "e.g. --patient " + PatientKey.Example;

    private static Uri? AbsoluteUrl(string? text) =>
        text is not null && Uri.TryCreate(text.TrimEnd('/'), UriKind.Absolute, out var url) ? url : null;

    /// <summary>What is missing for the chosen auth, as a usage message; null when complete.</summary>
    public static string? Incomplete(FhirServerOptions options) => options.Auth.Kind switch
    {
        AuthKind.Basic when options.Auth.Username is null || options.Auth.Password is null => "--auth basic needs --username and --password (or TRD_FHIR_PASSWORD)",
        AuthKind.Bearer when options.Auth.Token is null => "--auth bearer needs --token (or TRD_FHIR_TOKEN)",
        AuthKind.SmartBackend when options.Auth.ClientId is null || options.Auth.PrivateKeyPath is null => "--auth smart-backend needs --client-id and --private-key",
        AuthKind.SmartBackend when options.Auth.Algorithm is not ("RS384" or "ES384") => "--alg must be RS384 or ES384",
        _ => options.BaseUrl is { IsAbsoluteUri: true } url && url.Scheme is "http" or "https" ? null : "--server must be an absolute http(s) URL",
    };

    /// <summary>The composition root (<see cref="TrdFhirServices.AddTrdFhir"/>) for one CLI run: logging to stderr, transport,
    /// the server connection, the validator pool and the use cases.</summary>
    public ServiceProvider Compose(ParseResult parse, FhirServerOptions options, CliConsole console, TimeProvider time, string? identifierBase = null, PushStrategy? forced = null) =>
        new ServiceCollection().AddTrdFhir(new TrdFhirOptions
        {
            Server = options,
            IdentifierBase = identifierBase ?? Identity.DefaultBase,
            Time = time,
            ForcedStrategy = forced,
            Logger = TrdFhirLogging.Configure(console.StdErr, parse.GetValue(JsonLogs), parse.GetValue(Verbose)).CreateLogger(),
        }).BuildServiceProvider();
}
