using System.Text.Json;
using Llana.SocketIO.Protocol;

namespace Llana.SocketIO;

/// <summary>
/// Arguments received from a client (event arguments or an ack response). JSON values are kept raw;
/// binary arguments appear as <c>{"_placeholder":true,"num":i}</c> in <see cref="Args"/> and their bytes
/// are in <see cref="Attachments"/> (use <see cref="GetBinary"/>).
/// </summary>
public class SocketIOArgs
{
    private static readonly ReadOnlyMemory<byte>[] NoAttachments = [];

    internal SocketIOArgs(IReadOnlyList<JsonElement> args, IReadOnlyList<ReadOnlyMemory<byte>>? attachments)
    {
        Args = args;
        Attachments = attachments ?? NoAttachments;
    }

    /// <summary>The arguments, as raw JSON.</summary>
    public IReadOnlyList<JsonElement> Args { get; }

    /// <summary>Binary attachments, in placeholder order.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Attachments { get; }

    /// <summary>True when argument <paramref name="index"/> is a binary placeholder.</summary>
    public bool IsBinary(int index) => index < Args.Count && SocketCodec.TryGetPlaceholder(Args[index], out _);

    /// <summary>The bytes of binary argument <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">The argument is not binary.</exception>
    public ReadOnlyMemory<byte> GetBinary(int index) =>
        index < Args.Count && SocketCodec.TryGetPlaceholder(Args[index], out var num) && num < Attachments.Count
            ? Attachments[num]
            : throw new InvalidOperationException($"Argument {index} is not binary.");

    /// <summary>Deserializes argument <paramref name="index"/>.</summary>
    public T? Get<T>(int index, JsonSerializerOptions? options = null) => Args[index].Deserialize<T>(options);

    /// <summary>
    /// The arguments in the form <see cref="SocketIOSocket.Emit"/> takes: JSON as <see cref="JsonElement"/>,
    /// top-level binary as <see cref="ReadOnlyMemory{T}"/>. Echoing them re-sends the same packet.
    /// </summary>
    public object?[] ToEmitArgs()
    {
        var result = new object?[Args.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = SocketCodec.TryGetPlaceholder(Args[i], out var num) && num < Attachments.Count ? Attachments[num] : Args[i];
        }

        return result;
    }
}

/// <summary>An event received from a client.</summary>
public sealed class SocketIOEvent : SocketIOArgs
{
    private int _acked;

    internal SocketIOEvent(SocketIOSocket socket, string name, IReadOnlyList<JsonElement> args, IReadOnlyList<ReadOnlyMemory<byte>>? attachments, long? ackId)
        : base(args, attachments)
    {
        Socket = socket;
        Name = name;
        AckId = ackId;
    }

    /// <summary>The socket that sent the event.</summary>
    public SocketIOSocket Socket { get; }

    /// <summary>Event name (a numeric name is given as its JSON text).</summary>
    public string Name { get; }

    /// <summary>The client's ack id, when it expects an acknowledgement.</summary>
    public long? AckId { get; }

    /// <summary>Whether the client expects an acknowledgement.</summary>
    public bool HasAck => AckId is not null;

    /// <summary>Sends the acknowledgement (once; later calls and events without ack id are ignored).</summary>
    public void Ack(params object?[] args)
    {
        if (AckId is { } id && Interlocked.Exchange(ref _acked, 1) == 0)
        {
            Socket.SendAck(id, args);
        }
    }
}
