using Llana.Data.Schema;

namespace Llana.Core.Changes;

/// The node's ordered log of committed changes (design.md, "The change pipeline"). Sources append (API writes; remote
/// changes from the cluster link); each consumer (realtime dispatch, cluster link) reads at its own pace with its own
/// <see cref="ChangeReader"/>, on its own task: no consumer's work runs inside the writer's request or under the log's
/// lock, and a slow consumer slows neither writes nor the others.
public interface IChangeFeed
{
    /// The single append point: assigns the next offset (and, for a local change, the next local sequence). A captured
    /// change at or before the last captured one appended is a repeat (a new reader replaying the stream): it is not
    /// appended, and the result's offset is 0.
    RowChange Publish(
        TableSchema table, ChangeKind kind, object?[] row, bool remote = false, bool partial = false, ChangeOrigin? origin = null,
        DateTimeOffset? committedAt = null, CapturePosition? captured = null);

    /// Offset of the last change appended (0 before the first).
    long Head { get; }

    /// A cursor that reads every change appended from now on, in offset order.
    ChangeReader Read();

    /// Calls <paramref name="observer"/> inside <see cref="Publish"/> and <see cref="Observe"/>, before they return:
    /// only for in-memory cache invalidation that must hold for the writer's very next request (role rules, users).
    /// No I/O.
    IDisposable Subscribe(Action<RowChange> observer);

    /// Raised when changes were lost for good before they reached the log (the database's change stream lost its place):
    /// no reader can be sure to be in step; realtime tells its sockets to refetch.
    event Action? Lost;

    /// The last captured change appended (null before the first): where the database's stream was, as this node knows.
    CapturePosition? LastCaptured { get; }

    /// Raises <see cref="Lost"/>.
    void ReportLost();

    /// Shows a committed write to the observers without appending it: the write of an API whose changes reach the log
    /// from another source (the database's change stream), so its caches are right for the writer's next request.
    void Observe(TableSchema table, ChangeKind kind, object?[] row);
}

/// How far this node's change log is safe beyond this process: a source that must not lose what it appended (the
/// database's change stream confirms its position) waits for this. A cluster link shares the log; alone, a change is
/// handed off once it is in the log.
public interface IChangeHandoff
{
    /// Offset of the last change handed off.
    long HandedOffUpTo { get; }
}

/// A single node: what is in the log is handed off.
public sealed class LocalHandoff(IChangeFeed feed) : IChangeHandoff
{
    public long HandedOffUpTo => feed.Head;
}

/// <see cref="IChangeFeed"/> over a ring of the last <see cref="Window"/> changes. A reader that falls further behind
/// than the window skips what was overwritten and is told how much (<see cref="ChangeReader.Skipped"/>): memory stays
/// bounded, and the loss is never silent.
public sealed class ChangeLog(int window = ChangeLog.DefaultWindow, TimeProvider? time = null) : IChangeFeed
{
    public const int DefaultWindow = 1 << 16;

    private readonly Lock _gate = new();
    private readonly RowChange?[] _ring = new RowChange?[window];
    private Action<RowChange>[] _observers = [];
    private ChangeReader[] _readers = [];
    private long _head;
    private long _localSequence;
    private CapturePosition? _lastCaptured;
    private long _repeats;

    /// Captured changes not appended because this log already had them (a stream read again after a reader changed).
    public long Repeats
    {
        get
        {
            lock (_gate)
            {
                return _repeats;
            }
        }
    }

    public int Window => _ring.Length;

    /// Offset of the last change appended (0 before the first).
    public long Head => Volatile.Read(ref _head);

