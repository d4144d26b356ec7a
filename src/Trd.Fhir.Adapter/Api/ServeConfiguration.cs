using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Trd.Fhir.Adapter.Transport;

namespace Trd.Fhir.Adapter.Api;

/// <summary>
/// Every setting of <c>trd-fhir serve</c> in one place (docs/api.md "Configuration"): the section <c>Api</c> of
/// ./appsettings.json (or <c>--config FILE</c>), then environment variables <c>Api__…</c>, then the command line (its named
/// options and <c>--set Api:Key=value</c> for any key) — the later source wins. Bound strictly (an unknown key or a value of
/// the wrong type stops the start and names the key) and validated by <see cref="ApiSettings.Validate"/>.
/// </summary>
public static class ServeConfiguration
{
    public const string DefaultFile = "appsettings.json";

    /// <summary>The layered configuration: file (optional unless <paramref name="required"/>), environment, command line.</summary>
    public static IConfiguration Build(string file, bool required, IEnumerable<KeyValuePair<string, string?>> commandLine, IConfigurationSource? environment = null)
    {
        var builder = new ConfigurationBuilder().AddJsonFile(Path.GetFullPath(file), optional: !required, reloadOnChange: false);
        if (environment is null)
            builder.AddEnvironmentVariables();
        else
            builder.Add(environment);
        return builder.AddInMemoryCollection(commandLine).Build();
    }

    /// <summary>The settings bound from <paramref name="configuration"/>'s <c>Api</c> section, or the problems (each naming
    /// the key and the fix) that must stop the start. <paramref name="complete"/> adds what comes from elsewhere (the
    /// quick-start key) before validation.</summary>
    public static (ApiSettings Settings, IReadOnlyList<string> Errors) Bind(IConfiguration configuration, Action<ApiSettings>? complete = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var settings = new ApiSettings();
        try
        {
            configuration.GetSection(ApiSettings.SectionName).Bind(settings, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            var message = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
            return (settings, [$"configuration: {message} (fix: check the key and its value in appsettings.json, the Api__… environment variables or --set; docs/api.md lists every setting)"]);
        }
        complete?.Invoke(settings);
        return (settings, settings.Validate());
    }

    /// <summary>Range checks of the nested option classes (their DataAnnotations), as "Api:Path:Member: message".</summary>
    internal static IEnumerable<string> Nested(string path, object options)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            foreach (var r in results)
                yield return $"{path}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}";
        }
    }

    /// <summary>What the chosen FHIR server authentication still needs, naming keys and options.</summary>
    internal static string? IncompleteAuth(AuthOptions auth) => auth.Kind switch
    {
        AuthKind.Basic when auth.Username is null || auth.Password is null => "Api:Server:Auth: Basic needs Username and Password (fix: --username and --password or TRD_FHIR_PASSWORD, or Api:Server:Auth:Username/Password)",
        AuthKind.Bearer when auth.Token is null => "Api:Server:Auth: Bearer needs Token (fix: --token or TRD_FHIR_TOKEN, or Api:Server:Auth:Token)",
        AuthKind.SmartBackend when auth.ClientId is null || auth.PrivateKeyPath is null => "Api:Server:Auth: SmartBackend needs ClientId and PrivateKeyPath (fix: --client-id and --private-key, or Api:Server:Auth:ClientId/PrivateKeyPath)",
        AuthKind.SmartBackend when auth.Algorithm is not ("RS384" or "ES384") => "Api:Server:Auth:Algorithm: must be RS384 or ES384 (fix: --alg)",
        _ => null,
    };
}
