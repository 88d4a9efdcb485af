namespace Llana.SocketIO.EngineIO;

/// <summary>What <see cref="WebSocketChannel.TryRead"/> found.</summary>
internal enum WebSocketRead
{
    NeedMore,
    Message,
    Ping,
    End,
}
