using System.Text.Json;
using Llana.Core.Changes;
using StackExchange.Redis;

namespace Llana.Server.Realtime;

/// This node's copy of the cluster's change log (the Redis stream every node appends to), read incrementally and
/// parsed once. Resumes and gap fills read the copy: when hundreds of clients move to this node at once (their node
/// died), each resume costs a pass over parsed entries, not a read and parse of the whole log from Redis.
internal sealed class ClusterLog(RedisKey key, int capacity, Func<JsonElement, Task<RowChange?>> parse)
{
    /// One logged change: its stream id, where it was committed, that node's `seq`, and the change (null when unusable).
    public sealed record Entry(string Id, ChangeOrigin? Origin, long? Seq, RowChange? Change);

    private const int ReadBatch = 1000;
    private readonly SemaphoreSlim _reading = new(1, 1);

    // Replaced, never changed in place: a caller iterates the list it got while the next read builds another.
    private IReadOnlyList<Entry> _entries = [];
    private bool _stale;

    /// Redis may have restarted empty (new stream ids, old entries gone): read the log from its start next time.
    public void Invalidate() => Volatile.Write(ref _stale, true);

    /// The log as it is now, oldest first: what was appended since the last call is read and parsed, the rest reused.
    public async Task<IReadOnlyList<Entry>> ReadAsync(IDatabase db)
    {
        await _reading.WaitAsync();
        try
        {
            if (Volatile.Read(ref _stale))
            {
                _stale = false;
                _entries = [];
            }

            var added = new List<Entry>();
            var last = _entries.Count > 0 ? _entries[^1].Id : null;
            while (true)
            {
                var batch = await db.StreamRangeAsync(key, last is null ? "-" : "(" + last, "+", ReadBatch);
                foreach (var entry in batch)
                {
                    last = entry.Id!;
                    added.Add(await ParseEntryAsync(last, entry["m"]));
                }

                if (batch.Length < ReadBatch)
                {
                    break;
                }
            }

            if (added.Count > 0)
            {
                // Keep what Redis keeps (it trims to about `capacity`); older entries would only slow every read.
                var next = new List<Entry>(Math.Min(capacity, _entries.Count + added.Count));
                var skip = Math.Max(0, _entries.Count + added.Count - capacity);
                next.AddRange(_entries.Skip(skip));
                next.AddRange(added.Skip(Math.Max(0, skip - _entries.Count)));
                _entries = next;
            }

            return _entries;
        }
        finally
        {
            _reading.Release();
        }
    }

    private async Task<Entry> ParseEntryAsync(string id, RedisValue message)
    {
        if (message.IsNull)
        {
            return new Entry(id, null, null, null);
        }

        try
        {
            using var doc = JsonDocument.Parse((byte[])message!);
            var json = doc.RootElement;
            return new Entry(id, RedisChangeBridge.OriginOf(json), RedisChangeBridge.SeqOf(json), await parse(json));
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            // Not a change this node can use (malformed, or from a table it does not know): kept as a position.
            return new Entry(id, null, null, null);
        }
    }

    /// Whether stream id <paramref name="a"/> comes after <paramref name="b"/> (`milliseconds-sequence`).
    public static bool After(string a, string b) => Order(a).CompareTo(Order(b)) > 0;

    private static (long, long) Order(string id)
    {
        var dash = id.IndexOf('-', StringComparison.Ordinal);
        return dash < 0
            ? (long.Parse(id, System.Globalization.CultureInfo.InvariantCulture), 0)
            : (long.Parse(id.AsSpan(0, dash), System.Globalization.CultureInfo.InvariantCulture), long.Parse(id.AsSpan(dash + 1), System.Globalization.CultureInfo.InvariantCulture));
    }
}
