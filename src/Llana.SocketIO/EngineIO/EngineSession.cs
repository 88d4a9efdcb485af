using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Http;

namespace Llana.SocketIO.EngineIO;

internal enum EngineTransport
{
    Polling,
    WebSocket,
}

/// <summary>
/// One Engine.IO connection: heartbeat (a per-session timer with millisecond precision), the bounded
/// outbound queue, and the state machine of the active transport (polling, probing, upgraded).
/// </summary>
internal sealed class EngineSession : IValueTaskSource<bool>
{
    private static readonly TimerCallback HeartbeatCallback = static state => ((EngineSession)state!).OnHeartbeat();

    private readonly EngineServer _server;
    private readonly int _queueLimit;
    private Queue<OutboundMessage>? _queue;
    private bool _queueCompleted;
    private bool _writerWaiting;
    private ManualResetValueTaskSourceCore<bool> _writerSignal = new() { RunContinuationsAsynchronously = true };
    private readonly Lock _lock = new();
    private readonly Timer _heartbeat;
    private readonly int _pingIntervalMs;
    private readonly int _pingTimeoutMs;
    private long _pongDeadline;
    private long _pingDue;
    private bool _awaitingPong;
    private int _closed;
    private bool _abortTransport;
    private TaskCompletionSource? _pollWaiter;
    private bool _postActive;
    private byte _pollTerminator = (byte)'1';
    private WebSocket? _webSocket;

    public EngineSession(EngineServer server, string id, EngineHandshakeData handshake, EngineTransport transport)
    {
        _server = server;
        Id = id;
        Handshake = handshake;
        Transport = transport;
        _pingIntervalMs = (int)server.Options.PingInterval.TotalMilliseconds;
        _pingTimeoutMs = (int)server.Options.PingTimeout.TotalMilliseconds;
        _queueLimit = server.Options.OutboundQueueLimit;

        // Started before the handshake response is written: the first ping is due pingInterval after creation.
        _pingDue = Environment.TickCount64 + _pingIntervalMs;
        _heartbeat = new Timer(HeartbeatCallback, this, _pingIntervalMs, Timeout.Infinite);
    }

    public string Id { get; }

    public EngineHandshakeData Handshake { get; }

    public EngineTransport Transport { get; private set; }

    /// <summary>A WebSocket probe is open on this polling session (2probe may or may not have arrived).</summary>
    public bool Probing { get; private set; }

