using System.Buffers;
using System.Collections.Concurrent;
using Llana.SocketIO.EngineIO;
using Llana.SocketIO.Protocol;

namespace Llana.SocketIO;

/// <summary>
/// A namespace (Node's <c>io.of(name)</c>): connect middlewares, connection handlers, its sockets and
/// rooms, and broadcasts that encode a packet once and write the same bytes to every target.
/// </summary>
public sealed class SocketIONamespace
{
    private readonly Lock _roomsLock = new();
    private readonly ConcurrentDictionary<string, SocketIOSocket> _sockets = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<SocketIOSocket>> _rooms = new(StringComparer.Ordinal);
    private volatile Func<ConnectContext, ValueTask>[] _middlewares = [];
    private volatile Func<SocketIOSocket, ValueTask>[] _connectionHandlers = [];

    internal SocketIONamespace(SocketIOServer server, string name)
    {
        Server = server;
        Name = name;
    }

    /// <summary>Namespace name, e.g. <c>/</c> or <c>/admin</c>.</summary>
    public string Name { get; }

    /// <summary>The server.</summary>
    public SocketIOServer Server { get; }

    /// <summary>Connected sockets by id.</summary>
    public IReadOnlyDictionary<string, SocketIOSocket> Sockets => _sockets;

    /// <summary>
    /// Adds a connect middleware. Middlewares run in order for each CONNECT; one that calls
    /// <see cref="ConnectContext.Reject"/> or throws <see cref="SocketIOConnectRejectedException"/> refuses it.
    /// </summary>
    public SocketIONamespace Use(Func<ConnectContext, ValueTask> middleware)
    {
        lock (_roomsLock)
        {
            _middlewares = [.. _middlewares, middleware];
        }

        return this;
    }

    /// <summary>Adds a handler run for every new socket, after the CONNECT reply was queued (so it can emit at once).</summary>
    public SocketIONamespace OnConnection(Func<SocketIOSocket, ValueTask> handler)
    {
        lock (_roomsLock)
        {
            _connectionHandlers = [.. _connectionHandlers, handler];
        }

        return this;
    }

    /// <summary>Adds a synchronous connection handler.</summary>
    public SocketIONamespace OnConnection(Action<SocketIOSocket> handler) =>
        OnConnection(socket =>
        {
            handler(socket);
            return ValueTask.CompletedTask;
        });

    /// <summary>
    /// Encodes an event once for this namespace. Send the result to any number of sockets with
    /// <see cref="SocketIOSocket.Send"/> or <see cref="BroadcastOperator.Send"/>: the bytes are shared.
    /// </summary>
    public EncodedPacket Encode(string eventName, params object?[] args) =>
        PacketWriter.Encode(SocketPacketType.Event, Name, eventName, args, null, Server.Options.JsonSerializerOptions);

    /// <summary>Targets a room (union with other <c>To</c> calls).</summary>
    public BroadcastOperator To(string room) => new BroadcastOperator(this).To(room);

    /// <summary>Excludes a room (or a socket id) from a broadcast.</summary>
    public BroadcastOperator Except(string room) => new BroadcastOperator(this).Except(room);

    /// <summary>Emits an event to every socket of the namespace.</summary>
    public void Emit(string eventName, params object?[] args) => BroadcastCore(Encode(eventName, args), null, null);

    /// <summary>Writes a pre-encoded packet to every socket of the namespace.</summary>
    /// <returns>The connection-state-recovery offset given to the packet, or null.</returns>
    public string? Send(EncodedPacket packet) => BroadcastCore(packet, null, null);

    /// <summary>Disconnects every socket of the namespace.</summary>
    public void DisconnectSockets(bool close = false) => new BroadcastOperator(this).DisconnectSockets(close);

    internal Func<ConnectContext, ValueTask>[] Middlewares => _middlewares;

    internal Func<SocketIOSocket, ValueTask>[] ConnectionHandlers => _connectionHandlers;

    /// <summary>
    /// Registers a connected socket in the namespace and in <paramref name="rooms"/>. A recovered socket passes the
    /// offset of the last packet it will be replayed (<paramref name="replayedUpTo"/>): what was broadcast to its rooms
    /// since (while its middlewares ran) is returned, read in the same step as the join, so that each packet reaches it
    /// once, from the store or live. Null when the store no longer reaches back to <paramref name="replayedUpTo"/>.
    /// </summary>
    internal IReadOnlyList<RecoveryPacket>? Add(SocketIOSocket socket, IReadOnlyList<string>? rooms, string? replayedUpTo = null)
    {
        lock (_roomsLock)
        {
            _sockets[socket.Id] = socket;
            socket.Registered = true;
            if (rooms is not null)
            {
                foreach (var room in rooms)
                {
                    if (room != socket.Id)
                    {
                        JoinLocked(socket, room);
                    }
                }
            }

            if (replayedUpTo is null || rooms is null)
            {
                return [];
            }

            var late = Server.RecoveryStore.PacketsAfterAsync(replayedUpTo, Name, rooms);
            return late.IsCompletedSuccessfully ? late.Result : [];
        }
    }

