namespace Llana.SocketIO.EngineIO;

/// <summary>
/// A scope in which packets are written to their sockets but not yet flushed: each socket is flushed once
/// when the scope ends, so several packets bound for one socket leave in one write (one system call) instead
/// of one each. Open one around a run of broadcasts that come together (the Socket.IO server's <c>BatchSends</c>);
/// it flows across awaits. Packets still go out in order, and the scope never holds more than the
/// per-socket queue limit allows.
/// </summary>
public sealed class SendBatch : IDisposable
{
    private static readonly AsyncLocal<SendBatch?> CurrentBatch = new();

    private readonly SendBatch? _outer;
    private readonly Lock _lock = new();
    private List<WebSocketTransport>? _sessions;
    private bool _disposed;

    internal SendBatch()
    {
        _outer = CurrentBatch.Value;
        CurrentBatch.Value = this;
    }

    /// <summary>The batch open on this flow, if any.</summary>
    internal static SendBatch? Current => CurrentBatch.Value;

    /// <summary>Remembers a WebSocket that has unflushed bytes. False when the batch is already over (flush now).</summary>
    internal bool Defer(WebSocketTransport webSocket)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return false;
            }

            (_sessions ??= []).Add(webSocket);
            return true;
        }
    }

    /// <summary>Ends the scope: every socket written to in it is flushed.</summary>
    public void Dispose()
    {
        List<WebSocketTransport>? sessions;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            sessions = _sessions;
            _sessions = null;
        }

        CurrentBatch.Value = _outer;
        if (sessions is not null)
        {
            FanOut.ForEach(sessions.Count, i => sessions[i].FlushDeferred());
        }
    }
}
