using System.Text.Json;
using Llana.SocketIO.EngineIO;
using Llana.SocketIO.Protocol;

namespace Llana.SocketIO;

/// <summary>
/// One client in one namespace (Node's <c>Socket</c>). Thread-safe: emit from any thread.
/// </summary>
public sealed class SocketIOSocket
{
    private readonly Lock _lock = new();
    private readonly ClientConnection _client;
    private Dictionary<string, List<Func<SocketIOEvent, ValueTask>>>? _handlers;
    private List<Func<SocketIOEvent, ValueTask>>? _anyHandlers;
    private List<Func<string, ValueTask>>? _disconnectHandlers;
    private List<Action<string>>? _disconnectingHandlers;
    private List<OutboundMessage>? _heldDuringReplay;
    private Dictionary<long, TaskCompletionSource<SocketIOArgs>>? _acks;
    private Dictionary<string, object?>? _items;
    private long _nextAckId;
    private int _disconnected;

    internal SocketIOSocket(SocketIONamespace nsp, ClientConnection client, string id, string? pid, SocketIOHandshake handshake)
    {
        Namespace = nsp;
        _client = client;
        Id = id;
        Pid = pid;
        Handshake = handshake;
    }

    /// <summary>Public socket id (also the name of a room that holds only this socket). Never the Engine.IO session id.</summary>
    public string Id { get; }

    /// <summary>The namespace.</summary>
    public SocketIONamespace Namespace { get; }

    /// <summary>The handshake: auth, headers, query, cookies, address.</summary>
    public SocketIOHandshake Handshake { get; }

    /// <summary>Application data; kept across a recovered reconnection.</summary>
    public object? Data { get; set; }

    /// <summary>Application items (not kept by recovery).</summary>
    public IDictionary<string, object?> Items
    {
        get
        {
            lock (_lock)
            {
                return _items ??= [];
            }
        }
    }

    /// <summary>True when this socket was restored by connection state recovery (missed events were replayed).</summary>
    public bool Recovered { get; internal set; }

    /// <summary>Whether the socket is still connected.</summary>
    public bool Connected => Volatile.Read(ref _disconnected) == 0 && Registered;

    /// <summary>Application services.</summary>
    public IServiceProvider Services => Namespace.Server.Services;

    /// <summary>Rooms the socket is in, its own id included.</summary>
    public IReadOnlyCollection<string> Rooms => Namespace.RoomsOf(this);

    /// <summary>
    /// The private session id of connection state recovery (null when recovery is off). A secret the client
    /// presents to get this socket back: share it only with trusted storage.
    /// </summary>
    public string? Pid { get; internal set; }

    internal bool Registered { get; set; }

    internal HashSet<string>? JoinedRooms { get; set; }

    internal EngineSession Session => _client.Session;

    /// <summary>Adds a handler for an event. Handlers of one connection run one at a time, in arrival order.</summary>
    public SocketIOSocket On(string eventName, Func<SocketIOEvent, ValueTask> handler)
    {
        lock (_lock)
        {
            _handlers ??= new Dictionary<string, List<Func<SocketIOEvent, ValueTask>>>(StringComparer.Ordinal);
            if (!_handlers.TryGetValue(eventName, out var list))
            {
                _handlers[eventName] = list = new List<Func<SocketIOEvent, ValueTask>>(1);
            }

            list.Add(handler);
        }

        return this;
    }

    /// <summary>Adds a synchronous handler for an event.</summary>
    public SocketIOSocket On(string eventName, Action<SocketIOEvent> handler) =>
        On(eventName, e =>
        {
            handler(e);
            return ValueTask.CompletedTask;
        });

    /// <summary>Adds a handler that sees every event.</summary>
    public SocketIOSocket OnAny(Func<SocketIOEvent, ValueTask> handler)
    {
        lock (_lock)
        {
            (_anyHandlers ??= []).Add(handler);
        }

        return this;
    }

    /// <summary>Adds a handler run once when the socket disconnects, with Node's reason string (<c>"transport close"</c>, <c>"client namespace disconnect"</c>, <c>"ping timeout"</c>...).</summary>
    public SocketIOSocket OnDisconnect(Func<string, ValueTask> handler)
    {
        lock (_lock)
        {
            (_disconnectHandlers ??= []).Add(handler);
        }

        return this;
    }

    /// <summary>
    /// Adds a handler run once when the socket is about to disconnect, while it is still in its rooms (Node's
    /// <c>disconnecting</c> event). It runs on the closing thread, before the disconnect handlers: keep it short.
    /// </summary>
    public SocketIOSocket OnDisconnecting(Action<string> handler)
    {
        lock (_lock)
        {
            (_disconnectingHandlers ??= []).Add(handler);
        }

        return this;
    }

