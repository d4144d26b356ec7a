using System.Text;
using System.Xml;
using Trd.Fhir.Adapter.UseCases;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>--format junit</c>: JUnit XML as CI servers read it. One <c>testsuite</c> per input file, one <c>testcase</c> per
/// resource: the resource of a JSON/XML file, each NDJSON line, and for a Bundle the Bundle itself plus one per entry
/// (issues go to the entry their expression points into). Errors are a <c>failure</c>, warnings go to
/// <c>system-out</c>, an unreadable input is an <c>error</c>. Suites are spilled to temporary files so that the counts
/// the <c>testsuite</c>/<c>testsuites</c> elements carry up front never need the run in memory. No timestamps: two
/// runs over the same inputs give the same bytes.
/// </summary>
internal sealed class ValidationOutputJUnit(TextWriter stdout) : ValidationOutput
{
    private static readonly XmlWriterSettings Fragment = new() { ConformanceLevel = ConformanceLevel.Fragment, Indent = true, OmitXmlDeclaration = true, Encoding = new UTF8Encoding(false) };

    private readonly Spill _document = new();
    private Spill? _suite;
    private string? _suiteName;
    private int _suiteTests, _suiteFailures, _suiteErrors;
    private int _tests, _failures, _errors;

    public override void Write(ValidationResult result)
    {
        if (_suiteName != result.File)
        {
            EndSuite();
            _suite = new Spill();
            _suiteName = result.File;
        }
        var w = _suite!.Xml;
        if (result.Unreadable)
        {
            var message = Finding.MessageOf(result.Outcome.Issue[0]);
            Case(w, result.File, result.File, null, [], error: message);
            return;
        }
        var findings = result.Findings().ToList();
        if (result.EntryLabels.Count == 0)
        {
            var name = result.Line is { } line ? result.Label is null ? $"line {line}" : $"line {line}: {result.Label}" : result.Label ?? Path.GetFileName(result.File);
            Case(w, result.File, name, result, findings, null);
            return;
        }
        Case(w, result.File, result.Label ?? "Bundle", result, findings.Where(f => f.EntryIndex is null || f.EntryIndex >= result.EntryLabels.Count).ToList(), null);
        for (var i = 0; i < result.EntryLabels.Count; i++)
            Case(w, result.File, $"entry[{i}] {result.EntryLabels[i]}", result, findings.Where(f => f.EntryIndex == i).ToList(), null);
    }

    private void Case(XmlWriter w, string file, string name, ValidationResult? result, List<Finding> findings, string? error)
    {
        _suiteTests++;
        w.WriteStartElement("testcase");
        w.WriteAttributeString("classname", file);
        w.WriteAttributeString("name", Clean(name));
        if (error is not null)
        {
            _suiteErrors++;
            w.WriteStartElement("error");
            w.WriteAttributeString("message", Clean(error));
            w.WriteAttributeString("type", "unreadable");
            w.WriteString(Clean(error));
            w.WriteEndElement();
        }
        var errors = findings.Where(f => f.IsError).ToList();
        if (errors.Count > 0)
        {
            _suiteFailures++;
            w.WriteStartElement("failure");
            w.WriteAttributeString("message", Clean($"{errors.Count} error(s): {errors[0].Message}"));
            w.WriteAttributeString("type", errors[0].Code);
            w.WriteString(Lines(file, errors));
            w.WriteEndElement();
        }
        var warnings = findings.Where(f => !f.IsError).ToList();
        if (warnings.Count > 0) w.WriteElementString("system-out", Lines(file, warnings));
        w.WriteEndElement();
    }

    /// <summary>Characters XML cannot carry (control characters echoed from broken input) become U+FFFD.</summary>
    private static string Clean(string text) =>
        text.All(XmlConvert.IsXmlChar) ? text : new string(text.Select(c => XmlConvert.IsXmlChar(c) || char.IsSurrogate(c) ? c : '\uFFFD').ToArray());

    private static string Lines(string file, IEnumerable<Finding> findings) =>
        "\n" + Clean(string.Concat(findings.Select(f => $"{f.Where(file)}: {f.Severity} {f.Code}: {(f.Expression is null ? "" : f.Expression + ": ")}{f.Message}\n")));

    private void EndSuite()
    {
        if (_suite is null) return;
        var w = _document.Xml;
        w.WriteStartElement("testsuite");
        w.WriteAttributeString("name", _suiteName);
        w.WriteAttributeString("tests", Count(_suiteTests));
        w.WriteAttributeString("failures", Count(_suiteFailures));
        w.WriteAttributeString("errors", Count(_suiteErrors));
        w.WriteAttributeString("skipped", "0");
        _suite.CopyTo(w);
        w.WriteEndElement();
        _tests += _suiteTests;
        _failures += _suiteFailures;
        _errors += _suiteErrors;
        _suiteTests = _suiteFailures = _suiteErrors = 0;
        _suite.Dispose();
        _suite = null;
    }

    public override void Complete(ValidationTotals totals)
    {
        EndSuite();
        stdout.WriteLine("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        stdout.WriteLine($"<testsuites name=\"trd-fhir validate\" tests=\"{_tests}\" failures=\"{_failures}\" errors=\"{_errors}\">");
        _document.CopyTo(stdout);
        stdout.WriteLine("</testsuites>");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _suite?.Dispose();
            _document.Dispose();
        }
        base.Dispose(disposing);
    }

    private static string Count(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>XML written to a temporary file (deleted on dispose) and copied out once its enclosing counts are known.</summary>
    private sealed class Spill : IDisposable
    {
        private readonly FileStream _file = new(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);

        public Spill() => Xml = XmlWriter.Create(_file, Fragment);

        public XmlWriter Xml { get; }

        public void CopyTo(XmlWriter target)
        {
            foreach (var chunk in Chunks()) target.WriteRaw(chunk);
        }

        public void CopyTo(TextWriter target)
        {
            foreach (var chunk in Chunks()) target.Write(chunk);
            target.WriteLine();
        }

        private IEnumerable<string> Chunks()
        {
            Xml.Flush();
            _file.Position = 0;
            using var reader = new StreamReader(_file, Encoding.UTF8, false, 1 << 16, leaveOpen: true);
            var buffer = new char[1 << 16];
            int n;
            while ((n = reader.Read(buffer, 0, buffer.Length)) > 0) yield return new string(buffer, 0, n);
        }

        public void Dispose()
        {
            Xml.Dispose();
            _file.Dispose();
        }
    }
}
