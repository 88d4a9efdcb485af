namespace Llana.SocketIO;

/// <summary>
/// Replay store for connection state recovery: keeps the sessions of sockets that dropped and the
/// packets broadcast in the recovery window, so a client that reconnects with its <c>pid</c> and last
/// offset gets its id, rooms and data back and the events it missed. The in-memory default is
/// <see cref="InMemoryRecoveryStore"/>; a distributed store (e.g. Redis) implements the same contract.
/// </summary>
public interface IRecoveryStore
{
    /// <summary>Stores a packet that was just broadcast (it already carries its offset as last argument).</summary>
    ValueTask AppendAsync(RecoveryPacket packet);

    /// <summary>Keeps the session of a socket that disconnected for a recoverable reason.</summary>
    ValueTask PersistSessionAsync(RecoverySession session);

    /// <summary>
    /// Takes back a session (at most once) and the packets after <paramref name="offset"/> that were
    /// addressed to it. Null when the session is unknown or expired, or the offset is no longer known.
    /// </summary>
    ValueTask<RestoredSession?> RestoreSessionAsync(string pid, string offset);

    /// <summary>
    /// The packets after <paramref name="offset"/> addressed to <paramref name="rooms"/> of <paramref name="namespace"/>:
    /// what was broadcast between a restore and the socket's return to its rooms (its connect middlewares ran
    /// meanwhile). Null when <paramref name="offset"/> is no longer kept: the socket is then disconnected by the server,
    /// so that its client refetches. It is called while broadcasts to the namespace wait, so it must answer at once: a
    /// store that cannot returns an incomplete task (or this default, which knows nothing), and those packets are not
    /// replayed.
    /// </summary>
    ValueTask<IReadOnlyList<RecoveryPacket>?> PacketsAfterAsync(string offset, string @namespace, IReadOnlyList<string> rooms) =>
        ValueTask.FromResult<IReadOnlyList<RecoveryPacket>?>([]);
}

/// <summary>A broadcast packet as kept for replay.</summary>
/// <param name="Offset">The offset appended to the event (what the client sends back on reconnect).</param>
/// <param name="Namespace">Namespace of the packet.</param>
/// <param name="Rooms">Target rooms; empty = the whole namespace.</param>
/// <param name="Except">Rooms excluded from the broadcast.</param>
/// <param name="Frame">The encoded Engine.IO text frame.</param>
/// <param name="Attachments">Binary attachments, or null.</param>
/// <param name="Timestamp">When it was broadcast.</param>
public sealed record RecoveryPacket(
    string Offset,
    string Namespace,
    IReadOnlyList<string> Rooms,
    IReadOnlyList<string> Except,
    ReadOnlyMemory<byte> Frame,
    IReadOnlyList<ReadOnlyMemory<byte>>? Attachments,
    DateTimeOffset Timestamp);

/// <summary>The state of a socket that dropped and may come back.</summary>
/// <param name="Pid">Private session id (sent in the CONNECT reply, sent back by the client).</param>
/// <param name="Sid">The socket id, restored as is.</param>
/// <param name="Namespace">Namespace of the socket.</param>
/// <param name="Rooms">Rooms the socket was in (its own id included).</param>
/// <param name="Data">The socket's <see cref="SocketIOSocket.Data"/> (a distributed store must be able to serialize it).</param>
/// <param name="DisconnectedAt">When it dropped.</param>
public sealed record RecoverySession(
    string Pid,
    string Sid,
    string Namespace,
    IReadOnlyList<string> Rooms,
    object? Data,
    DateTimeOffset DisconnectedAt);

/// <summary>A session given back by <see cref="IRecoveryStore.RestoreSessionAsync"/> with the packets it missed, oldest first.</summary>
/// <param name="Session">The persisted session.</param>
/// <param name="MissedPackets">Packets to replay.</param>
public sealed record RestoredSession(RecoverySession Session, IReadOnlyList<RecoveryPacket> MissedPackets);
