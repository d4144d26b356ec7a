using Microsoft.Extensions.Configuration.Memory;
using Trd.Fhir.Adapter.Api;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary>
/// <c>serve</c>'s settings in one place: appsettings file → environment → command line (later wins), bound strictly and
/// validated before anything starts; a bad setting stops the start (exit 2) with a message naming the key and the fix.
/// </summary>
public sealed class ServeConfigurationTests() : CliTest("trd-serve-config-")
{
    private const string Hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private string File(string json)
    {
        var path = Path.Combine(Dir, "appsettings.json");
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    private static MemoryConfigurationSource Environment(params (string Key, string Value)[] values) =>
        new() { InitialData = values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)) };

    private static KeyValuePair<string, string?>[] CommandLine(params (string Key, string Value)[] values) =>
        values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)).ToArray();

    private string Valid() => File("{\"Api\": {\"Server\": {\"BaseUrl\": \"http://127.0.0.1:9/fhir\"}, \"ApiKeys\": [{\"Name\": \"lab\", \"Sha256\": \"" + Hash + "\"}], "
        + "\"RateLimitPermits\": 7, \"Ledger\": \"from-file.db\", \"Sync\": {\"MaxAttempts\": 3}, \"CorsOrigins\": [\"https://portal.example.org\"]}}");

    [Fact]
    public void Bind_FileThenEnvironmentThenCommandLine_LaterWins()
    {
        var configuration = ServeConfiguration.Build(Valid(), required: true,
            CommandLine(("Api:Ledger", "from-cli.db"), ("Api:Urls", "http://127.0.0.1:9090")),
            Environment(("Api:Ledger", "from-env.db"), ("Api:Sync:MaxAttempts", "4"), ("Api:Server:Resilience:MaxRetries", "2")));

        var (settings, errors) = ServeConfiguration.Bind(configuration);

        Assert.Empty(errors);
        Assert.Equal(7, settings.RateLimitPermits);
        Assert.Equal(4, settings.Sync.MaxAttempts);
        Assert.Equal(2, settings.Server.Resilience.MaxRetries);
        Assert.Equal("from-cli.db", settings.Ledger);
        Assert.Equal("http://127.0.0.1:9090", settings.Urls);
        Assert.Equal(new Uri("http://127.0.0.1:9/fhir"), settings.Server.BaseUrl);
        Assert.Equal("https://portal.example.org", Assert.Single(settings.CorsOrigins));
        Assert.Equal(("lab", Hash), (Assert.Single(settings.ApiKeys).Name, settings.ApiKeys[0].Sha256));
    }

    [Theory]
    [InlineData("Api:RateLimitPermit", "7", "RateLimitPermit")]
    [InlineData("Api:MaxBodyBytes", "lots", "Api:MaxBodyBytes")]
    [InlineData("Api:RateLimitWindow", "a minute", "Api:RateLimitWindow")]
    [InlineData("Api:Server:Auth:Kind", "kerberos", "Api:Server:Auth:Kind")]
    public void Bind_UnknownKeyOrWrongType_NamesTheKey(string key, string value, string named)
    {
        var (_, errors) = ServeConfiguration.Bind(ServeConfiguration.Build(Valid(), true, CommandLine((key, value)), Environment()));

        var error = Assert.Single(errors);
        Assert.StartsWith("configuration: ", error, StringComparison.Ordinal);
        Assert.Contains(named, error, StringComparison.Ordinal);
        Assert.EndsWith("(fix: check the key and its value in appsettings.json, the Api__… environment variables or --set; docs/api.md lists every setting)", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Api:RateLimitPermits", "0", "Api:RateLimitPermits: ")]
    [InlineData("Api:MaxBodyBytes", "100", "Api:MaxBodyBytes: ")]
    [InlineData("Api:Server:Resilience:MaxConcurrency", "0", "Api:Server:Resilience:MaxConcurrency: ")]
    [InlineData("Api:Sync:MaxAttempts", "0", "Api:Sync: ")]
    [InlineData("Api:Server:Resilience:TotalTimeout", "00:00:10", "Api:Server:Resilience:TotalTimeout (00:00:10) must not be shorter than AttemptTimeout (00:00:30) (fix: raise TotalTimeout or lower AttemptTimeout)")]
    [InlineData("Api:Urls", "127.0.0.1:8080", "Api:Urls: '127.0.0.1:8080' is not an http(s) URL to listen on (fix: --urls http://127.0.0.1:8080)")]
    [InlineData("Api:Server:Auth:Kind", "Bearer", "Api:Server:Auth: Bearer needs Token (fix: --token or TRD_FHIR_TOKEN, or Api:Server:Auth:Token)")]
    [InlineData("Api:Jwt:Authority", "http://idp.example.org", "Api:Jwt:Authority: 'http://idp.example.org' must be an absolute https URL")]
    [InlineData("Api:CorsOrigins:1", "*", "Api:CorsOrigins: '*' is not an origin")]
    public void Bind_OutOfRange_StopsWithTheKeyAndTheFix(string key, string value, string message)
    {
        var (_, errors) = ServeConfiguration.Bind(ServeConfiguration.Build(Valid(), true, CommandLine((key, value)), Environment()));

        Assert.StartsWith(message, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Serve_BadSettingsOnTheCommandLine_Exit2WithEveryProblemBeforeStarting()
    {
        var config = File("""{"Api": {"Server": {"BaseUrl": "http://127.0.0.1:9/fhir"}}}""");

        var (exit, _, err) = Run("serve", "--config", config, "--rate-limit", "0", "--set", "Api:Sync:MaxAttempts=0", "--urls", "nowhere");

        Assert.Equal(2, exit);
        Assert.Contains("serve: Api:RateLimitPermits: ", err, StringComparison.Ordinal);
        Assert.Contains("serve: Api:Sync: ", err, StringComparison.Ordinal);
        Assert.Contains("serve: Api:Urls: 'nowhere' is not an http(s) URL", err, StringComparison.Ordinal);
        Assert.Contains("serve: Api:ApiKeys: no API key and no JWT authority configured", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--set", "MaxAttempts=3", "serve: --set 'MaxAttempts=3' is not Api:Key=value")]
    [InlineData("--config", "missing.json", "serve: --config missing.json: no such file (fix: check the path)")]
    public void Serve_UnusableOption_Exit2(string option, string value, string message)
    {
        var (exit, _, err) = Run("serve", option, value);

        Assert.Equal(2, exit);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }
}
