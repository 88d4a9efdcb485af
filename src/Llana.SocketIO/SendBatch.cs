using Llana.SocketIO.EngineIO;

namespace Llana.SocketIO;

/// <summary>
/// A scope in which packets are written to their sockets but not yet flushed: each socket is flushed once
/// when the scope ends, so several packets bound for one socket leave in one write (one system call) instead
/// of one each. Open one around a run of broadcasts that come together (see <see cref="SocketIOServer.BatchSends"/>);
/// it flows across awaits. Packets still go out in order, and the scope never holds more than the
/// per-socket queue limit allows.
/// </summary>
public sealed class SendBatch : IDisposable
{
    private static readonly AsyncLocal<SendBatch?> CurrentBatch = new();

    private readonly SendBatch? _outer;
    private readonly Lock _lock = new();
    private List<EngineSession>? _sessions;
    private bool _disposed;

    internal SendBatch()
    {
        _outer = CurrentBatch.Value;
        CurrentBatch.Value = this;
    }

    /// <summary>The batch open on this flow, if any.</summary>
    internal static SendBatch? Current => CurrentBatch.Value;

    /// <summary>Remembers a session that has unflushed bytes. False when the batch is already over (flush now).</summary>
    internal bool Defer(EngineSession session)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return false;
            }

            (_sessions ??= []).Add(session);
            return true;
        }
    }

    /// <summary>Ends the scope: every socket written to in it is flushed.</summary>
    public void Dispose()
    {
        List<EngineSession>? sessions;
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
            SocketIONamespace.ForEachTarget(sessions.Count, i => sessions[i].FlushDeferred());
        }
    }
}
