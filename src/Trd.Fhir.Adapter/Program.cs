using Trd.Fhir.Adapter.Cli;

return CliApp.Run(args, CliConsole.System);

/// <summary>The entry point. Public so that the API tests' WebApplicationFactory&lt;Program&gt; can name the assembly; the
/// factory composes the host itself with <see cref="Trd.Fhir.Adapter.Api.ApiHost.CreateHostBuilder"/>.</summary>
public partial class Program;
