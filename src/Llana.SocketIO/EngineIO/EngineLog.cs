using Microsoft.Extensions.Logging;

namespace Llana.SocketIO.EngineIO;

internal sealed partial class EngineLog(ILogger logger)
{
    private readonly ILogger _logger = logger;

    [LoggerMessage(1, LogLevel.Debug, "Engine.IO session {SessionId}: outbound queue full, closing (the peer is not reading).")]
    public partial void QueueFull(string sessionId);

    [LoggerMessage(2, LogLevel.Error, "A Socket.IO handler threw.")]
    public partial void HandlerFailed(Exception exception);

    [LoggerMessage(4, LogLevel.Debug, "Engine.IO session {SessionId} closed: {Reason}.")]
    public partial void SessionClosed(string sessionId, string reason);

    [LoggerMessage(3, LogLevel.Debug, "Engine.IO session {SessionId}: protocol error ({Reason}), closing.")]
    public partial void ProtocolError(string sessionId, string reason);
}
