namespace Llana.SocketIO.EngineIO;

/// <summary>
/// A packet waiting in a session's outbound queue. <see cref="Frame"/> is a complete Engine.IO text
/// packet (type digit included) or, when <see cref="Binary"/>, raw message bytes. Socket.IO binary
/// attachments travel with their packet so that concurrent writers can never interleave them.
/// </summary>
internal readonly struct OutboundMessage(ReadOnlyMemory<byte> frame, bool binary, ReadOnlyMemory<byte>[]? attachments = null)
{
    public ReadOnlyMemory<byte> Frame { get; } = frame;

    public bool Binary { get; } = binary;

    public ReadOnlyMemory<byte>[]? Attachments { get; } = attachments;
}
