using System.IO.Pipelines;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Llana.SocketIO.EngineIO;

/// <summary>
/// Kestrel connection middleware that serves Engine.IO WebSocket handshakes on the connection itself: the
/// first request head is read off the transport, and a WebSocket handshake for this server's path becomes a
/// WebSocket on Kestrel's transport pipes. No HTTP request, HttpContext or upgrade stream stays alive for
/// the connection's lifetime, which roughly halves its memory and lets frames go straight into the socket's
/// send pipe. Every other connection, and every handshake the server would refuse, goes on to HTTP untouched.
/// </summary>
internal sealed class EngineConnectionMiddleware(EngineServer engine, string path, Action<HttpContext>? forwarding, ConnectionDelegate next)
{
    /// <summary>How long a connection may take to send its first request head before it is left to Kestrel's own timeouts.</summary>
    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(10);

    private readonly byte[] _path = Encoding.ASCII.GetBytes(path.TrimEnd('/'));

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        RequestHead? head = null;
        EngineSession? probeSession = null;
        using (var timeout = new CancellationTokenSource(HeadTimeout, engine.Options.Time))
        {
            try
            {
                while (true)
                {
                    var result = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
                    var buffer = result.Buffer;
                    head = RequestHead.TryRead(buffer, out var end, out var incomplete);
                    if (head is not null && IsOurPath(head.Path) && engine.CanTakeWebSocket(head, out probeSession))
                    {
                        input.AdvanceTo(end);
                        break;
                    }

                    if (head is not null || !incomplete || result.IsCompleted)
                    {
                        // Not ours: Kestrel reads the same bytes again, from the start.
                        input.AdvanceTo(buffer.Start);
                        head = null;
                        break;
                    }

                    input.AdvanceTo(buffer.Start, buffer.End);
                }
            }
            catch (OperationCanceledException)
            {
                head = null;
            }
        }

        if (head is null)
        {
            await next(connection).ConfigureAwait(false);
            return;
        }

        // Over plain TCP frames go straight to the socket; through TLS or a non-socket transport, into Kestrel's pipe.
        var secure = connection.Features.Get<ITlsConnectionFeature>() is not null;
        var socket = secure ? null : connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        PipeWriter output = connection.Transport.Output;
        if (socket is not null)
        {
            socket.Blocking = false;
            output = new SocketPipeWriter(socket);
        }

        WriteSwitchingProtocols(output, head);
        var channel = new WebSocketChannel(input, output, () => connection.Abort(), connection.ConnectionClosed);
        if (probeSession is not null)
        {
            await output.FlushAsync().ConfigureAwait(false);
            await engine.RunProbeAsync(channel, probeSession).ConfigureAwait(false);
            return;
        }

        var remote = RemoteAddress(connection.RemoteEndPoint as IPEndPoint, head, secure);
        await engine.RunNewWebSocketSessionAsync(channel, new EngineHandshakeData(head, remote, secure, engine.Options.Time.GetUtcNow())).ConfigureAwait(false);
    }

    /// <summary>The peer's address, or the client a trusted proxy names (the <c>forwarding</c> the server was given).</summary>
    private IPAddress? RemoteAddress(IPEndPoint? peer, RequestHead head, bool secure)
    {
        if (forwarding is null)
        {
            return peer?.Address;
        }

        // Only for the handshake: the parsed headers are dropped after it (the session re-parses them on demand).
        var context = new DefaultHttpContext();
        context.Features.Get<IHttpRequestFeature>()!.Headers = head.ParseHeaders();
        context.Request.Scheme = secure ? "https" : "http";
        context.Connection.RemoteIpAddress = peer?.Address;
        context.Connection.RemotePort = peer?.Port ?? 0;
        forwarding(context);
        return context.Connection.RemoteIpAddress;
    }

    private bool IsOurPath(ReadOnlySpan<byte> requestPath) =>
        requestPath.SequenceEqual(_path) || (requestPath.Length == _path.Length + 1 && requestPath.StartsWith(_path) && requestPath[^1] == (byte)'/');

    private static void WriteSwitchingProtocols(PipeWriter output, RequestHead head)
    {
        var accept = WebSocketChannel.AcceptKey(head.HeaderValue("Sec-WebSocket-Key")!);
        var response = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n";
        var span = output.GetSpan(response.Length);
        var written = Encoding.ASCII.GetBytes(response, span);
        output.Advance(written);
    }
}
