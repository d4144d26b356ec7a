using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>Where CLI verbs write: results to stdout, problems and progress to stderr. Tests pass string writers.</summary>
public sealed class CliConsole(TextWriter stdout, TextWriter stderr)
{
    public static CliConsole System { get; } = new(global::System.Console.Out, global::System.Console.Error) { ErrorIsTerminal = !global::System.Console.IsErrorRedirected };

    /// <summary>Whether stderr is a terminal: progress lines (<see cref="ProgressLine"/>) are shown there without being asked.</summary>
    public bool ErrorIsTerminal { get; init; }

    public TextWriter StdOut { get; } = stdout;
    public TextWriter StdErr { get; } = stderr;

    public void Write(string text) => StdOut.Write(text);

    public void Out(string line) => StdOut.WriteLine(line);

    public void Error(string line) => StdErr.WriteLine(line);

    /// <summary>Problems as <c>file:line:column: severity Code: path: message (fix: hint)</c>, the form editors and CI logs link.</summary>
    public void Problems(string file, IEnumerable<Problem> problems)
    {
        foreach (var p in problems)
        {
            var where = p.Line is { } line ? $"{file}:{line}:{p.Column}" : file;
            var hint = p.Hint is null ? "" : $" (fix: {p.Hint})";
            StdErr.WriteLine($"{where}: {p.Severity.ToString().ToLowerInvariant()} {p.Code}: {p.Path}: {p.Message}{hint}");
        }
    }
}
