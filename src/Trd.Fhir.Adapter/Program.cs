using Trd.Fhir.Adapter.Cli;

return CliApp.Run(args, CliConsole.System);