    /// <summary>Removes the socket from the namespace and all rooms; returns the rooms it was in (own id first).</summary>
    internal string[] Remove(SocketIOSocket socket)
    {
        lock (_roomsLock)
        {
            if (!socket.Registered)
            {
                return [socket.Id];
            }

            socket.Registered = false;
            _sockets.TryRemove(new KeyValuePair<string, SocketIOSocket>(socket.Id, socket));
            var joined = socket.JoinedRooms;
            socket.JoinedRooms = null;
            if (joined is null)
            {
                return [socket.Id];
            }

            var result = new string[joined.Count + 1];
            result[0] = socket.Id;
            var i = 1;
            foreach (var room in joined)
            {
                result[i++] = room;
                if (_rooms.TryGetValue(room, out var members) && members.Remove(socket) && members.Count == 0)
                {
                    _rooms.Remove(room);
                }
            }

            return result;
        }
    }

    internal void Join(SocketIOSocket socket, string room)
    {
        lock (_roomsLock)
        {
            if (socket.Registered && room != socket.Id)
            {
                JoinLocked(socket, room);
            }
        }
    }

    private void JoinLocked(SocketIOSocket socket, string room)
    {
        if (!_rooms.TryGetValue(room, out var members))
        {
            _rooms[room] = members = [];
        }

        members.Add(socket);
        (socket.JoinedRooms ??= new HashSet<string>(StringComparer.Ordinal)).Add(room);
    }

    internal void Leave(SocketIOSocket socket, string room)
    {
        lock (_roomsLock)
        {
            if (socket.JoinedRooms?.Remove(room) == true && _rooms.TryGetValue(room, out var members) && members.Remove(socket) && members.Count == 0)
            {
                _rooms.Remove(room);
            }
        }
    }

    internal IReadOnlyCollection<string> RoomsOf(SocketIOSocket socket)
    {
        lock (_roomsLock)
        {
            var rooms = new List<string> { socket.Id };
            if (socket.JoinedRooms is { } joined)
            {
                rooms.AddRange(joined);
            }

            return rooms;
        }
    }

    /// <summary>
    /// The broadcast path: offset + replay store when recovery is on, then the same
    /// <see cref="OutboundMessage"/> (shared bytes) is queued on every target. Returns the offset given to the
    /// packet (null when recovery is off or the packet cannot carry one).
    /// </summary>
    internal string? BroadcastCore(EncodedPacket packet, IReadOnlyList<string>? rooms, IReadOnlyList<string>? except)
    {
        string? offset = null;
        if (packet.Namespace != Name)
        {
            throw new ArgumentException($"The packet was encoded for namespace '{packet.Namespace}', not '{Name}'.", nameof(packet));
        }

        SocketIOSocket[] targets;
        int count;
        lock (_roomsLock)
        {
            // Stored and addressed in one step: a socket returning to its rooms (AddRecovered) finds the packet in the
            // store or is among its targets, never neither nor both.
            if (Server.RecoveryEnabled && packet.CanCarryOffset)
            {
                offset = Server.NextOffset();
                packet = packet.WithOffset(offset);
                var stored = Server.RecoveryStore.AppendAsync(new RecoveryPacket(
                    offset, Name, rooms ?? [], except ?? [], packet.Frame, packet.Attachments, Server.Time.GetUtcNow()));
                if (!stored.IsCompletedSuccessfully)
                {
                    _ = stored.AsTask();
                }
            }

            targets = CollectTargets(rooms, except, out count);
        }

        var message = new OutboundMessage(packet.Frame, false, packet.Attachments);
        try
        {
            FanOut.ForEach(count, i => targets[i].Deliver(message));
        }
        finally
        {
            Array.Clear(targets, 0, count);
            ArrayPool<SocketIOSocket>.Shared.Return(targets);
        }

        return offset;
    }

