using System.Globalization;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;

namespace Trd.Fhir.Adapter.Composition;

/// <summary>The one Serilog set-up of the CLI and of <c>serve</c>: to a writer (stderr; tests capture it), text or compact
/// JSON (CLEF), framework noise above Warning. Never patient data: callers log identifiers of resources, not of people.</summary>
public static class TrdFhirLogging
{
    /// <summary>A logger configuration for <paramref name="writer"/>. <paramref name="verbose"/>: Debug instead of Information;
    /// <paramref name="properties"/>: each text line also carries the event's properties (the API's correlation id, route…).</summary>
    public static LoggerConfiguration Configure(TextWriter writer, bool json, bool verbose = false, bool properties = false)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var template = properties
            ? "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj} {Properties:j}{NewLine}{Exception}"
            : "[{Timestamp:HH:mm:ss} {Level:u3}] {Message:lj}{NewLine}{Exception}";
        return new LoggerConfiguration()
            .MinimumLevel.Is(verbose ? LogEventLevel.Debug : LogEventLevel.Information)
            .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Polly", LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .WriteTo.Sink(new TextWriterSink(writer, json ? new CompactJsonFormatter() : new MessageTemplateTextFormatter(template, CultureInfo.InvariantCulture)));
    }
}

/// <summary>Serilog to a <see cref="TextWriter"/> (the CLI's stderr, the API's log writer), one event at a time.</summary>
internal sealed class TextWriterSink(TextWriter writer, ITextFormatter formatter) : ILogEventSink
{
    private readonly Lock _lock = new();

    public void Emit(LogEvent logEvent)
    {
        lock (_lock)
            formatter.Format(logEvent, writer);
    }
}
