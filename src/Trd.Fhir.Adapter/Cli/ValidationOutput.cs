using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// A report format. Results arrive in input order, one at a time (an NDJSON input streams line by line); a format
/// writes as it goes, or spills to a temporary file, and never holds the whole run in memory.
/// </summary>
internal abstract class ValidationOutput : IDisposable
{
    public static readonly string[] Formats = ["text", "json", "junit", "sarif"];

    public static ValidationOutput Create(string format, TextWriter stdout) => format switch
    {
        "json" => new ValidationOutputJson(stdout),
        "junit" => new ValidationOutputJUnit(stdout),
        "sarif" => new ValidationOutputSarif(stdout),
        _ => new ValidationOutputText(stdout),
    };

    public abstract void Write(ValidationResult result);

    public abstract void Complete(ValidationTotals totals);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}