    /// <summary>Below this many targets one thread writes them all; above, the cores share the work.</summary>
    internal SocketIOSocket[] CollectTargets(IReadOnlyList<string>? rooms, IReadOnlyList<string>? except, out int count)
    {
        lock (_roomsLock)
        {
            HashSet<SocketIOSocket>? excluded = null;
            if (except is { Count: > 0 })
            {
                excluded = [];
                foreach (var room in except)
                {
                    AddRoomMembers(room, excluded);
                }
            }

            SocketIOSocket[] targets;
            count = 0;
            if (rooms is null || rooms.Count == 0)
            {
                targets = ArrayPool<SocketIOSocket>.Shared.Rent(Math.Max(1, _sockets.Count));
                foreach (var (_, socket) in _sockets)
                {
                    if (count < targets.Length && (excluded is null || !excluded.Contains(socket)))
                    {
                        targets[count++] = socket;
                    }
                }

                return targets;
            }

            // One named room (the usual broadcast): its members are already distinct, no union set is needed.
            if (rooms.Count == 1 && !_sockets.ContainsKey(rooms[0]))
            {
                var only = _rooms.GetValueOrDefault(rooms[0]) ?? [];
                targets = ArrayPool<SocketIOSocket>.Shared.Rent(Math.Max(1, only.Count));
                foreach (var socket in only)
                {
                    if (excluded is null || !excluded.Contains(socket))
                    {
                        targets[count++] = socket;
                    }
                }

                return targets;
            }

            HashSet<SocketIOSocket> union = [];
            foreach (var room in rooms)
            {
                AddRoomMembers(room, union);
            }

            targets = ArrayPool<SocketIOSocket>.Shared.Rent(Math.Max(1, union.Count));
            foreach (var socket in union)
            {
                if (excluded is null || !excluded.Contains(socket))
                {
                    targets[count++] = socket;
                }
            }

            return targets;
        }
    }

    private void AddRoomMembers(string room, HashSet<SocketIOSocket> into)
    {
        if (_rooms.TryGetValue(room, out var members))
        {
            into.UnionWith(members);
        }

        if (_sockets.TryGetValue(room, out var socket))
        {
            into.Add(socket);
        }
    }
}

/// <summary>
/// An immutable broadcast target (Node's <c>BroadcastOperator</c>): rooms to include (none = the whole
/// namespace) and rooms or socket ids to exclude.
/// </summary>
public sealed class BroadcastOperator
{
    private readonly SocketIONamespace _namespace;
    private readonly string[] _rooms;
    private readonly string[] _except;

    internal BroadcastOperator(SocketIONamespace nsp)
        : this(nsp, [], [])
    {
    }

    private BroadcastOperator(SocketIONamespace nsp, string[] rooms, string[] except)
    {
        _namespace = nsp;
        _rooms = rooms;
        _except = except;
    }

    /// <summary>Adds a target room.</summary>
    public BroadcastOperator To(string room) => new(_namespace, [.. _rooms, room], _except);

    /// <summary>Adds target rooms.</summary>
    public BroadcastOperator To(IEnumerable<string> rooms) => new(_namespace, [.. _rooms, .. rooms], _except);

    /// <summary>Excludes a room or a socket id.</summary>
    public BroadcastOperator Except(string room) => new(_namespace, _rooms, [.. _except, room]);

    /// <summary>Excludes several rooms at once (for example the ids of sockets that may not receive a packet).</summary>
    public BroadcastOperator Except(IEnumerable<string> rooms) => new(_namespace, _rooms, [.. _except, .. rooms]);

    /// <summary>Encodes the event once and writes it to every target.</summary>
    public void Emit(string eventName, params object?[] args) => Send(_namespace.Encode(eventName, args));

    /// <summary>Writes a pre-encoded packet (see <see cref="SocketIONamespace.Encode"/>) to every target.</summary>
    /// <returns>The connection-state-recovery offset given to the packet, or null.</returns>
    public string? Send(EncodedPacket packet) => _namespace.BroadcastCore(packet, _rooms, _except);

    /// <summary>The sockets that a broadcast would reach now.</summary>
    public IReadOnlyList<SocketIOSocket> FetchSockets()
    {
        var targets = _namespace.CollectTargets(_rooms, _except, out var count);
        var result = targets.AsSpan(0, count).ToArray();
        Array.Clear(targets, 0, count);
        ArrayPool<SocketIOSocket>.Shared.Return(targets);
        return result;
    }

    /// <summary>Disconnects the targeted sockets (see <see cref="SocketIOSocket.Disconnect"/>).</summary>
    public void DisconnectSockets(bool close = false)
    {
        foreach (var socket in FetchSockets())
        {
            socket.Disconnect(close);
        }
    }
}
