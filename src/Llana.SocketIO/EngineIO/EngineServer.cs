using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Llana.SocketIO.EngineIO;

/// <summary>Engine.IO v4 server: request validation, handshakes, and the session registry.</summary>
internal sealed class EngineServer(EngineServerOptions options, IEngineHandler handler, EngineLog log)
{
    private readonly ConcurrentDictionary<string, EngineSession> _sessions = new(StringComparer.Ordinal);
    private int _counter = RandomNumberGenerator.GetInt32(int.MaxValue);

    public EngineServerOptions Options { get; } = options;

    public IEngineHandler Handler { get; } = handler;

    public EngineLog Log { get; } = log;

    public int SessionCount => _sessions.Count;

    /// <summary>Closes every session (server shutdown): queued packets are flushed, then the transport closes.</summary>
    public void CloseAll(string reason)
    {
        foreach (var (_, session) in _sessions)
        {
            session.Close(reason);
        }
    }

    internal void Remove(EngineSession session) => _sessions.TryRemove(new KeyValuePair<string, EngineSession>(session.Id, session));

    public async Task HandleRequestAsync(HttpContext context)
    {
        var request = context.Request;
        var query = request.Query;
        var transport = query["transport"].ToString();
        var isPolling = transport == "polling" && Options.AllowPolling;
        var isWebSocket = transport == "websocket" && Options.AllowWebSocket;
        if (!isPolling && !isWebSocket)
        {
            await WriteErrorAsync(context, 0, "Transport unknown").ConfigureAwait(false);
            return;
        }

        if (!IsValidOrigin(request.Headers.Origin))
        {
            await WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        var sid = query["sid"];
        if (!StringValues.IsNullOrEmpty(sid))
        {
            if (!_sessions.TryGetValue(sid.ToString(), out var session) || !session.CheckAlive())
            {
                await WriteErrorAsync(context, 1, "Session ID unknown").ConfigureAwait(false);
                return;
            }

            if (isWebSocket)
            {
                await HandleUpgradeAsync(context, session).ConfigureAwait(false);
                return;
            }

            if (session.Transport != EngineTransport.Polling)
            {
                await WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
                return;
            }

            if (HttpMethods.IsGet(request.Method))
            {
                await session.Polling!.HandlePollAsync(context).ConfigureAwait(false);
            }
            else if (HttpMethods.IsPost(request.Method))
            {
                await session.Polling!.HandlePostAsync(context).ConfigureAwait(false);
            }
            else
            {
                await WriteErrorAsync(context, 2, "Bad handshake method").ConfigureAwait(false);
            }

            return;
        }

        if (!HttpMethods.IsGet(request.Method))
        {
            await WriteErrorAsync(context, 2, "Bad handshake method").ConfigureAwait(false);
            return;
        }

        if (isWebSocket && !WebSocketAccept.IsWebSocketRequest(context))
        {
            await WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        if (query["EIO"] != "4")
        {
            await WriteErrorAsync(context, 5, "Unsupported protocol version").ConfigureAwait(false);
            return;
        }

        if (isWebSocket)
        {
            await HandleWebSocketHandshakeAsync(context).ConfigureAwait(false);
        }
        else
        {
            await HandlePollingHandshakeAsync(context).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether a request head read off a connection is a WebSocket handshake this server takes there
    /// itself: a valid handshake for a new session, or a probe for a live polling session
    /// (<paramref name="probeSession"/>). Anything else, errors included, is left to the HTTP endpoint,
    /// which answers it exactly as before.
    /// </summary>
    internal bool CanTakeWebSocket(RequestHead head, out EngineSession? probeSession)
    {
        probeSession = null;
        if (!Options.AllowWebSocket
            || head.QueryValue("transport") != "websocket"
            || head.HeaderValue("Host") is null
            || head.HeaderValue("Content-Length") is not null
            || head.HeaderValue("Transfer-Encoding") is not null
            || head.HeaderValue("Connection")?.Contains("upgrade", StringComparison.OrdinalIgnoreCase) != true
            || !WebSocketAccept.HasHandshakeHeaders(head.HeaderValue("Upgrade"), head.HeaderValue("Sec-WebSocket-Version"), head.HeaderValue("Sec-WebSocket-Key"))
            || !IsValidOrigin(head.HeaderValue("Origin")))
        {
            return false;
        }

        var sid = head.QueryValue("sid");
        if (string.IsNullOrEmpty(sid))
        {
            return head.QueryValue("EIO") == "4";
        }

        if (_sessions.TryGetValue(sid, out var session) && session.CheckAlive() && session.Transport == EngineTransport.Polling)
        {
            probeSession = session;
            return true;
        }

        return false;
    }

    private EngineSession CreateSession(EngineHandshakeData handshake, EngineTransport transport)
    {
        var id = NewSessionId();
        var session = new EngineSession(this, id, handshake, transport);
        _sessions[id] = session;
        try
        {
            Handler.OnOpen(session);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(ex);
        }

        return session;
    }

    private async Task HandlePollingHandshakeAsync(HttpContext context)
    {
        var session = CreateSession(EngineHandshakeData.From(context, copy: true, Options.Time.GetUtcNow()), EngineTransport.Polling);
        await WritePollingBodyAsync(context, OpenPacket(session.Id, Options.AllowUpgrades && Options.AllowWebSocket)).ConfigureAwait(false);
    }

    private async Task HandleWebSocketHandshakeAsync(HttpContext context)
    {
        var channel = await WebSocketAccept.AcceptAsync(context).ConfigureAwait(false);
        await RunNewWebSocketSessionAsync(channel, EngineHandshakeData.From(context, copy: false, Options.Time.GetUtcNow())).ConfigureAwait(false);
    }

    /// <summary>A WebSocket-first session: the open packet goes first, then the session runs on the channel.</summary>
    internal Task RunNewWebSocketSessionAsync(WebSocketChannel channel, EngineHandshakeData handshake)
    {
        var session = CreateSession(handshake, EngineTransport.WebSocket);
        channel.WriteFrame(WebSocketOpcode.Text, OpenPacket(session.Id, false));
        return new WebSocketTransport(session, channel).RunAsync(upgraded: false);
    }

    private async Task HandleUpgradeAsync(HttpContext context, EngineSession session)
    {
        if (!WebSocketAccept.IsWebSocketRequest(context))
        {
            await WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        var channel = await WebSocketAccept.AcceptAsync(context).ConfigureAwait(false);
        await RunProbeAsync(channel, session).ConfigureAwait(false);
    }

    /// <summary>A probe on a polling session: when it completes, the session moves to this WebSocket.</summary>
    internal async Task RunProbeAsync(WebSocketChannel channel, EngineSession session)
    {
        if (!session.TryBeginProbe())
        {
            // Node accepts the upgrade and then closes it; the client sees a closed probe, not an HTTP error.
            await CloseQuietlyAsync(channel).ConfigureAwait(false);
            return;
        }

        var webSocket = new WebSocketTransport(session, channel);
        bool upgraded;
        using (var timeout = new CancellationTokenSource(Options.UpgradeTimeout, Options.Time))
        {
            upgraded = await webSocket.ProbeAsync(timeout.Token).ConfigureAwait(false);
        }

        if (!upgraded || session.IsClosed)
        {
            session.EndProbe();
            await CloseQuietlyAsync(channel).ConfigureAwait(false);
            return;
        }

        await webSocket.RunAsync(upgraded: true).ConfigureAwait(false);
    }

    /// <summary>Closes a WebSocket that never became a session's transport: a close frame, then the connection ends.</summary>
    private static async Task CloseQuietlyAsync(WebSocketChannel channel)
    {
        try
        {
            channel.WriteClose(1000);
            await channel.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or ObjectDisposedException)
        {
        }

        channel.ReleaseBuffers();
        channel.Complete();
    }

    private byte[] OpenPacket(string sid, bool upgrades)
    {
        var json = $"0{{\"sid\":\"{sid}\",\"upgrades\":{(upgrades ? "[\"websocket\"]" : "[]")},\"pingInterval\":{(long)Options.PingInterval.TotalMilliseconds},\"pingTimeout\":{(long)Options.PingTimeout.TotalMilliseconds},\"maxPayload\":{Options.MaxPayload}}}";
        return Encoding.UTF8.GetBytes(json);
    }

    private string NewSessionId()
    {
        // 11 random bytes + a 4-byte counter, URL-safe base64: 20 characters, like Node's engine.io.
        Span<byte> bytes = stackalloc byte[15];
        RandomNumberGenerator.Fill(bytes[..11]);
        var counter = Interlocked.Increment(ref _counter);
        bytes[11] = (byte)(counter >> 24);
        bytes[12] = (byte)(counter >> 16);
        bytes[13] = (byte)(counter >> 8);
        bytes[14] = (byte)counter;
        return System.Buffers.Text.Base64Url.EncodeToString(bytes);
    }

    private static bool IsValidOrigin(StringValues origin)
    {
        foreach (var value in origin)
        {
            foreach (var c in value ?? string.Empty)
            {
                if (c != '\t' && (c < 0x20 || c > 0x7e))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>The answer to a polling GET: the handshake's open packet, or the packets waiting for the client.</summary>
    internal static async Task WritePollingBodyAsync(HttpContext context, byte[] body)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; charset=UTF-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    internal static async Task WriteErrorAsync(HttpContext context, int code, string message)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        var body = Encoding.UTF8.GetBytes($"{{\"code\":{code},\"message\":\"{message}\"}}");
        context.Response.StatusCode = code == 4 ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        try
        {
            await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
        }
    }
}
