using System.Buffers;

namespace Llana.SocketIO.EngineIO;

/// <summary>One complete message read from the peer; <see cref="Dispose"/> returns its pooled buffer.</summary>
internal readonly struct WebSocketMessage(bool binary, byte[] buffer, int length) : IDisposable
{
    public bool Binary { get; } = binary;

    public ReadOnlyMemory<byte> Data => buffer.AsMemory(0, length);

    public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
}
