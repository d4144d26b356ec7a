using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Trd.Fhir.Transport.Tests.Infrastructure;

public enum ConnectionFault
{
    /// <summary>
    /// Reads the request, sends the status line, then resets the connection (TCP RST). Not before the first response
    /// byte: SocketsHttpHandler itself re-sends a request whose fresh connection dies before any byte (up to 3 times),
    /// so such a reset would not reach the pipeline.
    /// </summary>
    ResetMidResponse,

    /// <summary>Reads the request, answers headers and the start of a body, then closes mid-body.</summary>
    BodyCutOff,
}

/// <summary>
/// A loopback TCP proxy in front of a WireMock server that breaks the first <c>faults</c> connections. WireMock.Net
/// 1.25's fault types do not break the connection (EMPTY_RESPONSE is a 200 with no body; MALFORMED_RESPONSE_CHUNK
/// sends random bytes with a matching Content-Length), so resets are played here. Later connections are piped through.
/// </summary>
public sealed class FaultyProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Uri _target;
    private readonly ConnectionFault _fault;
    private int _faultsLeft;
    private int _faulted;

    public FaultyProxy(string targetUrl, ConnectionFault fault, int faults)
    {
        _target = new Uri(targetUrl);
        _fault = fault;
        _faultsLeft = faults;
        _listener.Start();
        _ = AcceptAsync();
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Connections broken so far (each carried one request that never reached WireMock).</summary>
    public int Faulted => Volatile.Read(ref _faulted);

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = HandleAsync(client);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // stopped
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        try
        {
            using (client)
            {
                var stream = client.GetStream();
                if (Interlocked.Decrement(ref _faultsLeft) >= 0)
                {
                    await ReadRequestHeadAsync(stream);
                    Interlocked.Increment(ref _faulted);
                    var partial = _fault == ConnectionFault.BodyCutOff
                        ? "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: 100\r\n\r\n{\"resourceType\":"u8.ToArray()
                        : "HTTP/1.1 200 OK\r\n"u8.ToArray();
                    await stream.WriteAsync(partial, _stop.Token);
                    await stream.FlushAsync(_stop.Token);

                    client.Client.LingerState = new LingerOption(true, 0); // close with RST
                    return;
                }

                using var upstream = new TcpClient();
                await upstream.ConnectAsync(_target.Host, _target.Port, _stop.Token);
                var upstreamStream = upstream.GetStream();
                await Task.WhenAny(stream.CopyToAsync(upstreamStream, _stop.Token), upstreamStream.CopyToAsync(stream, _stop.Token));
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // a peer went away: that is the point of this proxy
        }
    }

    private async Task ReadRequestHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                return;
            }

            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
