using System.Diagnostics.Metrics;
using Trd.Fhir.Adapter.Telemetry;

namespace Trd.Fhir.Transport.Tests.Infrastructure;

/// <summary>
/// Listens to the adapter's instruments whose name starts with <c>instrumentPrefix</c> and keeps the measurements tagged
/// with one <c>server.address</c> (host and port), so other tests' servers in the same process don't count.
/// </summary>
internal sealed class MetricCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, string? Reason)> _measurements = [];
    private readonly string _server;

    public MetricCapture(string instrumentPrefix, string serverUrl)
    {
        _server = new Uri(serverUrl).Authority;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TrdTelemetry.Name && instrument.Name.StartsWith(instrumentPrefix, StringComparison.Ordinal))
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<int>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Record(i, value, tags));
        _listener.Start();
    }

    /// <summary>The measurements of <paramref name="instrument"/> so far, in order.</summary>
    public IReadOnlyList<(double Value, string? Reason)> Of(string instrument)
    {
        lock (_measurements)
            return [.. _measurements.Where(m => m.Instrument == instrument).Select(m => (m.Value, m.Reason))];
    }

    /// <summary>Asks the observable instruments (gauges) for their values now; they arrive as measurements.</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? server = null, reason = null;
        foreach (var tag in tags)
        {
            if (tag.Key == "server.address") server = tag.Value as string;
            else if (tag.Key == "reason") reason = tag.Value as string;
        }
        if (server != _server) return;
        lock (_measurements) _measurements.Add((instrument.Name, value, reason));
    }
}
