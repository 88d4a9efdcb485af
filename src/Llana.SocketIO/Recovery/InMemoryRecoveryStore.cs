using Microsoft.Extensions.Options;

namespace Llana.SocketIO;

/// <summary>
/// Process-local <see cref="IRecoveryStore"/>: packets and sessions are dropped once older than
/// <see cref="ConnectionStateRecoveryOptions.MaxDisconnectionDuration"/> (and packets beyond
/// <see cref="ConnectionStateRecoveryOptions.MaxStoredPackets"/>), so memory is bounded by the window.
/// </summary>
public sealed class InMemoryRecoveryStore : IRecoveryStore
{
    private readonly Lock _lock = new();
    private readonly LinkedList<RecoveryPacket> _packets = new();
    private readonly Dictionary<string, LinkedListNode<RecoveryPacket>> _byOffset = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RecoverySession> _sessions = new(StringComparer.Ordinal);
    private readonly Queue<RecoverySession> _sessionOrder = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;
    private readonly int _maxPackets;

    /// <summary>Creates a store bounded by the recovery options of <paramref name="options"/>.</summary>
    public InMemoryRecoveryStore(IOptions<SocketIOOptions> options, TimeProvider? time = null)
    {
        var recovery = options.Value.ConnectionStateRecovery ?? new ConnectionStateRecoveryOptions();
        _window = recovery.MaxDisconnectionDuration;
        _maxPackets = Math.Max(1, recovery.MaxStoredPackets);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Packets currently kept.</summary>
    public int PacketCount
    {
        get
        {
            lock (_lock)
            {
                return _packets.Count;
            }
        }
    }

    /// <summary>Sessions currently kept.</summary>
    public int SessionCount
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask AppendAsync(RecoveryPacket packet)
    {
        lock (_lock)
        {
            _byOffset[packet.Offset] = _packets.AddLast(packet);
            Prune(_time.GetUtcNow());
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask PersistSessionAsync(RecoverySession session)
    {
        lock (_lock)
        {
            _sessions[session.Pid] = session;
            _sessionOrder.Enqueue(session);
            Prune(_time.GetUtcNow());
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<RestoredSession?> RestoreSessionAsync(string pid, string offset)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            Prune(now);
            if (!_sessions.Remove(pid, out var session) || session.DisconnectedAt + _window < now
                || !_byOffset.TryGetValue(offset, out var node))
            {
                return ValueTask.FromResult<RestoredSession?>(null);
            }

            return ValueTask.FromResult<RestoredSession?>(new RestoredSession(session, AfterLocked(node, session.Namespace, session.Rooms)));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<RecoveryPacket>?> PacketsAfterAsync(string offset, string @namespace, IReadOnlyList<string> rooms)
    {
        lock (_lock)
        {
            return ValueTask.FromResult<IReadOnlyList<RecoveryPacket>?>(
                _byOffset.TryGetValue(offset, out var node) ? AfterLocked(node, @namespace, rooms) : null);
        }
    }

    private static List<RecoveryPacket> AfterLocked(LinkedListNode<RecoveryPacket> node, string @namespace, IReadOnlyList<string> rooms)
    {
        var after = new List<RecoveryPacket>();
        for (var next = node.Next; next is not null; next = next.Next)
        {
            if (next.Value.Namespace == @namespace && IsAddressedTo(next.Value, rooms))
            {
                after.Add(next.Value);
            }
        }

        return after;
    }

    private static bool IsAddressedTo(RecoveryPacket packet, IReadOnlyList<string> rooms)
    {
        var included = packet.Rooms.Count == 0 || packet.Rooms.Any(rooms.Contains);
        return included && !packet.Except.Any(rooms.Contains);
    }

    private void Prune(DateTimeOffset now)
    {
        var limit = now - _window;
        while (_packets.First is { } first && (first.Value.Timestamp < limit || _packets.Count > _maxPackets))
        {
            _byOffset.Remove(first.Value.Offset);
            _packets.RemoveFirst();
        }

        while (_sessionOrder.TryPeek(out var oldest) && oldest.DisconnectedAt < limit)
        {
            _sessionOrder.Dequeue();
            if (_sessions.TryGetValue(oldest.Pid, out var current) && ReferenceEquals(current, oldest))
            {
                _sessions.Remove(oldest.Pid);
            }
        }

        // Restored sessions leave stale entries in the order queue; keep it from growing past the live set.
        if (_sessionOrder.Count > 2 * _sessions.Count + 1024)
        {
            var live = _sessionOrder.Where(s => _sessions.TryGetValue(s.Pid, out var c) && ReferenceEquals(c, s)).ToList();
            _sessionOrder.Clear();
            foreach (var s in live)
            {
                _sessionOrder.Enqueue(s);
            }
        }
    }
}
