using System.IO.Pipelines;
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
/// Over WebSocket a packet is framed and flushed by the thread that sends it while the socket keeps up;
/// only when the peer falls behind do packets wait in the bounded queue, drained as flushes complete.
/// </summary>
internal sealed class EngineSession
{
    private static readonly TimerCallback HeartbeatCallback = static state => ((EngineSession)state!).OnHeartbeat();

    private readonly EngineServer _server;
    private readonly int _queueLimit;
    private Queue<OutboundMessage>? _queue;
    private bool _queueCompleted;
    private bool _flushing;
    private bool _deferred;
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
    private WebSocketChannel? _channel;
    private bool _readEnded;

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
    /// Sends a message: over a WebSocket that keeps up it is framed and flushed here (or at the end of the
    /// open <see cref="SendBatch"/>); otherwise it is queued. Never blocks and never buffers without bound:
    /// when the queue is full the session is closed (the peer is not reading) and false is returned.
    /// </summary>
    public bool Send(in OutboundMessage message)
    {
        var overflow = false;
        lock (_lock)
        {
            if (_queueCompleted)
            {
                return false;
            }

            if (_channel is { } channel && !_flushing && _queue is not { Count: > 0 })
            {
                WriteLocked(channel, message);
                if (!_deferred)
                {
                    if (SendBatch.Current is { } batch && batch.Defer(this))
                    {
                        _deferred = true;
                    }
                    else
                    {
                        FlushLocked(channel);
                    }
                }

                return true;
            }

            var queue = _queue ??= new Queue<OutboundMessage>(4);
            if (queue.Count >= _queueLimit)
            {
                overflow = true;
            }
            else
            {
                queue.Enqueue(message);
            }
        }

        if (overflow)
        {
            _server.Log.QueueFull(Id);
            Close("transport error", abort: true);
            return false;
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

    /// <summary>
    /// Closes the session once; the layer above is told through the handler. A WebSocket gets what was
    /// queued, then a close frame, and two seconds to answer it; <paramref name="abort"/> cuts it at once.
    /// </summary>
    public void Close(string reason, bool abort = false, bool fromClient = false)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        WebSocketChannel? channel;
        lock (_lock)
        {
            _pollTerminator = fromClient ? (byte)'6' : (byte)'1';
            _abortTransport = abort;
            _queueCompleted = true;
            channel = _channel;
            _heartbeat.Dispose();
            if (channel is not null && !abort && !_flushing)
            {
                channel.WriteClose(1000);
                FlushLocked(channel);
            }
        }

        _server.Remove(this);
        _server.Log.SessionClosed(Id, reason);
        Volatile.Read(ref _pollWaiter)?.TrySetResult();
        if (channel is not null)
        {
            if (abort)
            {
                channel.Abort();
            }
            else if (!channel.CloseReceived && !Volatile.Read(ref _readEnded))
            {
                _ = AbortUnlessClosedAsync(channel);
            }
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

    private static async Task AbortUnlessClosedAsync(WebSocketChannel channel)
    {
        await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        if (!channel.CloseReceived)
        {
            channel.Abort();
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

        await EngineServer.WritePollingBodyAsync(context, EngineCodec.EncodePayload(messages)).ConfigureAwait(false);
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
    public async Task RunWebSocketAsync(WebSocketChannel channel, bool upgraded)
    {
        lock (_lock)
        {
            _channel = channel;
            if (upgraded)
            {
                Transport = EngineTransport.WebSocket;
                Probing = false;
                Upgrading = false;
            }

            // Packets queued while polling or probing go first, in order (after the open packet of a new session).
            if (!_flushing)
            {
                WriteQueuedLocked(channel);
                FlushLocked(channel);
            }
        }

        if (upgraded)
        {
            Volatile.Read(ref _pollWaiter)?.TrySetResult();
        }

        await ReceiveLoopAsync(channel, probe: false).ConfigureAwait(false);
        Volatile.Write(ref _readEnded, true);
        Close(channel.EndReason);
        lock (_lock)
        {
            channel.ReleaseBuffers();
            channel.Complete();
        }
    }

    /// <summary>
    /// Reads messages until the connection ends. In probe mode, returns true when the client sent <c>5</c>
    /// (the caller then switches the session to this WebSocket); false means the probe failed.
    /// </summary>
    public async Task<bool> ReceiveLoopAsync(WebSocketChannel channel, bool probe, CancellationToken cancellationToken = default)
    {
        var max = Options.MaxPayload;
        var input = channel.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                var needMore = false;
                try
                {
                    while (true)
                    {
                        var read = channel.TryRead(ref buffer, max, out var message, out var reply);
                        if (read == WebSocketRead.NeedMore)
                        {
                            needMore = true;
                            break;
                        }

                        if (read == WebSocketRead.Ping)
                        {
                            Reply(channel, WebSocketOpcode.Pong, reply!);
                            continue;
                        }

                        if (read == WebSocketRead.End)
                        {
                            Reply(channel, WebSocketOpcode.Close, reply!);
                            return false;
                        }

                        using (message)
                        {
                            var outcome = probe ? await OnProbeMessageAsync(channel, message).ConfigureAwait(false) : await OnWebSocketMessageAsync(message).ConfigureAwait(false);
                            if (outcome is { } done)
                            {
                                return done;
                            }
                        }
                    }

                    if (result.IsCompleted || result.IsCanceled)
                    {
                        return false;
                    }
                }
                finally
                {
                    // Leaving early (probe done, session over) keeps what follows readable without new data arriving.
                    input.AdvanceTo(buffer.Start, needMore ? buffer.End : buffer.Start);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            return false;
        }
    }

    /// <summary>null: keep reading; false: the session ended.</summary>
    private async ValueTask<bool?> OnWebSocketMessageAsync(WebSocketMessage message)
    {
        EnginePacket packet;
        if (message.Binary)
        {
            packet = new EnginePacket(EnginePacketType.Message, message.Data, true);
        }
        else if (message.Data.Span is [(byte)'b', ..])
        {
            // forceBase64 clients send binary as "b<base64>" text frames.
            var decoded = new List<EnginePacket>(1);
            if (!EngineCodec.TryParsePayload(message.Data, decoded) || decoded.Count != 1)
            {
                Close("parse error");
                return false;
            }

            packet = decoded[0];
        }
        else if (!EngineCodec.TryParseText(message.Data, out packet))
        {
            Close("parse error");
            return false;
        }

        if (!await OnPacketAsync(packet).ConfigureAwait(false))
        {
            Close("parse error");
            return false;
        }

        return IsClosed ? false : null;
    }

    /// <summary>The probe exchange: <c>2probe</c> is answered with <c>3probe</c>, <c>5</c> completes it; anything else fails it.</summary>
    private async ValueTask<bool?> OnProbeMessageAsync(WebSocketChannel channel, WebSocketMessage message)
    {
        var text = message.Data.Span;
        if (!message.Binary && text.SequenceEqual("2probe"u8))
        {
            lock (_lock)
            {
                channel.WriteFrame(WebSocketOpcode.Text, EngineCodec.ProbeFrame);
            }

            await channel.FlushAsync().ConfigureAwait(false);
            MarkUpgrading();
            return null;
        }

        if (!message.Binary && text.SequenceEqual("5"u8))
        {
            return true;
        }

        Reply(channel, WebSocketOpcode.Close, [0x03, 0xEA]);
        return false;
    }

    /// <summary>Answers a ping or a close. While a flush is pending the pipe is not touched: a close then goes after the queue.</summary>
    private void Reply(WebSocketChannel channel, WebSocketOpcode opcode, byte[] payload)
    {
        lock (_lock)
        {
            if (channel == _channel)
            {
                if (_flushing)
                {
                    return;
                }

                channel.WriteControl(opcode, payload);
                FlushLocked(channel);
                return;
            }

            channel.WriteControl(opcode, payload);
        }

        // A probe socket has no other writer.
        _ = channel.FlushAsync();
    }

    /// <summary>Frames one queued packet (text, binary, or b64 text) with its attachments. Caller holds the lock.</summary>
    private void WriteLocked(WebSocketChannel channel, in OutboundMessage message)
    {
        WriteFrameLocked(channel, message.Frame.Span, message.Binary);
        if (message.Attachments is { } attachments)
        {
            foreach (var attachment in attachments)
            {
                WriteFrameLocked(channel, attachment.Span, true);
            }
        }
    }

    private void WriteFrameLocked(WebSocketChannel channel, ReadOnlySpan<byte> frame, bool binary)
    {
        if (!binary)
        {
            channel.WriteFrame(WebSocketOpcode.Text, frame);
        }
        else if (Handshake.ForceBase64)
        {
            channel.WriteBase64Frame(frame);
        }
        else
        {
            channel.WriteFrame(WebSocketOpcode.Binary, frame);
        }
    }

    /// <summary>Writes everything queued, and the close frame once the session is closed. False: nothing was written.</summary>
    private bool WriteQueuedLocked(WebSocketChannel channel)
    {
        var wrote = false;
        while (_queue is { Count: > 0 } queue)
        {
            WriteLocked(channel, queue.Dequeue());
            wrote = true;
        }

        if (_queueCompleted && !_abortTransport && !channel.CloseSent)
        {
            channel.WriteClose(1000);
            wrote = true;
        }

        return wrote;
    }

    /// <summary>Flushes what a <see cref="SendBatch"/> left written but unflushed.</summary>
    internal void FlushDeferred()
    {
        lock (_lock)
        {
            if (_deferred)
            {
                _deferred = false;
                if (_channel is { } channel && !_flushing)
                {
                    FlushLocked(channel);
                }
            }
        }
    }

    /// <summary>Flushes; when the peer is not keeping up, the flush completes in the background and drains the queue. Caller holds the lock.</summary>
    private void FlushLocked(WebSocketChannel channel)
    {
        ValueTask<FlushResult> flush;
        try
        {
            flush = channel.FlushAsync();
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException or OperationCanceledException)
        {
            _flushing = true;
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Close("transport error", abort: true), this, preferLocal: false);
            return;
        }

        if (flush.IsCompletedSuccessfully && !flush.Result.IsCompleted)
        {
            return;
        }

        _flushing = true;
        _ = DrainAsync(channel, flush);
    }

    private async Task DrainAsync(WebSocketChannel channel, ValueTask<FlushResult> flush)
    {
        try
        {
            while (true)
            {
                var result = await flush.ConfigureAwait(false);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }

                lock (_lock)
                {
                    if (!WriteQueuedLocked(channel))
                    {
                        _flushing = false;
                        return;
                    }

                    flush = channel.FlushAsync();
                    if (flush.IsCompletedSuccessfully && !flush.Result.IsCompleted)
                    {
                        _flushing = false;
                        return;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException or OperationCanceledException or Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
        }

        // The peer is gone: nothing more can be written.
        Close("transport error", abort: true);
    }
}
