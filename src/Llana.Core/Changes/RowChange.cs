using Llana.Data.Schema;

namespace Llana.Core.Changes;

public enum ChangeKind
{
    Insert,
    Update,
    Delete,
}

/// One committed write of one row: the row after it (before it, for a hard delete), and the feed offset.
/// The row lets subscribers decide per recipient (READ, own records, allowed fields) without a database read.
/// <see cref="Remote"/> changes were made through another node and arrived over the cluster bus;
/// a <see cref="Partial"/> row carries only its primary key (a peer that does not send rows, e.g. Node Llana).
public sealed record RowChange(TableSchema Table, ChangeKind Kind, object?[] Row, long Offset, bool Remote = false, bool Partial = false)
{
    /// Where the change was first published in a cluster (node and that node's offset); null for a local change.
    public ChangeOrigin? Origin { get; init; }

    /// When the change entered the feed of the node that made it (that node's clock): the start of delivery lag.
    public DateTimeOffset CommittedAt { get; init; }

    public string TableName => Table.Table;

    public string? PrimaryKey => Table.PrimaryKey;

    /// The primary-key value as Llana sends it on the wire (`"101"`).
    public string? Id => Table.PrimaryKey is { } pk ? Format(this[pk]) : null;

    public object? this[string column] => Table.IndexOf(column) is >= 0 and var i ? Row[i] : null;

    public static string? Format(object? value) => value switch
    {
        null => null,
        DateTime dt => dt.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}

/// A change's identity across nodes: the node that made the write and its offset there.
public sealed record ChangeOrigin(string Node, long Offset);

/// The in-process feed of committed writes. Publishing assigns the next offset and calls every subscriber in
/// offset order; subscribers must be quick (hand the change to their own bounded queues).
public interface IChangeFeed
{
    RowChange Publish(TableSchema table, ChangeKind kind, object?[] row, bool remote = false, bool partial = false, ChangeOrigin? origin = null, DateTimeOffset? committedAt = null);

    IDisposable Subscribe(Action<RowChange> subscriber);
}

public sealed class InMemoryChangeFeed : IChangeFeed
{
    private readonly Lock _gate = new();
    private Action<RowChange>[] _subscribers = [];
    private long _offset;

    public RowChange Publish(TableSchema table, ChangeKind kind, object?[] row, bool remote = false, bool partial = false, ChangeOrigin? origin = null, DateTimeOffset? committedAt = null)
    {
        lock (_gate)
        {
            var change = new RowChange(table, kind, row, ++_offset, remote, partial) { Origin = origin, CommittedAt = committedAt ?? DateTimeOffset.UtcNow };
            foreach (var subscriber in _subscribers)
            {
                subscriber(change);
            }

            return change;
        }
    }

    public IDisposable Subscribe(Action<RowChange> subscriber)
    {
        lock (_gate)
        {
            _subscribers = [.. _subscribers, subscriber];
        }

        return new Unsubscriber(this, subscriber);
    }

    private sealed class Unsubscriber(InMemoryChangeFeed feed, Action<RowChange> subscriber) : IDisposable
    {
        public void Dispose()
        {
            lock (feed._gate)
            {
                feed._subscribers = feed._subscribers.Where(s => s != subscriber).ToArray();
            }
        }
    }
}
