using System.Net;
using System.Net.Sockets;

namespace Llana.Server.Tests.Infrastructure;

/// A loopback TCP forwarder standing in for a load balancer: clients connect to <see cref="Port"/> and are
/// tunnelled to the current target; <see cref="Cut"/> drops every tunnel, as a node that dies would.
public sealed class TcpProxy : IAsyncDisposable
{
    private const int TunnelBuffer = 16384;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<TcpClient> _open = [];
    private readonly Task _accepting;
    private volatile Uri? _target;

    public TcpProxy()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Uri Address => new($"http://127.0.0.1:{Port}");

    /// Where new connections go; null refuses them (closed at once).
    public Uri? Target
    {
        get => _target;
        set => _target = value;
    }

    public void Cut()
    {
        lock (_open)
        {
            foreach (var client in _open)
            {
                client.Dispose();
            }

            _open.Clear();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = TunnelAsync(inbound);
        }
    }

    private async Task TunnelAsync(TcpClient inbound)
    {
        var target = _target;
        if (target is null)
        {
            inbound.Dispose();
            return;
        }

        var outbound = new TcpClient();
        try
        {
            await outbound.ConnectAsync(target.Host, target.Port);
            lock (_open)
            {
                _open.Add(inbound);
                _open.Add(outbound);
            }

            // Small buffers: the default (81,920 bytes, rented as 128 KB) times two per tunnel made the test's own
            // balancers most of the memory the fault test reports for the servers.
            var a = inbound.GetStream().CopyToAsync(outbound.GetStream(), TunnelBuffer);
            var b = outbound.GetStream().CopyToAsync(inbound.GetStream(), TunnelBuffer);
            await Task.WhenAny(a, b);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_open)
            {
                _open.Remove(inbound);
                _open.Remove(outbound);
            }

            inbound.Dispose();
            outbound.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        await _accepting;
        _stop.Dispose();
    }
}
