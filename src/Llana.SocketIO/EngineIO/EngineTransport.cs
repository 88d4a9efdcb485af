namespace Llana.SocketIO.EngineIO;

/// <summary>The transport a session's packets travel on.</summary>
internal enum EngineTransport
{
    Polling,
    WebSocket,
}