    /// <summary>2probe was answered; polling GETs get <c>6</c> until the client sends <c>5</c>.</summary>
    public bool Upgrading { get; private set; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>State owned by the layer above (the Socket.IO client connection).</summary>
    public object? Tag { get; set; }

    public EngineServerOptions Options => _server.Options;

    /// <summary>
    /// Queues a message. Never blocks and never buffers without bound: when the queue is full the
    /// session is closed (the peer is not reading) and false is returned.
    /// </summary>
    public bool Send(in OutboundMessage message)
    {
        var wakeWriter = false;
        var overflow = false;
        lock (_lock)
        {
            if (_queueCompleted)
            {
                return false;
            }

            var queue = _queue ??= new Queue<OutboundMessage>(4);
            if (queue.Count >= _queueLimit)
            {
                overflow = true;
            }
            else
            {
                queue.Enqueue(message);
                wakeWriter = _writerWaiting;
                _writerWaiting = false;
            }
        }

        if (overflow)
        {
            _server.Log.QueueFull(Id);
            Close("transport error", abort: true);
            return false;
        }

        if (wakeWriter)
        {
            _writerSignal.SetResult(true);
        }

        Volatile.Read(ref _pollWaiter)?.TrySetResult();
        return true;
    }

    private int QueuedCount
    {
        get
        {
            lock (_lock)
            {
                return _queue?.Count ?? 0;
            }
        }
    }

    /// <summary>A polling GET is waiting for data (for tests and diagnostics).</summary>
    internal bool PollPending => Volatile.Read(ref _pollWaiter) is not null;

    /// <summary>What is waiting to be sent (for tests and diagnostics).</summary>
    internal OutboundMessage[] SnapshotQueue()
    {
        lock (_lock)
        {
            return _queue?.ToArray() ?? [];
        }
    }

    private bool TryDequeue(out OutboundMessage message)
    {
        lock (_lock)
        {
            if (_queue is { Count: > 0 } queue)
            {
                message = queue.Dequeue();
                return true;
            }
        }

        message = default;
        return false;
    }

    /// <summary>Waits until a message is queued (true) or the queue is completed and empty (false). One waiter at a time.</summary>
    private ValueTask<bool> WaitToSendAsync()
    {
        lock (_lock)
        {
            if (_queue is { Count: > 0 })
            {
                return new ValueTask<bool>(true);
            }

            if (_queueCompleted)
            {
                return new ValueTask<bool>(false);
            }

            _writerSignal.Reset();
            _writerWaiting = true;
            return new ValueTask<bool>(this, _writerSignal.Version);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _writerSignal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _writerSignal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _writerSignal.OnCompleted(continuation, state, token, flags);

    /// <summary>Closes the session once; the layer above is told through the handler.</summary>
    public void Close(string reason, bool abort = false, bool fromClient = false)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        WebSocket? webSocket;
        lock (_lock)
        {
            _pollTerminator = fromClient ? (byte)'6' : (byte)'1';
            _abortTransport = abort;
            webSocket = _webSocket;
            _heartbeat.Dispose();
        }

        _server.Remove(this);
        _server.Log.SessionClosed(Id, reason);
        bool wakeWriter;
        lock (_lock)
        {
            _queueCompleted = true;
            wakeWriter = _writerWaiting;
            _writerWaiting = false;
        }

        if (wakeWriter)
        {
            _writerSignal.SetResult(false);
        }

        Volatile.Read(ref _pollWaiter)?.TrySetResult();
        if (abort)
        {
            webSocket?.Abort();
        }

        try
        {
            _server.Handler.OnClose(this, reason);
        }
        catch (Exception ex)
        {
            _server.Log.HandlerFailed(ex);
        }
    }

    /// <summary>Lazy deadline check, so that a request racing the timer never sees an expired session.</summary>
    public bool CheckAlive()
    {
        if (IsClosed)
        {
            return false;
        }

        bool expired;
        lock (_lock)
        {
            // Deadlines come from when the ping was due, not from when a busy timer got to send it.
            var deadline = _awaitingPong ? _pongDeadline : _pingDue + _pingTimeoutMs;
            expired = Environment.TickCount64 >= deadline;
        }

        if (expired)
        {
            Close("ping timeout");
        }

        return !IsClosed;
    }

    private void OnHeartbeat()
    {
        var timedOut = false;
        lock (_lock)
        {
            if (IsClosed)
            {
                return;
            }

            if (_awaitingPong)
            {
                var remaining = _pongDeadline - Environment.TickCount64;
                if (remaining > 0)
                {
                    _heartbeat.Change(remaining, Timeout.Infinite);
                    return;
                }

                timedOut = true;
            }
            else
            {
                _awaitingPong = true;
                _pongDeadline = _pingDue + _pingTimeoutMs;
                _heartbeat.Change(Math.Max(0, _pongDeadline - Environment.TickCount64), Timeout.Infinite);
            }
        }

        if (timedOut)
        {
            Close("ping timeout");
        }
        else
        {
            Send(new OutboundMessage(EngineCodec.PingFrame, false));
        }
    }

    private void OnPong()
    {
        lock (_lock)
        {
            if (_awaitingPong && !IsClosed)
            {
                _awaitingPong = false;
                _pingDue = Environment.TickCount64 + _pingIntervalMs;
                _heartbeat.Change(_pingIntervalMs, Timeout.Infinite);
            }
        }
    }

    /// <summary>Handles one packet from the client, whichever transport carried it. False = protocol error.</summary>
    public async ValueTask<bool> OnPacketAsync(EnginePacket packet)
    {
        switch (packet.Type)
        {
            case EnginePacketType.Message:
                await _server.Handler.OnMessageAsync(this, packet.Data, packet.Binary).ConfigureAwait(false);
                return true;
            case EnginePacketType.Pong:
                OnPong();
                return true;
            case EnginePacketType.Close:
                Close("transport close", fromClient: true);
                return true;
            case EnginePacketType.Noop:
            case EnginePacketType.Upgrade:
                return true;
            default:
                // A v4 client never pings (the server does) and never sends open.
                return false;
        }
    }

    // ---- HTTP long-polling ----

    public async Task HandlePollAsync(HttpContext context)
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource? duplicate;
        lock (_lock)
        {
            duplicate = _pollWaiter;
            if (duplicate is null)
            {
                _pollWaiter = waiter;
            }
        }

        if (duplicate is not null)
        {
            Close("transport error");
            await EngineServer.WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        if (QueuedCount > 0 || IsClosed || Upgrading || Transport != EngineTransport.Polling)
        {
            waiter.TrySetResult();
        }

        await using (context.RequestAborted.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), waiter).ConfigureAwait(false))
        {
            await waiter.Task.ConfigureAwait(false);
        }

        var messages = new List<OutboundMessage>();
        while (Transport == EngineTransport.Polling && TryDequeue(out var message))
        {
            messages.Add(message);
        }

        lock (_lock)
        {
            _pollWaiter = null;
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            Close("transport close");
            return;
        }

        if (IsClosed)
        {
            messages.Add(new OutboundMessage(_pollTerminator == (byte)'6' ? EngineCodec.NoopFrame : EngineCodec.CloseFrame, false));
        }
        else if (messages.Count == 0)
        {
            messages.Add(new OutboundMessage(EngineCodec.NoopFrame, false));
        }

        var body = EngineCodec.EncodePayload(messages);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain; charset=UTF-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    public async Task HandlePostAsync(HttpContext context)
    {
        bool duplicate;
        lock (_lock)
        {
            duplicate = _postActive;
            _postActive = true;
        }

        if (duplicate)
        {
            Close("transport error");
            await EngineServer.WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        try
        {
            await HandlePostCoreAsync(context).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _postActive = false;
            }
        }
    }

    private async Task HandlePostCoreAsync(HttpContext context)
    {
        var contentType = context.Request.ContentType;
        if (contentType is not null && contentType.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            Close("transport error");
            await EngineServer.WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        var max = Options.MaxPayload;
        if (context.Request.ContentLength > max)
        {
            Close("transport error");
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }

        var body = await ReadBodyAsync(context, max).ConfigureAwait(false);
        if (body is null)
        {
            Close("transport error");
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }

        var packets = new List<EnginePacket>();
        var valid = EngineCodec.TryParsePayload(body.Value, packets);
        foreach (var packet in packets)
        {
            if (IsClosed || !await OnPacketAsync(packet).ConfigureAwait(false))
            {
                valid = IsClosed && valid;
                break;
            }
        }

        if (!valid)
        {
            Close("parse error");
            await EngineServer.WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/html";
        context.Response.ContentLength = 2;
        await context.Response.Body.WriteAsync("ok"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpContext context, long max)
    {
        var expected = context.Request.ContentLength;
        var buffer = new byte[expected is { } n ? (int)n : 4096];
        var length = 0;
        var stream = context.Request.Body;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > max)
                {
                    return null;
                }

                Array.Resize(ref buffer, (int)Math.Min(max + 1, (long)buffer.Length * 2));
            }

            var read = await stream.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
            if (length > max)
            {
                return null;
            }
        }

        return buffer.AsMemory(0, length);
    }

    // ---- WebSocket ----

    /// <summary>Claims the single probe slot of a polling session. False: the caller must close the new WebSocket.</summary>
    public bool TryBeginProbe()
    {
        lock (_lock)
        {
            if (Transport != EngineTransport.Polling || Probing || IsClosed || !Options.AllowUpgrades)
            {
                return false;
            }

            Probing = true;
            return true;
        }
    }

    public void EndProbe()
    {
        lock (_lock)
        {
            Probing = false;
            Upgrading = false;
        }
    }

    public void MarkUpgrading()
    {
        lock (_lock)
        {
            Upgrading = true;
        }

        Volatile.Read(ref _pollWaiter)?.TrySetResult();
    }

    /// <summary>Runs an established WebSocket transport (new session or completed upgrade) until it closes.</summary>
    public async Task RunWebSocketAsync(WebSocket webSocket, bool upgraded)
    {
        lock (_lock)
        {
            _webSocket = webSocket;
            if (upgraded)
            {
                Transport = EngineTransport.WebSocket;
                Probing = false;
                Upgrading = false;
            }
        }

        if (upgraded)
        {
            Volatile.Read(ref _pollWaiter)?.TrySetResult();
        }

        var writer = RunWriterAsync(webSocket);
        try
        {
            await ReceiveLoopAsync(webSocket, probe: false).ConfigureAwait(false);
        }
        finally
        {
            Close("transport close");
        }

        await writer.ConfigureAwait(false);
        webSocket.Dispose();
    }

    /// <summary>
    /// Reads frames until close or error. In probe mode, returns true when the client sent <c>5</c>
    /// (the caller then switches the session to this WebSocket); false means the probe failed.
    /// </summary>
    public async Task<bool> ReceiveLoopAsync(WebSocket webSocket, bool probe, CancellationToken cancellationToken = default)
    {
        var max = Options.MaxPayload;
        try
        {
            while (true)
            {
                // Zero-byte read: an idle connection holds no receive buffer.
                var result = await webSocket.ReceiveAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (webSocket.State == WebSocketState.CloseReceived && probe)
                    {
                        await webSocket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
                    }

                    return false;
                }

                var buffer = ArrayPool<byte>.Shared.Rent(1024);
                var length = 0;
                try
                {
                    var type = result.MessageType;
                    while (!result.EndOfMessage)
                    {
                        if (length == buffer.Length)
                        {
                            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(max + 1, buffer.Length * 2L));
                            buffer.AsSpan(0, length).CopyTo(bigger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = bigger;
                        }

                        result = await webSocket.ReceiveAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                        length += result.Count;
                        if (length > max)
                        {
                            await CloseWebSocketAsync(webSocket, WebSocketCloseStatus.MessageTooBig).ConfigureAwait(false);
                            Close("transport error", abort: true);
                            return false;
                        }
                    }

                    if (probe)
                    {
                        var text = buffer.AsSpan(0, length);
                        if (type == WebSocketMessageType.Text && text.SequenceEqual("2probe"u8))
                        {
                            await webSocket.SendAsync(EngineCodec.ProbeFrame, WebSocketMessageType.Text, true, cancellationToken).ConfigureAwait(false);
                            MarkUpgrading();
                            continue;
                        }

                        if (type == WebSocketMessageType.Text && text.SequenceEqual("5"u8))
                        {
                            return true;
                        }

                        await CloseWebSocketAsync(webSocket, WebSocketCloseStatus.ProtocolError).ConfigureAwait(false);
                        return false;
                    }

                    EnginePacket packet;
                    if (type == WebSocketMessageType.Binary)
                    {
                        packet = new EnginePacket(EnginePacketType.Message, buffer.AsMemory(0, length), true);
                    }
                    else if (length > 0 && buffer[0] == (byte)'b')
                    {
                        // forceBase64 clients send binary as "b<base64>" text frames.
                        var decoded = new List<EnginePacket>(1);
                        if (!EngineCodec.TryParsePayload(buffer.AsMemory(0, length), decoded) || decoded.Count != 1)
                        {
                            Close("parse error");
                            return false;
                        }

                        packet = decoded[0];
                    }
                    else if (!EngineCodec.TryParseText(buffer.AsMemory(0, length), out packet))
                    {
                        Close("parse error");
                        return false;
                    }

                    if (!await OnPacketAsync(packet).ConfigureAwait(false))
                    {
                        Close("parse error");
                        return false;
                    }

                    if (IsClosed)
                    {
                        return false;
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    private async Task RunWriterAsync(WebSocket webSocket)
    {
        try
        {
            while (await WaitToSendAsync().ConfigureAwait(false))
            {
                while (TryDequeue(out var message))
                {
                    await SendFrameAsync(webSocket, message.Frame, message.Binary).ConfigureAwait(false);
                    if (message.Attachments is { } attachments)
                    {
                        foreach (var attachment in attachments)
                        {
                            await SendFrameAsync(webSocket, attachment, true).ConfigureAwait(false);
                        }
                    }
                }
            }

            if (!_abortTransport && webSocket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await CloseWebSocketAsync(webSocket, WebSocketCloseStatus.NormalClosure).ConfigureAwait(false);

                // Give the peer a moment to answer the close frame (that ends the receive loop), then cut.
                for (var i = 0; i < 40 && webSocket.State is not (WebSocketState.Closed or WebSocketState.Aborted); i++)
                {
                    await Task.Delay(50).ConfigureAwait(false);
                }
            }
        }
        catch (Exception)
        {
            // The peer went away: nothing left to tell it.
        }
        finally
        {
            Close("transport error", abort: true);
            webSocket.Abort();
        }
    }

    private ValueTask SendFrameAsync(WebSocket webSocket, ReadOnlyMemory<byte> frame, bool binary)
    {
        if (binary && Handshake.ForceBase64)
        {
            var text = new byte[1 + ((frame.Length + 2) / 3 * 4)];
            text[0] = (byte)'b';
            System.Buffers.Text.Base64.EncodeToUtf8(frame.Span, text.AsSpan(1), out _, out _);
            return webSocket.SendAsync(new ReadOnlyMemory<byte>(text), WebSocketMessageType.Text, true, CancellationToken.None);
        }

        return webSocket.SendAsync(frame, binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text, true, CancellationToken.None);
    }

    private static async Task CloseWebSocketAsync(WebSocket webSocket, WebSocketCloseStatus status)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await webSocket.CloseOutputAsync(status, null, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            webSocket.Abort();
        }
    }
}
