using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
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
/// so they are referenced (an idle WebSocket connection then holds no copy).
/// </summary>
internal sealed class EngineHandshakeData(IHeaderDictionary headers, IQueryCollection query, IPAddress? remoteAddress, PathString path, QueryString queryString, bool secure, DateTimeOffset time)
{
    public IHeaderDictionary Headers { get; } = headers;

    public IQueryCollection Query { get; } = query;

    public IPAddress? RemoteAddress { get; } = remoteAddress;

    public string Url => path + queryString;

    public bool Secure { get; } = secure;

    public DateTimeOffset Time { get; } = time;

    /// <summary>The client asked for binary as base64 text (<c>b64=1</c>, engine.io-client <c>forceBase64</c>).</summary>
    public bool ForceBase64 => Query["b64"] == "1";

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

        return new EngineHandshakeData(headers, query, context.Connection.RemoteIpAddress, request.Path, request.QueryString, request.IsHttps, DateTimeOffset.UtcNow);
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

    private EngineSession CreateSession(HttpContext context, EngineTransport transport)
    {
        var id = NewSessionId();
        var session = new EngineSession(this, id, EngineHandshakeData.From(context, copy: transport == EngineTransport.Polling), transport);
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
        var session = CreateSession(context, EngineTransport.Polling);
        var body = OpenPacket(session.Id, Options.AllowUpgrades && Options.AllowWebSocket);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; charset=UTF-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    private async Task HandleWebSocketHandshakeAsync(HttpContext context)
    {
        var webSocket = await WebSocketAccept.AcceptAsync(context).ConfigureAwait(false);
        var session = CreateSession(context, EngineTransport.WebSocket);
        try
        {
            await webSocket.SendAsync(OpenPacket(session.Id, false), WebSocketMessageType.Text, true, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            session.Close("transport error", abort: true);
            webSocket.Dispose();
            return;
        }

        await session.RunWebSocketAsync(webSocket, upgraded: false).ConfigureAwait(false);
    }

    private async Task HandleUpgradeAsync(HttpContext context, EngineSession session)
    {
        if (!WebSocketAccept.IsWebSocketRequest(context))
        {
            await WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        var webSocket = await WebSocketAccept.AcceptAsync(context).ConfigureAwait(false);
        if (!session.TryBeginProbe())
        {
            // Node accepts the upgrade and then closes it; the client sees a closed probe, not an HTTP error.
            await CloseQuietlyAsync(webSocket).ConfigureAwait(false);
            return;
        }

        bool upgraded;
        using (var timeout = new CancellationTokenSource(Options.UpgradeTimeout))
        {
            upgraded = await session.ReceiveLoopAsync(webSocket, probe: true, timeout.Token).ConfigureAwait(false);
        }

        if (!upgraded || session.IsClosed)
        {
            session.EndProbe();
            await CloseQuietlyAsync(webSocket).ConfigureAwait(false);
            return;
        }

        await session.RunWebSocketAsync(webSocket, upgraded: true).ConfigureAwait(false);
    }

    private static async Task CloseQuietlyAsync(WebSocket webSocket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            if (webSocket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await webSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        finally
        {
            webSocket.Dispose();
        }
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
        return headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase)
            && headers.SecWebSocketVersion == "13"
            && headers.SecWebSocketKey.ToString().Length > 0;
    }

    public static async Task<WebSocket> AcceptAsync(HttpContext context)
    {
        var key = context.Request.Headers.SecWebSocketKey.ToString().Trim();
        var hash = SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
        var headers = context.Response.Headers;
        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers.SecWebSocketAccept = Convert.ToBase64String(hash);
        var stream = await context.Features.Get<IHttpUpgradeFeature>()!.UpgradeAsync().ConfigureAwait(false);
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
        {
            IsServer = true,
            KeepAliveInterval = TimeSpan.Zero,
        });
    }
}
