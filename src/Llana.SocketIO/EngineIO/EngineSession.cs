namespace Llana.SocketIO.EngineIO;

/// <summary>
/// One Engine.IO connection: heartbeat (a per-session timer with millisecond precision), the bounded outbound
/// queue, and the upgrade state machine (polling, probing, upgraded). Packets travel on its transports
/// (<see cref="PollingTransport"/>, <see cref="WebSocketTransport"/>), which share its lock.
/// </summary>
internal sealed class EngineSession
{
    private static readonly TimerCallback HeartbeatCallback = static state => ((EngineSession)state!).OnHeartbeat();

    private readonly EngineServer _server;
    private readonly int _queueLimit;
    private Queue<OutboundMessage>? _queue;
    private bool _queueCompleted;
    private readonly ITimer _heartbeat;
    private readonly TimeProvider _time;
    private readonly long _ticksPerMs;
    private readonly int _pingIntervalMs;
    private readonly int _pingTimeoutMs;
    private long _pongDeadline;
    private long _pingDue;
    private bool _awaitingPong;
    private int _closed;
    private bool _abortTransport;
    private bool _closedByClient;
    private WebSocketTransport? _webSocket;
    private CancellationTokenSource? _closedSource;

    public EngineSession(EngineServer server, string id, EngineHandshakeData handshake, EngineTransport transport)
    {
        _server = server;
        Id = id;
        Handshake = handshake;
        Transport = transport;
        Polling = transport == EngineTransport.Polling ? new PollingTransport(this) : null;
        _pingIntervalMs = (int)server.Options.PingInterval.TotalMilliseconds;
        _pingTimeoutMs = (int)server.Options.PingTimeout.TotalMilliseconds;
        _queueLimit = server.Options.OutboundQueueLimit;

        // Started before the handshake response is written: the first ping is due pingInterval after creation.
        _time = server.Options.Time;
        _ticksPerMs = Math.Max(1, _time.TimestampFrequency / 1000);
        _pingDue = NowMs + _pingIntervalMs;
        _heartbeat = _time.CreateTimer(HeartbeatCallback, this, TimeSpan.FromMilliseconds(_pingIntervalMs), Timeout.InfiniteTimeSpan);
    }

    public string Id { get; }

    /// <summary>Milliseconds on the clock's monotonic timestamp (deadlines are kept in these).</summary>
    private long NowMs => _time.GetTimestamp() / _ticksPerMs;

    public EngineHandshakeData Handshake { get; }

    public EngineTransport Transport { get; private set; }

    /// <summary>The long-polling transport of a session that began with polling (null for a WebSocket-first one).</summary>
    public PollingTransport? Polling { get; }

    /// <summary>A WebSocket probe is open on this polling session (2probe may or may not have arrived).</summary>
    public bool Probing { get; private set; }

    /// <summary>2probe was answered; polling GETs get <c>6</c> until the client sends <c>5</c>.</summary>
    public bool Upgrading { get; private set; }

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>The client closed the session (a polling GET then gets a noop rather than a close packet).</summary>
    public bool ClosedByClient => Volatile.Read(ref _closedByClient);

    /// <summary>
    /// Cancelled when the session closes, so that work done for it (a handshake's database lookups) stops. Made on
    /// first use: most sessions never ask.
    /// </summary>
    public CancellationToken Closed
    {
        get
        {
            lock (Lock)
            {
                if (_closedSource is null)
                {
                    _closedSource = new CancellationTokenSource();
                    if (IsClosed)
                    {
                        _closedSource.Cancel();
                    }
                }

                return _closedSource.Token;
            }
        }
    }

    /// <summary>State owned by the layer above (the Socket.IO client connection).</summary>
    public object? Tag { get; set; }

    public EngineServerOptions Options => _server.Options;

    /// <summary>Guards the queue and the transports' state.</summary>
    internal Lock Lock { get; } = new();

