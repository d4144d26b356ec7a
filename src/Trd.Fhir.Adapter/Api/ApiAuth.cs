using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Hl7.Fhir.Model;
using Claim = System.Security.Claims.Claim;
using Task = System.Threading.Tasks.Task;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// API authentication: an <c>X-Api-Key</c> header checked against SHA-256 hashes from configuration (constant-time), and/or
/// a JWT bearer token. One policy scheme picks the handler: <c>Authorization: Bearer …</c> goes to JWT, anything else to the
/// API key. Failures answer 401 with an OperationOutcome and a <c>WWW-Authenticate</c> header; nothing about the key is logged.
/// </summary>
public static class ApiAuth
{
    public const string Scheme = "ApiKeyOrBearer";
    public const string ApiKeyScheme = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    /// <summary>The claim that names the client (rate-limit partition, logs): the API key's client name or the JWT's client.</summary>
    public const string ClientClaim = "trd_client";

    public static IServiceCollection AddTrdFhirApiAuth(this IServiceCollection services, ApiSettings settings)
    {
        var auth = services.AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "API key or JWT bearer", o => o.ForwardDefaultSelector = context =>
                settings.Jwt.Enabled && context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? JwtBearerDefaults.AuthenticationScheme : ApiKeyScheme)
            .AddScheme<ApiKeyOptions, ApiKeyHandler>(ApiKeyScheme, o => o.Hashes = settings.ApiKeys
                .Select(c => (c.Name, Convert.FromHexString(c.Sha256))).ToArray());
        if (settings.Jwt.Enabled)
        {
            auth.AddJwtBearer(o =>
            {
                var jwt = settings.Jwt;
                o.MapInboundClaims = false;
                if (!string.IsNullOrEmpty(jwt.Authority))
                {
                    o.Authority = jwt.Authority;
                    o.RequireHttpsMetadata = !jwt.Authority.StartsWith("http://localhost", StringComparison.OrdinalIgnoreCase)
                        && !jwt.Authority.StartsWith("http://127.0.0.1", StringComparison.Ordinal);
                }
                o.Audience = jwt.Audience;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidateAudience = !string.IsNullOrEmpty(jwt.Audience),
                    ValidAudience = jwt.Audience,
                    ValidateIssuer = !string.IsNullOrEmpty(jwt.Issuer) || !string.IsNullOrEmpty(jwt.Authority),
                    ValidIssuer = jwt.Issuer,
                    IssuerSigningKeys = jwt.SigningKeys.Count > 0 ? jwt.SigningKeys : null,
                    ClockSkew = TimeSpan.FromMinutes(1),
                };
                o.Events = new JwtBearerEvents
                {
                    OnTokenValidated = context =>
                    {
                        var principal = context.Principal!;
                        var client = principal.FindFirst("client_id")?.Value ?? principal.FindFirst("azp")?.Value ?? principal.FindFirst("sub")?.Value ?? "jwt";
                        ((ClaimsIdentity)principal.Identity!).AddClaim(new Claim(ClientClaim, "jwt:" + client));
                        return System.Threading.Tasks.Task.CompletedTask;
                    },
                    OnChallenge = async context =>
                    {
                        context.HandleResponse();
                        context.Response.Headers.WWWAuthenticate = "Bearer";
                        await ApiOutcome.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, ApiOutcome.Issue(OperationOutcome.IssueType.Login,
                            context.AuthenticateFailure is null ? "a bearer token is required" : "the bearer token was refused (expired, wrong issuer, audience or signature)"));
                    },
                    OnForbidden = context => ApiOutcome.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden,
                        ApiOutcome.Issue(OperationOutcome.IssueType.Forbidden, "this client may not use this endpoint")),
                };
            });
        }
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder(Scheme).RequireAuthenticatedUser().Build());
        return services;
    }

    /// <summary>The client a request is attributed to (rate limiting, logs): its claim, else its remote address.</summary>
    public static string ClientOf(HttpContext context) =>
        context.User.FindFirst(ClientClaim)?.Value ?? "ip:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
}

public sealed class ApiKeyOptions : AuthenticationSchemeOptions
{
    public IReadOnlyList<(string Name, byte[] Sha256)> Hashes { get; set; } = [];
}

/// <summary>Checks <c>X-Api-Key</c>: SHA-256 of the presented key compared with every configured hash in constant time.</summary>
public sealed class ApiKeyHandler(IOptionsMonitor<ApiKeyOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<ApiKeyOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(ApiAuth.HeaderName, out var values) || values.Count == 0 || string.IsNullOrEmpty(values[0]))
            return System.Threading.Tasks.Task.FromResult(AuthenticateResult.NoResult());
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(values[0]!));
        string? client = null;
        foreach (var (name, hash) in Options.Hashes)
        {
            // Compare with every entry (no early exit): the time does not depend on which key matched.
            if (CryptographicOperations.FixedTimeEquals(presented, hash) && client is null)
                client = name;
        }
        if (client is null)
            return System.Threading.Tasks.Task.FromResult(AuthenticateResult.Fail("unknown API key"));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, client), new Claim(ApiAuth.ClientClaim, "key:" + client)], Scheme.Name);
        return System.Threading.Tasks.Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await Context.AuthenticateAsync(Scheme.Name);
        Response.Headers.WWWAuthenticate = $"{ApiAuth.ApiKeyScheme} header=\"{ApiAuth.HeaderName}\"";
        await ApiOutcome.WriteAsync(Context, StatusCodes.Status401Unauthorized, ApiOutcome.Issue(OperationOutcome.IssueType.Login,
            result.Failure is null
                ? $"authentication required (fix: send the API key in the {ApiAuth.HeaderName} header, or a bearer token)"
                : $"the API key in {ApiAuth.HeaderName} is not valid (fix: check the key; keys are configured as SHA-256 hashes)"));
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ApiOutcome.WriteAsync(Context, StatusCodes.Status403Forbidden, ApiOutcome.Issue(OperationOutcome.IssueType.Forbidden, "this client may not use this endpoint"));
}
