namespace Llana.SocketIO.EngineIO;

/// <summary>The layer above Engine.IO (Socket.IO, or the conformance echo).</summary>
internal interface IEngineHandler
{
    /// <summary>Called once per session, before the handshake response is written.</summary>
    void OnOpen(EngineSession session);

    /// <summary>A message packet; <paramref name="data"/> is only valid during the call.</summary>
    ValueTask OnMessageAsync(EngineSession session, ReadOnlyMemory<byte> data, bool binary);

    void OnClose(EngineSession session, string reason);
}