    public RowChange Publish(
        TableSchema table, ChangeKind kind, object?[] row, bool remote = false, bool partial = false, ChangeOrigin? origin = null,
        DateTimeOffset? committedAt = null, CapturePosition? captured = null)
    {
        RowChange change;
        ChangeReader[] readers;
        lock (_gate)
        {
            if (captured is { } position)
            {
                if (_lastCaptured is { } last && position.CompareTo(last) <= 0)
                {
                    _repeats++;
                    return new RowChange(table, kind, row, 0, remote, partial) { Captured = captured };
                }

                _lastCaptured = position;
            }

            var offset = _head + 1;
            change = new RowChange(table, kind, row, offset, remote, partial)
            {
                Origin = origin,
                CommittedAt = committedAt ?? (time ?? TimeProvider.System).GetUtcNow(),
                LocalSequence = remote ? 0 : ++_localSequence,
                Captured = captured,
            };
            _ring[offset % _ring.Length] = change;
            Volatile.Write(ref _head, offset);
            foreach (var observer in _observers)
            {
                observer(change);
            }

            readers = _readers;
        }

        foreach (var reader in readers)
        {
            reader.Ring();
        }

        return change;
    }

    public event Action? Lost;

    public CapturePosition? LastCaptured
    {
        get
        {
            lock (_gate)
            {
                return _lastCaptured;
            }
        }
    }

    public void ReportLost() => Lost?.Invoke();

    public void Observe(TableSchema table, ChangeKind kind, object?[] row)
    {
        var change = new RowChange(table, kind, row, 0);
        lock (_gate)
        {
            foreach (var observer in _observers)
            {
                observer(change);
            }
        }
    }

    public ChangeReader Read() => ReadFrom(long.MaxValue);

    /// A cursor from <paramref name="offset"/> (or the oldest change still in the window, or the head if later).
    public ChangeReader ReadFrom(long offset)
    {
        lock (_gate)
        {
            var reader = new ChangeReader(this, Math.Clamp(offset, Math.Max(1, _head - _ring.Length + 1), _head + 1));
            _readers = [.. _readers, reader];
            return reader;
        }
    }

    public IDisposable Subscribe(Action<RowChange> observer)
    {
        lock (_gate)
        {
            _observers = [.. _observers, observer];
        }

        return new Unsubscriber(() =>
        {
            lock (_gate)
            {
                _observers = _observers.Where(o => o != observer).ToArray();
            }
        });
    }

    internal void Remove(ChangeReader reader)
    {
        lock (_gate)
        {
            _readers = _readers.Where(r => r != reader).ToArray();
        }
    }

    /// The change at <paramref name="offset"/>, or null when it has been overwritten (or not appended yet).
    internal RowChange? At(long offset)
    {
        var change = Volatile.Read(ref _ring[offset % _ring.Length]);
        return change?.Offset == offset ? change : null;
    }

    private sealed class Unsubscriber(Action dispose) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                dispose();
            }
        }
    }
}

/// One consumer's cursor on a <see cref="ChangeLog"/>: single reader, in offset order.
public sealed class ChangeReader : IDisposable
{
    private readonly ChangeLog _log;
    private readonly Doorbell _doorbell = new();
    private long _next;
    private long _skipped;

    internal ChangeReader(ChangeLog log, long next)
    {
        _log = log;
        _next = next;
    }

    /// Changes this reader never saw because it fell more than the log's window behind (it jumped ahead).
    public long Skipped => Volatile.Read(ref _skipped);

    /// Offset of the next change this reader will return.
    public long Position => Volatile.Read(ref _next);

    /// Changes appended and not read yet.
    public long Backlog => Math.Max(0, _log.Head - Position + 1);

    public bool TryRead(out RowChange change)
    {
        while (true)
        {
            var head = _log.Head;
            if (_next > head)
            {
                change = null!;
                return false;
            }

            if (_log.At(_next) is { } found)
            {
                change = found;
                Volatile.Write(ref _next, _next + 1);
                return true;
            }

            // Overwritten: jump to the oldest change still in the window, counting what was lost.
            var oldest = Math.Max(_next + 1, head - _log.Window + 1);
            Interlocked.Add(ref _skipped, oldest - _next);
            Volatile.Write(ref _next, oldest);
        }
    }

    /// Completes when a change is there to read (true), or false when <paramref name="ct"/> is cancelled.
    public async ValueTask<bool> WaitToReadAsync(CancellationToken ct)
    {
        while (_next > _log.Head)
        {
            if (!await _doorbell.WaitAsync(ct))
            {
                return false;
            }
        }

        return true;
    }

    /// Wakes the reader (called after an append).
    internal void Ring() => _doorbell.Ring();

    public void Dispose() => _log.Remove(this);
}
