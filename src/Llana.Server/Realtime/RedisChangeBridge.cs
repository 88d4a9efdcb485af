using System.Text.Json;
using Llana.Core.Changes;
using Llana.Core.Tables;
using Llana.Data;
using StackExchange.Redis;

namespace Llana.Server.Realtime;

/// `REDIS_HOST`, `REDIS_PORT`, `REDIS_USER`, `REDIS_PASS`.
internal sealed record RedisSettings(string Host, int Port, string? User, string? Password)
{
    public static RedisSettings? From(IConfiguration config)
    {
        string? Get(string name) => Core.Options.LlanaOptions.Setting(config, name);
        var host = Get("REDIS_HOST");
        var port = Get("REDIS_PORT");
        return host is null || port is null
            ? null
            : new RedisSettings(host, Core.Options.LlanaOptions.Integer(port, "REDIS_PORT", 6379, 1, 65535), Get("REDIS_USER"), Get("REDIS_PASS"));
    }
}

/// Joins nodes into one realtime stream over Redis pub/sub (channel `websockets`). Local writes are published with
/// the full row; messages from other nodes are put on this node's change feed as remote changes, so the realtime
/// gateway authorizes them like local ones. The message is a superset of Node Llana's
/// `{tableName, publishType, primaryKey, id}`: both can share one Redis. A node skips its own messages (it has
/// already delivered them locally).
///
/// Nothing is lost silently. A write never waits on Redis: one loop reads the node's change log and shares each local
/// change in order (XADD to the log, then PUBLISH); what could not be sent while Redis was down goes out when it is
/// back. Each node numbers what it shares (`seq`); a receiver delivers each number once, in order, fills a gap from
/// the log, and catches up from the log when its own link comes back. A gap the log cannot fill (the log was lost
/// with a Redis restart, or the sender fell out of its change log's window) raises <see cref="ChangesLost"/>: the
/// gateway then disconnects its sockets, which refetch.
internal sealed partial class RedisChangeBridge(
    RedisSettings settings, IChangeFeed feed, SchemaCatalog catalog, Database database, Http.LlanaMetrics metrics, TimeProvider time,
    ILogger<RedisChangeBridge> logger)
    : IHostedService, IAsyncDisposable, IChangeHandoff, IClusterSessions
{
    /// Offset of the last change in the Redis log (or, for a remote change, passed by).
    public long HandedOffUpTo => Volatile.Read(ref _sharedUpTo);

    public static readonly RedisChannel Channel = RedisChannel.Literal("websockets");

    /// Ours (Node Llana never sees it): a node tells the others that changes were lost before any node's log had them
    /// (the database's change stream lost its place), so every node's sockets refetch. The message is the sender's id.
    public static readonly RedisChannel LostChannel = RedisChannel.Literal("llana:lost");

    // The cluster's change log for recovery on another node: every node appends the changes it makes (the same
    // message as on the channel), capped to about the last 10,000.
    private static readonly RedisKey Log = "llana:changes";
    private const int LogLength = 10_000;
    private static readonly TimeSpan SessionTtl = TimeSpan.FromDays(1);

    private readonly string _origin = Guid.NewGuid().ToString("N")[..16];
    private readonly SemaphoreSlim _receiving = new(1, 1);
    private readonly Dictionary<string, long> _lastSeq = new(StringComparer.Ordinal);
    private ConnectionMultiplexer? _redis;
    private ChangeReader? _reader;
    private readonly CancellationTokenSource _stopping = new();
    private Task _subscribing = Task.CompletedTask;
    private Task _sending = Task.CompletedTask;
    private readonly CancellationTokenSource _flushDeadline = new();
    private readonly CancellationTokenSource _stopSending = new();
    private long _stopAt = long.MaxValue;
    private long _sharedUpTo;
    private long _skipped;
    private ClusterLog _log = null!;

    /// Raised when changes from another node were lost for good (a gap the log cannot fill): sockets must refetch.
    public event Action? ChangesLost;

    /// Raised when the link to Redis is back: what was stored there (sessions) may have been lost with a restart.
    public event Action? Reconnected;

    /// This node's name in the cluster (the `origin` of the changes it publishes).
    public string? NodeId => _origin;

    /// Readiness: the link to Redis is up (it reconnects by itself when it drops).
    public bool IsConnected => _redis is { IsConnected: true };

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var config = new ConfigurationOptions
        {
            EndPoints = { { settings.Host, settings.Port } },
            User = settings.User,
            Password = settings.Password,
            ClientName = "llana",
            AbortOnConnectFail = false,
            ConnectTimeout = 2000,
            SyncTimeout = 2000,
            AsyncTimeout = 2000,
            KeepAlive = 5,
            ReconnectRetryPolicy = new ExponentialRetry(250, 5000),
        };
        _log = new ClusterLog(Log, LogLength + (LogLength / 10), ParseAsync);
        _redis = await ConnectionMultiplexer.ConnectAsync(config);
        metrics.Observe("llana.cluster.redis_connected", () => IsConnected ? 1 : 0, "{link}", "1 while this node's link to Redis is up");
        metrics.Observe("llana.cluster.outbox", () => _reader?.Backlog ?? 0, "{change}", "Changes of this node's log the cluster link has not shared over Redis yet");
        _redis.ConnectionFailed += (_, e) => LogLost(logger, settings.Host, settings.Port, e.FailureType.ToString());
        _redis.ConnectionRestored += (_, e) =>
        {
            LogRestored(logger, settings.Host, settings.Port, _reader?.Backlog ?? 0);
            _log.Invalidate();
            if (e.ConnectionType == ConnectionType.Interactive)
            {
                Reconnected?.Invoke();
            }

            if (e.ConnectionType == ConnectionType.Subscription)
            {
                // Messages published while this node was not subscribed are in the log.
                _ = CatchUpAsync();
            }
        };
        if (!_redis.IsConnected)
        {
            LogUnreachable(logger, settings.Host, settings.Port);
        }

        // Subscribe before sharing anything, so no change published after start is missed here.
        _subscribing = SubscribeAsync(_stopping.Token);
        feed.Lost += () => Fire(db => db.Multiplexer.GetSubscriber().Publish(LostChannel, _origin, CommandFlags.FireAndForget));
        _reader = feed.Read();
        _sending = SendLoopAsync(_reader);
    }

    // Redis may be down at start: keep trying in the background. Once subscribed, the client library
    // re-subscribes by itself after every reconnect.
    private async Task SubscribeAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // The queue hands messages over one at a time, in the order Redis delivered them.
                var queue = await _redis!.GetSubscriber().SubscribeAsync(Channel);
                queue.OnMessage(OnMessageAsync);
                var lost = await _redis.GetSubscriber().SubscribeAsync(LostChannel);
                lost.OnMessage(m =>
                {
                    if (m.Message != _origin)
                    {
                        LogLostElsewhere(logger, m.Message.ToString());
                        ChangesLost?.Invoke();
                    }
                });
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // RedisTimeoutException is a TimeoutException, not a RedisException: without it the loop died
                // when Redis was slow to come back, and cross-node delivery never resumed.
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// Shares this node's changes in log order: the Redis log first (so a receiver that sees a gap can fill it), then
    /// the channel. Writes never wait for this: while Redis is down the changes wait in the node's change log (its
    /// window is the bound) and are retried; on stop, what was appended is sent until the host gives up. Each change
    /// carries its local sequence as `seq`: one this reader never saw (it fell out of the window) leaves a gap that
    /// receivers detect, and they tell their sockets to refetch.
    private async Task SendLoopAsync(ChangeReader reader)
    {
        while (true)
        {
            while (reader.TryRead(out var change))
            {
                if (reader.Skipped != _skipped)
                {
                    _skipped = reader.Skipped;
                    LogOverflow(logger, _skipped);
                }

                if (!change.Remote && !await ShareAsync(Serialize(change, change.LocalSequence)))
                {
                    return;
                }

                Volatile.Write(ref _sharedUpTo, change.Offset);
            }

            if (reader.Position > Volatile.Read(ref _stopAt))
            {
                return;
            }

            await reader.WaitToReadAsync(_stopSending.Token);
        }
    }

    /// XADD then PUBLISH, retried until they succeed; false when the shutdown deadline came first.
    private async Task<bool> ShareAsync(byte[] message)
    {
        var logged = false;
        while (true)
        {
            try
            {
                if (!logged)
                {
                    await _redis!.GetDatabase().StreamAddAsync(Log, "m", message, maxLength: LogLength, useApproximateMaxLength: true);
                    logged = true;
                }

                await _redis!.GetSubscriber().PublishAsync(Channel, message);
                return true;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), _flushDeadline.Token);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            }
        }
    }

    private byte[] Serialize(RowChange change, long seq)
    {
        using var buffer = new MemoryStream(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("tableName", change.TableName);
            w.WriteString("publishType", KindName(change.Kind));
            w.WriteString("primaryKey", change.PrimaryKey);
            w.WriteString("id", change.Id);
            w.WriteString("origin", _origin);
            w.WriteNumber("originOffset", change.Offset);
            w.WriteNumber("seq", seq);
            w.WriteNumber("committedAt", change.CommittedAt.ToUnixTimeMilliseconds());
            if (change.Captured is { } captured)
            {
                w.WriteString("captured", captured.ToString());
            }

            w.WritePropertyName("row");
            RowJson.Write(w, change.Table, change.Row);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private async Task OnMessageAsync(ChannelMessage message)
    {
        try
        {
            byte[]? bytes = message.Message;
            if (bytes is null)
            {
                return;
            }

            using var doc = JsonDocument.Parse(bytes);
            var json = doc.RootElement;
            if (json.ValueKind != JsonValueKind.Object || OriginOf(json) is { Node: var node } && node == _origin)
            {
                return;
            }

            await _receiving.WaitAsync();
            try
            {
                if (SeqOf(json) is not { } seq || OriginOf(json) is not { } origin)
                {
                    // A peer that does not number its messages (Node Llana): deliver as it comes.
                    await DeliverAsync(json);
                    return;
                }

                if (_lastSeq.TryGetValue(origin.Node, out var last))
                {
                    if (seq <= last)
                    {
                        return;
                    }

                    if (seq > last + 1)
                    {
                        await FillFromLogAsync(origin.Node, last, seq);
                    }
                }

                await DeliverAsync(json);
                _lastSeq[origin.Node] = seq;
            }
            finally
            {
                _receiving.Release();
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or System.Data.Common.DbException)
        {
            LogDropped(logger);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The log could not be read to fill a gap: those changes cannot be vouched for.
            LogGapUnfilled(logger, e.GetType().Name);
            ChangesLost?.Invoke();
        }
    }

    private async Task DeliverAsync(JsonElement json)
    {
        if (await ParseAsync(json) is { } change)
        {
            Publish(change);
        }
    }

    private void Publish(RowChange change)
    {
        if (change.CommittedAt != default)
        {
            metrics.ClusterLag.Record((time.GetUtcNow() - change.CommittedAt).TotalSeconds);
        }

        feed.Publish(change.Table, change.Kind, change.Row, remote: true, change.Partial, change.Origin, change.CommittedAt == default ? null : change.CommittedAt, change.Captured);
    }

    internal static long? SeqOf(JsonElement json) =>
        json.TryGetProperty("seq", out var s) && s.TryGetInt64(out var seq) ? seq : null;

    /// Delivers the messages of <paramref name="node"/> numbered after <paramref name="after"/> and before
    /// <paramref name="before"/> (all after it when null) from the log, in order; a number the log lacks is lost.
    /// Caller holds <see cref="_receiving"/>.
    private async Task FillFromLogAsync(string node, long after, long? before)
    {
        var found = new SortedDictionary<long, RowChange?>();
        foreach (var entry in await _log.ReadAsync(_redis!.GetDatabase()))
        {
            if (entry.Origin?.Node == node && entry.Seq is { } s && s > after && (before is null || s < before))
            {
                found.TryAdd(s, entry.Change);
            }
        }

        var expected = after + 1;
        var lost = false;
        foreach (var (s, change) in found)
        {
            lost |= s != expected;
            if (change is not null)
            {
                Publish(change);
            }

            _lastSeq[node] = s;
            expected = s + 1;
        }

        if (lost || (before is { } b && expected != b))
        {
            LogGapUnfilled(logger, node);
            metrics.ChangesLost.Add(1);
            ChangesLost?.Invoke();
        }
    }

    /// After this node's subscription came back: what known nodes published meanwhile is in the log.
    private async Task CatchUpAsync()
    {
        await _receiving.WaitAsync();
        try
        {
            foreach (var (node, last) in _lastSeq.ToList())
            {
                await FillFromLogAsync(node, last, null);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException or JsonException)
        {
            LogGapUnfilled(logger, e.GetType().Name);
            ChangesLost?.Invoke();
        }
        finally
        {
            _receiving.Release();
        }
    }

    internal static ChangeOrigin? OriginOf(JsonElement json) =>
        json.TryGetProperty("origin", out var origin) && origin.ValueKind == JsonValueKind.String
            ? new ChangeOrigin(origin.GetString()!, json.TryGetProperty("originOffset", out var o) && o.TryGetInt64(out var offset) ? offset : 0)
            : null;

    /// A message of the channel or the log as a change (not yet on a feed: offset 0), or null when unusable.
    private async Task<RowChange?> ParseAsync(JsonElement json)
    {
        if (!json.TryGetProperty("tableName", out var t) || t.ValueKind != JsonValueKind.String
            || !json.TryGetProperty("publishType", out var p) || ParseKind(p.ToString()) is not { } kind
            || !json.TryGetProperty("id", out var id) || id.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined
            || await catalog.FindAsync(t.GetString()!, CancellationToken.None) is not { PrimaryKeyColumn: { } pk } table)
        {
            LogDropped(logger);
            return null;
        }

        object?[] row;
        var partial = false;
        if (json.TryGetProperty("row", out var rowJson) && rowJson.ValueKind == JsonValueKind.Object)
        {
            row = RowJson.Read(table, rowJson);
        }
        else
        {
            // A peer that sends only the key (Node Llana): read the row, unless it is gone.
            var key = RowJson.ReadKey(pk, id) ?? throw new FormatException("bad id");
            var found = kind == ChangeKind.Delete
                ? null
                : await database.FindByKeyAsync(table, pk, key, CancellationToken.None);
            partial = found is null;
            row = found ?? table.Columns.Select(c => c == pk ? key : null).ToArray();
        }

        // `committedAt` (ours, Unix milliseconds) is absent from Node Llana's messages: their lag is not measured.
        var committedAt = json.TryGetProperty("committedAt", out var at) && at.TryGetInt64(out var ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : default;
        var captured = json.TryGetProperty("captured", out var c) && c.ValueKind == JsonValueKind.String ? CapturePosition.Parse(c.GetString()) : null;
        return new RowChange(table, kind, row, 0, Remote: true, partial) { Origin = OriginOf(json), CommittedAt = committedAt, Captured = captured };
    }

    /// Remembers which node holds a socket's recovery session (pid), so another node can resume it.
    public void RememberSession(string pid) => Fire(db => db.StringSet(SessionKey(pid), _origin, SessionTtl, flags: CommandFlags.FireAndForget));

    public void ForgetSession(string pid) => Fire(db => db.KeyDelete(SessionKey(pid), CommandFlags.FireAndForget));

    /// Waits (at most <paramref name="timeout"/>) until every change this node made so far is in the log, so that a
    /// read of the log sees them: a client resuming here must find this node's recent changes there too.
    public async Task LoggedAsync(TimeSpan timeout)
    {
        var target = feed.Head;
        var deadline = time.GetUtcNow() + timeout;
        while (Volatile.Read(ref _sharedUpTo) < target && time.GetUtcNow() < deadline && IsConnected)
        {
            await Task.Delay(5);
        }
    }

    /// Remembers which change this node's Socket.IO offset stands for, for a client that resumes elsewhere, with how
    /// far this node's feed had come from each node (<paramref name="seen"/>: `node:offset,…`). The log is in the
    /// order nodes wrote to it, not the order a node delivered: the per-node positions say exactly what the client had.
    public void RememberOffset(string offset, ChangeOrigin change, string seen, TimeSpan ttl) =>
        Fire(db => db.StringSet(OffsetKey(_origin, offset), change.Node + ":" + change.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture) + "|" + seen, ttl, flags: CommandFlags.FireAndForget));

    /// Where a client that got its last change from another node stands, when its pid and offset are known there.
    public async Task<ResumePoint?> ResumePointAsync(string pid, string offset)
    {
        if (_redis is not { IsConnected: true })
        {
            return null;
        }

        var db = _redis.GetDatabase();
        var node = (string?)await db.StringGetAsync(SessionKey(pid));
        if (node is null || node == _origin || (string?)await db.StringGetAsync(OffsetKey(node, offset)) is not { } value)
        {
            return null;
        }

        var bar = value.IndexOf('|', StringComparison.Ordinal);
        if (bar < 0 || ParseOrigin(value[..bar]) is not { } last)
        {
            return null;
        }

        var seen = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var part in value[(bar + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (ParseOrigin(part) is { } o)
            {
                seen[o.Node] = o.Offset;
            }
        }

        return new ResumePoint(last, seen);
    }

    private static ChangeOrigin? ParseOrigin(string value)
    {
        var colon = value.LastIndexOf(':');
        return colon > 0 && long.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var o)
            ? new ChangeOrigin(value[..colon], o)
            : null;
    }

    /// The changes logged that the client has not had, oldest first (none when its last change is no longer in the
    /// log), and the log position read up to, for <see cref="ChangesSinceAsync"/>.
    public async Task<(List<RowChange> Changes, string? ReadUpTo)> ChangesAfterAsync(ResumePoint point)
    {
        var changes = new List<RowChange>();
        if (_redis is not { IsConnected: true })
        {
            return (changes, null);
        }

        var found = false;
        var log = await _log.ReadAsync(_redis.GetDatabase());
        foreach (var entry in log)
        {
            if (entry.Origin == point.Last)
            {
                found = true;
            }
            else if (entry is { Origin: { } origin, Change: { } change } && point.Missed(origin, afterLast: found))
            {
                changes.Add(change);
            }
        }

        return found ? (changes, log[^1].Id) : ([], null);
    }

    /// The changes the client has not had, logged after position <paramref name="readUpTo"/> (exclusive), oldest first.
    public async Task<List<RowChange>> ChangesSinceAsync(string readUpTo, ResumePoint point)
    {
        var changes = new List<RowChange>();
        if (_redis is { IsConnected: true })
        {
            foreach (var entry in await _log.ReadAsync(_redis.GetDatabase()))
            {
                if (entry is { Origin: { } origin, Change: { } change } && ClusterLog.After(entry.Id, readUpTo) && point.Missed(origin, afterLast: true))
                {
                    changes.Add(change);
                }
            }
        }

        return changes;
    }

    private void Fire(Action<IDatabase> command)
    {
        if (_redis is { IsConnected: true } redis)
        {
            try
            {
                command(redis.GetDatabase());
            }
            catch (RedisException)
            {
                // Resuming on another node is best effort; local delivery does not depend on it.
            }
        }
    }

    private static RedisKey SessionKey(string pid) => "llana:ws:pid:" + pid;

    private static RedisKey OffsetKey(string node, string offset) => "llana:ws:offset:" + node + ":" + offset;

    private static string KindName(ChangeKind kind) => kind switch
    {
        ChangeKind.Insert => "INSERT",
        ChangeKind.Update => "UPDATE",
        _ => "DELETE",
    };

    private static ChangeKind? ParseKind(string value) => value switch
    {
        "INSERT" => ChangeKind.Insert,
        "UPDATE" => ChangeKind.Update,
        "DELETE" => ChangeKind.Delete,
        _ => null,
    };

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Share what was appended up to now, until the host's shutdown timeout.
        Volatile.Write(ref _stopAt, feed.Head);
        await _stopSending.CancelAsync();
        await using (cancellationToken.Register(() => _flushDeadline.Cancel()))
        {
            await _sending;
        }

        _reader?.Dispose();

        await _stopping.CancelAsync();
        await _subscribing;
        if (_redis is not null)
        {
            await _redis.CloseAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reader?.Dispose();
        _stopping.Dispose();
        _flushDeadline.Dispose();
        _stopSending.Dispose();
        _receiving.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Node {Node} lost changes of the database's stream: this node's sockets are disconnected so that clients refetch")]
    private static partial void LogLostElsewhere(ILogger logger, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis at {Host}:{Port} is unreachable; retrying in the background. Until it is back, changes made through other instances are not delivered here.")]
    private static partial void LogUnreachable(ILogger logger, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost Redis at {Host}:{Port} ({Failure}); retrying in the background")]
    private static partial void LogLost(ILogger logger, string host, int port, string failure);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis at {Host}:{Port} is back ({Queued} local changes queued to be shared)")]
    private static partial void LogRestored(ILogger logger, string host, int port, long queued);

    [LoggerMessage(Level = LogLevel.Error, Message = "The cluster link fell out of the change log's window ({Skipped} changes skipped so far): those are not shared, and other nodes disconnect their sockets so clients refetch")]
    private static partial void LogOverflow(ILogger logger, long skipped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Changes from another node were lost ({Detail}): disconnecting sockets so clients refetch")]
    private static partial void LogGapUnfilled(ILogger logger, string detail);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Dropped a malformed or unknown message on the websockets channel")]
    private static partial void LogDropped(ILogger logger);
}

/// Where a client stood when it left another node: the last change it got, and how far that node's feed had come
/// from each node. A logged change from a node in <see cref="Seen"/> was missed when it is past that position; from
/// any other node, when it was logged after <see cref="Last"/>.
internal sealed record ResumePoint(ChangeOrigin Last, IReadOnlyDictionary<string, long> Seen)
{
    public bool Missed(ChangeOrigin change, bool afterLast) =>
        Seen.TryGetValue(change.Node, out var seen) ? change.Offset > seen : afterLast;
}
