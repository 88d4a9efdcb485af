using System.Text;

namespace Llana.SocketIO;

/// <summary>
/// A Socket.IO packet encoded once, ready to be written as the same bytes to any number of sockets of
/// its namespace (see <see cref="SocketIONamespace.Encode"/>, <see cref="SocketIOSocket.Send"/> and
/// <see cref="BroadcastOperator.Send"/>). Immutable and thread-safe.
/// </summary>
public sealed class EncodedPacket
{
    private readonly int _offsetInsert;

    internal EncodedPacket(string nsp, ReadOnlyMemory<byte> frame, ReadOnlyMemory<byte>[]? attachments, int offsetInsert)
    {
        Namespace = nsp;
        Frame = frame;
        Attachments = attachments;
        _offsetInsert = offsetInsert;
    }

    /// <summary>The namespace the packet is addressed to.</summary>
    public string Namespace { get; }

    /// <summary>Size of the text frame in bytes (attachments not included).</summary>
    public int Length => Frame.Length;

    /// <summary>Number of binary attachments that follow the text frame.</summary>
    public int AttachmentCount => Attachments?.Length ?? 0;

    /// <summary>The Engine.IO text frame: <c>4</c> + the Socket.IO packet.</summary>
    internal ReadOnlyMemory<byte> Frame { get; }

    internal ReadOnlyMemory<byte>[]? Attachments { get; }

    /// <summary>An event without ack id: connection state recovery appends an offset to it.</summary>
    internal bool CanCarryOffset => _offsetInsert >= 0;

    /// <summary>The same event with <paramref name="offset"/> appended as the last argument (<c>[...,"offset"]</c>).</summary>
    internal EncodedPacket WithOffset(string offset)
    {
        var source = Frame.Span;
        var empty = source[_offsetInsert - 1] == (byte)'[';
        var frame = new byte[source.Length + offset.Length + (empty ? 2 : 3)];
        source[.._offsetInsert].CopyTo(frame);
        var position = _offsetInsert;
        if (!empty)
        {
            frame[position++] = (byte)',';
        }

        frame[position++] = (byte)'"';
        position += Encoding.ASCII.GetBytes(offset, frame.AsSpan(position));
        frame[position++] = (byte)'"';
        frame[position] = (byte)']';
        return new EncodedPacket(Namespace, frame, Attachments, frame.Length - 1);
    }

    /// <summary>The Socket.IO packet as text (without the Engine.IO <c>4</c>), for logs and tests.</summary>
    public override string ToString() => Encoding.UTF8.GetString(Frame.Span[1..]);
}
