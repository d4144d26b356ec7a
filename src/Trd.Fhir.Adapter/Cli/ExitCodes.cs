namespace Trd.Fhir.Adapter.Cli;

/// <summary>The CLI's contract with scripts and CI pipelines.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int ValidationFailed = 1;
    public const int UsageOrInput = 2;
}