    /// <summary>Adds a synchronous disconnect handler.</summary>
    public SocketIOSocket OnDisconnect(Action<string> handler) =>
        OnDisconnect(reason =>
        {
            handler(reason);
            return ValueTask.CompletedTask;
        });

    /// <summary>
    /// Emits an event to this client. <c>byte[]</c>/<see cref="ReadOnlyMemory{T}"/> arguments are sent as
    /// binary attachments; <see cref="JsonElement"/> as is; others through System.Text.Json.
    /// Returns false when the socket is gone or its outbound queue overflowed (it is then disconnected).
    /// </summary>
    public bool Emit(string eventName, params object?[] args)
    {
        var packet = Namespace.Encode(eventName, args);
        if (Namespace.Server.RecoveryEnabled)
        {
            // Through the namespace, so that the event gets an offset and is kept for replay (as Node does).
            Namespace.BroadcastCore(packet, [Id], null);
            return Connected;
        }

        return Send(packet);
    }

    /// <summary>Emits an event and waits for the client's acknowledgement.</summary>
    /// <exception cref="TimeoutException">No ack within <paramref name="timeout"/>.</exception>
    /// <exception cref="InvalidOperationException">The socket disconnected first.</exception>
    public async Task<SocketIOArgs> EmitWithAckAsync(string eventName, object?[] args, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var completion = new TaskCompletionSource<SocketIOArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        long id;
        lock (_lock)
        {
            if (!Connected)
            {
                throw new InvalidOperationException("The socket is disconnected.");
            }

            id = _nextAckId++;
            (_acks ??= [])[id] = completion;
        }

        try
        {
            var packet = PacketWriter.Encode(SocketPacketType.Event, Namespace.Name, eventName, args, id, Namespace.Server.Options.JsonSerializerOptions);
            Send(packet);
            return await completion.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _acks?.Remove(id);
            }
        }
    }

    /// <summary>Writes a pre-encoded packet of this namespace to this client (no re-encoding, no offset).</summary>
    public bool Send(EncodedPacket packet)
    {
        if (!Connected)
        {
            return false;
        }

        return Session.Send(new OutboundMessage(packet.Frame, false, packet.Attachments));
    }

    /// <summary>Joins a room of the namespace.</summary>
    public void Join(string room) => Namespace.Join(this, room);

    /// <summary>Leaves a room.</summary>
    public void Leave(string room) => Namespace.Leave(this, room);

    /// <summary>Broadcast to a room, except this socket (Node's <c>socket.to(room)</c>).</summary>
    public BroadcastOperator To(string room) => new BroadcastOperator(Namespace).To(room).Except(Id);

    /// <summary>Broadcast to the whole namespace except this socket (Node's <c>socket.broadcast</c>).</summary>
    public BroadcastOperator Broadcast => new BroadcastOperator(Namespace).Except(Id);

    /// <summary>
    /// Disconnects the socket: the client gets a DISCONNECT packet (reason <c>"io server disconnect"</c>,
    /// no automatic reconnection). With <paramref name="close"/>, the whole underlying connection is closed.
    /// </summary>
    public void Disconnect(bool close = false)
    {
        if (close)
        {
            _client.DisconnectAll();
            return;
        }

        if (!Connected)
        {
            return;
        }

        Session.Send(new OutboundMessage(SocketCodec.EncodeRaw(SocketPacketType.Disconnect, Namespace.Name, default), false));
        OnClose("server namespace disconnect");
    }

    /// <summary>
    /// Closes this client's Engine.IO connection without a DISCONNECT packet, as Node's <c>socket.conn.close()</c>:
    /// the client sees a transport close and reconnects by itself (re-running its <c>auth</c> callback), and the
    /// session is kept for connection state recovery.
    /// </summary>
    public void CloseTransport() => _client.Session.Close("forced close");

    internal void SendAck(long id, object?[] args)
    {
        var packet = PacketWriter.Encode(SocketPacketType.Ack, Namespace.Name, null, args, id, Namespace.Server.Options.JsonSerializerOptions);
        Send(packet);
    }

    /// <summary>
    /// Starts the handlers in arrival order without waiting for asynchronous ones to finish (as Node does):
    /// a handler may await an ack from the same client, which this connection's receive loop delivers.
    /// </summary>
    internal void OnEvent(SocketPacketHeader header, IReadOnlyList<ReadOnlyMemory<byte>>? attachments)
    {
        var payload = header.Payload!.Value;
        var count = payload.GetArrayLength();
        var args = new JsonElement[count - 1];
        var name = payload[0];
        for (var i = 1; i < count; i++)
        {
            args[i - 1] = payload[i];
        }

        var e = new SocketIOEvent(this, name.ValueKind == JsonValueKind.String ? name.GetString()! : name.GetRawText(), args, attachments, header.AckId);
        Func<SocketIOEvent, ValueTask>[]? handlers;
        Func<SocketIOEvent, ValueTask>[]? any;
        lock (_lock)
        {
            handlers = _handlers is not null && _handlers.TryGetValue(e.Name, out var list) ? [.. list] : null;
            any = _anyHandlers?.ToArray();
        }

        if (any is not null)
        {
            foreach (var handler in any)
            {
                Namespace.Server.Run(handler, e);
            }
        }

        if (handlers is not null)
        {
            foreach (var handler in handlers)
            {
                Namespace.Server.Run(handler, e);
            }
        }
    }

    internal void OnAck(SocketPacketHeader header, IReadOnlyList<ReadOnlyMemory<byte>>? attachments)
    {
        TaskCompletionSource<SocketIOArgs>? completion = null;
        lock (_lock)
        {
            if (header.AckId is { } id && _acks is not null && _acks.Remove(id, out var found))
            {
                completion = found;
            }
        }

        completion?.TrySetResult(new SocketIOArgs([.. header.Payload!.Value.EnumerateArray()], attachments));
    }

    /// <summary>
    /// A broadcast reaching this socket. While a recovered socket is being replayed what it missed, live packets wait
    /// behind the replay (<see cref="HoldLive"/>), so that it gets everything in broadcast order.
    /// </summary>
    internal void Deliver(in OutboundMessage message)
    {
        if (Volatile.Read(ref _heldDuringReplay) is { } held)
        {
            lock (held)
            {
                if (_heldDuringReplay == held)
                {
                    held.Add(message);
                    return;
                }
            }
        }

        Session.Send(message);
    }

    /// <summary>Live broadcasts wait until <see cref="ReleaseLive"/>: called before a recovered socket rejoins its rooms.</summary>
    internal void HoldLive() => _heldDuringReplay = [];

    /// <summary>The replay is sent: what waited goes now, in order, and later broadcasts go straight out.</summary>
    internal void ReleaseLive()
    {
        if (_heldDuringReplay is not { } held)
        {
            return;
        }

        lock (held)
        {
            foreach (var message in held)
            {
                Session.Send(message);
            }

            Volatile.Write(ref _heldDuringReplay, null);
        }
    }

    /// <summary>Removes the socket everywhere and runs the disconnect handlers, once.</summary>
    internal void OnClose(string reason)
    {
        if (Interlocked.Exchange(ref _disconnected, 1) != 0)
        {
            return;
        }

        Action<string>[]? disconnecting;
        lock (_lock)
        {
            disconnecting = _disconnectingHandlers?.ToArray();
        }

        foreach (var handler in disconnecting ?? [])
        {
            try
            {
                handler(reason);
            }
            catch (Exception ex)
            {
                Namespace.Server.Log.HandlerFailed(ex);
            }
        }

        var rooms = Namespace.Remove(this);
        _client.Forget(this);
        if (Pid is not null && ClientConnection.IsRecoverable(reason))
        {
            var session = new RecoverySession(Pid, Id, Namespace.Name, rooms, Data, Namespace.Server.Time.GetUtcNow());
            var pending = Namespace.Server.RecoveryStore.PersistSessionAsync(session);
            if (!pending.IsCompletedSuccessfully)
            {
                _ = ObserveAsync(pending);
            }
        }

        Dictionary<long, TaskCompletionSource<SocketIOArgs>>? acks;
        Func<string, ValueTask>[]? handlers;
        lock (_lock)
        {
            acks = _acks;
            _acks = null;
            handlers = _disconnectHandlers?.ToArray();
        }

        if (acks is not null)
        {
            foreach (var completion in acks.Values)
            {
                completion.TrySetException(new InvalidOperationException("The socket disconnected: " + reason));
            }
        }

        if (handlers is not null)
        {
            RunDisconnectHandlers(handlers, reason);
        }
    }

    private void RunDisconnectHandlers(Func<string, ValueTask>[] handlers, string reason)
    {
        foreach (var handler in handlers)
        {
            Namespace.Server.Run(handler, reason);
        }
    }

    private async Task ObserveAsync(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Namespace.Server.Log.HandlerFailed(ex);
        }
    }
}
