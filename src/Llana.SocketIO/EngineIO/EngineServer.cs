using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;

namespace Llana.SocketIO.EngineIO;

/// <summary>Engine.IO settings (a subset of <see cref="SocketIOOptions"/>).</summary>
internal sealed class EngineServerOptions
{
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(25);

    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan UpgradeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public long MaxPayload { get; init; } = 1_000_000;

    public int OutboundQueueLimit { get; init; } = 1024;

    public bool AllowUpgrades { get; init; } = true;

    public bool AllowPolling { get; init; } = true;

    public bool AllowWebSocket { get; init; } = true;
}

/// <summary>The layer above Engine.IO (Socket.IO, or the conformance echo).</summary>
internal interface IEngineHandler
{
    /// <summary>Called once per session, before the handshake response is written.</summary>
    void OnOpen(EngineSession session);

    /// <summary>A message packet; <paramref name="data"/> is only valid during the call.</summary>
    ValueTask OnMessageAsync(EngineSession session, ReadOnlyMemory<byte> data, bool binary);

    void OnClose(EngineSession session, string reason);
}

/// <summary>
/// What the first HTTP request of a session looked like. A polling handshake request is recycled when it
/// ends, so its headers and query are copied; a WebSocket handshake request lives as long as the session,
/// so they are referenced. A handshake taken on the connection itself keeps only the raw request head and
/// parses headers and query the first time they are asked for (an idle connection then holds no copy).
/// </summary>
internal sealed class EngineHandshakeData
{
    private readonly RequestHead? _head;
    private IHeaderDictionary? _headers;
    private IQueryCollection? _query;
    private readonly string? _url;

    public EngineHandshakeData(IHeaderDictionary headers, IQueryCollection query, IPAddress? remoteAddress, string url, bool secure, DateTimeOffset time)
    {
        _headers = headers;
        _query = query;
        _url = url;
        RemoteAddress = remoteAddress;
        Secure = secure;
        Time = time;
        ForceBase64 = query["b64"] == "1";
    }

    public EngineHandshakeData(RequestHead head, IPAddress? remoteAddress, bool secure, DateTimeOffset time)
    {
        _head = head;
        RemoteAddress = remoteAddress;
        Secure = secure;
        Time = time;
        ForceBase64 = head.QueryValue("b64") == "1";
    }

    public IHeaderDictionary Headers => _headers ??= _head!.ParseHeaders();

    public IQueryCollection Query => _query ??= new QueryCollection(QueryHelpers.ParseQuery(_head!.QueryString));

    public IPAddress? RemoteAddress { get; }

    public string Url => _url ?? _head!.Target;

    public bool Secure { get; }

    public DateTimeOffset Time { get; }

    /// <summary>The client asked for binary as base64 text (<c>b64=1</c>, engine.io-client <c>forceBase64</c>).</summary>
    public bool ForceBase64 { get; }

    public static EngineHandshakeData From(HttpContext context, bool copy)
    {
        var request = context.Request;
        IHeaderDictionary headers = request.Headers;
        IQueryCollection query = request.Query;
        if (copy)
        {
            var headerCopy = new HeaderDictionary(request.Headers.Count);
            foreach (var header in request.Headers)
            {
                headerCopy[header.Key] = header.Value;
            }

            var queryCopy = new Dictionary<string, StringValues>(request.Query.Count, StringComparer.OrdinalIgnoreCase);
            foreach (var item in request.Query)
            {
                queryCopy[item.Key] = item.Value;
            }

            headers = headerCopy;
            query = new QueryCollection(queryCopy);
        }

        return new EngineHandshakeData(headers, query, context.Connection.RemoteIpAddress, request.Path + request.QueryString, request.IsHttps, DateTimeOffset.UtcNow);
    }
}

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
                await session.HandlePollAsync(context).ConfigureAwait(false);
            }
            else if (HttpMethods.IsPost(request.Method))
            {
                await session.HandlePostAsync(context).ConfigureAwait(false);
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
        var session = CreateSession(EngineHandshakeData.From(context, copy: true), EngineTransport.Polling);
        await WritePollingBodyAsync(context, OpenPacket(session.Id, Options.AllowUpgrades && Options.AllowWebSocket)).ConfigureAwait(false);
    }

    private async Task HandleWebSocketHandshakeAsync(HttpContext context)
    {
        var channel = await WebSocketAccept.AcceptAsync(context).ConfigureAwait(false);
        await RunNewWebSocketSessionAsync(channel, EngineHandshakeData.From(context, copy: false)).ConfigureAwait(false);
    }

    /// <summary>A WebSocket-first session: the open packet goes first, then the session runs on the channel.</summary>
    internal Task RunNewWebSocketSessionAsync(WebSocketChannel channel, EngineHandshakeData handshake)
    {
        var session = CreateSession(handshake, EngineTransport.WebSocket);
        channel.WriteFrame(WebSocketOpcode.Text, OpenPacket(session.Id, false));
        return session.RunWebSocketAsync(channel, upgraded: false);
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

        bool upgraded;
        using (var timeout = new CancellationTokenSource(Options.UpgradeTimeout))
        {
            upgraded = await session.ReceiveLoopAsync(channel, probe: true, timeout.Token).ConfigureAwait(false);
        }

        if (!upgraded || session.IsClosed)
        {
            session.EndProbe();
            await CloseQuietlyAsync(channel).ConfigureAwait(false);
            return;
        }

        await session.RunWebSocketAsync(channel, upgraded: true).ConfigureAwait(false);
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

/// <summary>RFC 6455 server handshake over <see cref="IHttpUpgradeFeature"/>: no middleware needed, no keep-alive pings, no compression.</summary>
internal static class WebSocketAccept
{
    public static bool IsWebSocketRequest(HttpContext context)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest || !HttpMethods.IsGet(context.Request.Method))
        {
            return false;
        }

        var headers = context.Request.Headers;
        return HasHandshakeHeaders(headers.Upgrade.ToString(), headers.SecWebSocketVersion.ToString(), headers.SecWebSocketKey.ToString());
    }

    /// <summary>The RFC 6455 handshake headers, however the request was read (HTTP request or a head read off the connection).</summary>
    public static bool HasHandshakeHeaders(string? upgrade, string? version, string? key) =>
        upgrade?.Contains("websocket", StringComparison.OrdinalIgnoreCase) == true && version == "13" && !string.IsNullOrWhiteSpace(key);

    public static async Task<WebSocketChannel> AcceptAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers.SecWebSocketAccept = WebSocketChannel.AcceptKey(context.Request.Headers.SecWebSocketKey.ToString());
        var stream = await context.Features.Get<IHttpUpgradeFeature>()!.UpgradeAsync().ConfigureAwait(false);

        // Zero-byte reads: an idle connection holds no receive buffer.
        var input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true, useZeroByteReads: true));
        var output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        return new WebSocketChannel(input, output, context.Abort);
    }
}