    /// <summary>
    /// Sends a message: over a WebSocket that keeps up it is framed and flushed here (or at the end of the
    /// open <see cref="SendBatch"/>); otherwise it is queued. Never blocks and never buffers without bound:
    /// when the queue is full the session is closed (the peer is not reading) and false is returned.
    /// </summary>
    public bool Send(in OutboundMessage message)
    {
        var overflow = false;
        lock (Lock)
        {
            if (_queueCompleted)
            {
                return false;
            }

            if (_webSocket is { FlushingLocked: false } webSocket && _queue is not { Count: > 0 })
            {
                webSocket.SendLocked(message);
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

        WakePoll();
        return true;
    }

    /// <summary>Ends a waiting polling GET: there is something to answer it with.</summary>
    internal void WakePoll() => Polling?.Wake();

    internal int QueuedCount
    {
        get
        {
            lock (Lock)
            {
                return _queue?.Count ?? 0;
            }
        }
    }

    /// <summary>A polling GET is waiting for data (for tests and diagnostics).</summary>
    internal bool PollPending => Polling?.PollPending == true;

    /// <summary>What is waiting to be sent (for tests and diagnostics).</summary>
    internal OutboundMessage[] SnapshotQueue()
    {
        lock (Lock)
        {
            return _queue?.ToArray() ?? [];
        }
    }

    internal bool TryDequeue(out OutboundMessage message)
    {
        lock (Lock)
        {
            return TryDequeueLocked(out message);
        }
    }

    internal bool TryDequeueLocked(out OutboundMessage message)
    {
        if (_queue is { Count: > 0 } queue)
        {
            message = queue.Dequeue();
            return true;
        }

        message = default;
        return false;
    }

    /// <summary>Closed without an abort: a WebSocket ends with a close frame after the queue. Caller holds the lock.</summary>
    internal bool ClosingGracefullyLocked => _queueCompleted && !_abortTransport;

    /// <summary>Whether <paramref name="webSocket"/> is this session's transport (not a probe). Caller holds the lock.</summary>
    internal bool IsTransportLocked(WebSocketTransport webSocket) => _webSocket == webSocket;

    /// <summary>Makes <paramref name="webSocket"/> the transport (a completed upgrade ends the probe). Caller holds the lock.</summary>
    internal void AttachLocked(WebSocketTransport webSocket, bool upgraded)
    {
        _webSocket = webSocket;
        if (upgraded)
        {
            Transport = EngineTransport.WebSocket;
            Probing = false;
            Upgrading = false;
        }
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

        WebSocketTransport? webSocket;
        CancellationTokenSource? closed;
        lock (Lock)
        {
            closed = _closedSource;
            _closedByClient = fromClient;
            _abortTransport = abort;
            _queueCompleted = true;
            webSocket = _webSocket;
            _heartbeat.Dispose();
            webSocket?.CloseLocked(abort);
        }

        _server.Remove(this);
        _server.Log.SessionClosed(Id, reason);
        WakePoll();
        webSocket?.AfterClose(abort);
        closed?.Cancel();
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
        lock (Lock)
        {
            // Deadlines come from when the ping was due, not from when a busy timer got to send it.
            var deadline = _awaitingPong ? _pongDeadline : _pingDue + _pingTimeoutMs;
            expired = NowMs >= deadline;
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
        lock (Lock)
        {
            if (IsClosed)
            {
                return;
            }

            if (_awaitingPong)
            {
                var remaining = _pongDeadline - NowMs;
                if (remaining > 0)
                {
                    _heartbeat.Change(TimeSpan.FromMilliseconds(remaining), Timeout.InfiniteTimeSpan);
                    return;
                }

                timedOut = true;
            }
            else
            {
                _awaitingPong = true;
                _pongDeadline = _pingDue + _pingTimeoutMs;
                _heartbeat.Change(TimeSpan.FromMilliseconds(Math.Max(0, _pongDeadline - NowMs)), Timeout.InfiniteTimeSpan);
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
        lock (Lock)
        {
            if (_awaitingPong && !IsClosed)
            {
                _awaitingPong = false;
                _pingDue = NowMs + _pingIntervalMs;
                _heartbeat.Change(TimeSpan.FromMilliseconds(_pingIntervalMs), Timeout.InfiniteTimeSpan);
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

    /// <summary>Claims the single probe slot of a polling session. False: the caller must close the new WebSocket.</summary>
    public bool TryBeginProbe()
    {
        lock (Lock)
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
        lock (Lock)
        {
            Probing = false;
            Upgrading = false;
        }
    }

    public void MarkUpgrading()
    {
        lock (Lock)
        {
            Upgrading = true;
        }

        WakePoll();
    }
}
