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

    /// This node's count of its own (not remote) changes up to this one; 0 for a remote change. Numbers without gaps, in
    /// offset order: a consumer that shares local changes (the cluster link) numbers them with it, so that a change it
    /// never saw (its reader fell out of the window) still leaves a gap receivers can see.
    public long LocalSequence { get; init; }

    /// When the change entered the feed of the node that made it (that node's clock): the start of delivery lag.
    public DateTimeOffset CommittedAt { get; init; }

    /// Where the database's change stream had this change (`REALTIME_SOURCE=database`); null for API writes.
    public CapturePosition? Captured { get; init; }

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


/// A captured change's place in the database's stream: its transaction's commit position (PostgreSQL: the LSN of the
/// commit's end) and its index in that transaction. Increasing in commit order, the same on every node and every read
/// of the stream: a change read again (a new reader replaying what was not confirmed) is recognised.
public readonly record struct CapturePosition(ulong Commit, int Index) : IComparable<CapturePosition>
{
    public int CompareTo(CapturePosition other) => Commit != other.Commit ? Commit.CompareTo(other.Commit) : Index.CompareTo(other.Index);

    public override string ToString() => Commit.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":" + Index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static CapturePosition? Parse(string? text)
    {
        var colon = text?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        return colon > 0
            && ulong.TryParse(text.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var commit)
            && int.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
            ? new CapturePosition(commit, index)
            : null;
    }
}
