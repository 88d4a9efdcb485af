using System.Text.Json;
using Llana.Core.Changes;
using Llana.Core.Tables;
using Llana.Data;
using Llana.Data.Sql;
using StackExchange.Redis;

namespace Llana.Server.Realtime;

/// `REDIS_HOST`, `REDIS_PORT`, `REDIS_USER`, `REDIS_PASS`.
internal sealed record RedisSettings(string Host, int Port, string? User, string? Password)
{
    public static RedisSettings? From(IConfiguration config)
    {
        string? Get(string name) => config[name] is { Length: > 0 } v ? v.Trim() : null;
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
/// already delivered them locally). Redis never blocks a write: while it is unreachable, publishing is skipped
/// (local sockets still receive everything) and the connection is retried in the background.
internal sealed partial class RedisChangeBridge(
    RedisSettings settings, IChangeFeed feed, SchemaCatalog catalog, Database database, ILogger<RedisChangeBridge> logger)
    : IHostedService, IAsyncDisposable
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("websockets");

    // The cluster's change log for recovery on another node: every node appends the changes it makes (the same
    // message as on the channel), capped to about the last 10,000.
    private static readonly RedisKey Log = "llana:changes";
    private const int LogLength = 10_000;
    private static readonly TimeSpan SessionTtl = TimeSpan.FromDays(1);

    private readonly string _origin = Guid.NewGuid().ToString("N")[..16];
    private ConnectionMultiplexer? _redis;
    private IDisposable? _feedSubscription;
    private readonly CancellationTokenSource _stopping = new();
    private Task _subscribing = Task.CompletedTask;
    private long _skipped;

    /// This node's name in the cluster (the `origin` of the changes it publishes).
    public string NodeId => _origin;

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
        _redis = await ConnectionMultiplexer.ConnectAsync(config);
        _redis.ConnectionFailed += (_, e) => LogLost(logger, settings.Host, settings.Port, e.FailureType.ToString());
        _redis.ConnectionRestored += (_, _) => LogRestored(logger, settings.Host, settings.Port, Interlocked.Exchange(ref _skipped, 0));
        if (!_redis.IsConnected)
        {
            LogUnreachable(logger, settings.Host, settings.Port);
        }

        _feedSubscription = feed.Subscribe(OnLocalChange);
        _subscribing = SubscribeAsync(_stopping.Token);
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

    private void OnLocalChange(RowChange change)
    {
        if (change.Remote || _redis is null)
        {
            return;
        }

        if (!_redis.IsConnected)
        {
            Interlocked.Increment(ref _skipped);
            return;
        }

        try
        {
            // Fire-and-forget only queues the commands: the write that produced the change is never held up.
            var message = Serialize(change);
            _redis.GetSubscriber().Publish(Channel, message, CommandFlags.FireAndForget);
            _redis.GetDatabase().StreamAdd(Log, "m", message, maxLength: LogLength, useApproximateMaxLength: true, flags: CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            Interlocked.Increment(ref _skipped);
        }
    }

    private byte[] Serialize(RowChange change)
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

            if (await ParseAsync(json) is { } change)
            {
                feed.Publish(change.Table, change.Kind, change.Row, remote: true, change.Partial, change.Origin);
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or System.Data.Common.DbException)
        {
            LogDropped(logger);
        }
    }

    private static ChangeOrigin? OriginOf(JsonElement json) =>
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
                : (await database.SelectAsync(table, table.Columns, [new Filter(pk, FilterOperator.Equals, key)], [], CancellationToken.None)).FirstOrDefault();
            partial = found is null;
            row = found ?? table.Columns.Select(c => c == pk ? key : null).ToArray();
        }

        return new RowChange(table, kind, row, 0, Remote: true, partial) { Origin = OriginOf(json) };
    }

    /// Remembers which node holds a socket's recovery session (pid), so another node can resume it.
    public void RememberSession(string pid) => Fire(db => db.StringSet(SessionKey(pid), _origin, SessionTtl, flags: CommandFlags.FireAndForget));

    public void ForgetSession(string pid) => Fire(db => db.KeyDelete(SessionKey(pid), CommandFlags.FireAndForget));

    /// Remembers which change this node's Socket.IO offset stands for, for a client that resumes elsewhere.
    public void RememberOffset(string offset, ChangeOrigin change, TimeSpan ttl) =>
        Fire(db => db.StringSet(OffsetKey(_origin, offset), change.Node + ":" + change.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture), ttl, flags: CommandFlags.FireAndForget));

    /// The last change a client got from another node, when its pid and offset are known there; else null.
    public async Task<ChangeOrigin?> ResumePointAsync(string pid, string offset)
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

        var colon = value.LastIndexOf(':');
        return colon > 0 && long.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var o)
            ? new ChangeOrigin(value[..colon], o)
            : null;
    }

    /// The changes logged after <paramref name="last"/>, oldest first (none when it is no longer in the log), and
    /// the log position read up to, for <see cref="ChangesSinceAsync"/>.
    public async Task<(List<RowChange> Changes, string? ReadUpTo)> ChangesAfterAsync(ChangeOrigin last)
    {
        var changes = new List<RowChange>();
        if (_redis is not { IsConnected: true })
        {
            return (changes, null);
        }

        var found = false;
        string? readUpTo = null;
        foreach (var entry in await _redis.GetDatabase().StreamRangeAsync(Log, "-", "+"))
        {
            readUpTo = entry.Id;
            if (found)
            {
                await AddAsync(changes, entry);
            }
            else if (entry["m"] is { IsNull: false } m)
            {
                using var doc = JsonDocument.Parse((byte[])m!);
                found = OriginOf(doc.RootElement) == last;
            }
        }

        return found ? (changes, readUpTo) : ([], null);
    }

    /// The changes logged after position <paramref name="readUpTo"/> (exclusive), oldest first.
    public async Task<List<RowChange>> ChangesSinceAsync(string readUpTo)
    {
        var changes = new List<RowChange>();
        if (_redis is { IsConnected: true })
        {
            foreach (var entry in await _redis.GetDatabase().StreamRangeAsync(Log, "(" + readUpTo, "+"))
            {
                await AddAsync(changes, entry);
            }
        }

        return changes;
    }

    private async Task AddAsync(List<RowChange> changes, StreamEntry entry)
    {
        if (entry["m"] is { IsNull: false } m)
        {
            using var doc = JsonDocument.Parse((byte[])m!);
            if (await ParseAsync(doc.RootElement) is { } change)
            {
                changes.Add(change);
            }
        }
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
        _feedSubscription?.Dispose();
        _feedSubscription = null;
        await _stopping.CancelAsync();
        await _subscribing;
        if (_redis is not null)
        {
            await _redis.CloseAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _feedSubscription?.Dispose();
        _stopping.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis at {Host}:{Port} is unreachable; retrying in the background. Until it is back, changes made through other instances are not delivered here.")]
    private static partial void LogUnreachable(ILogger logger, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lost Redis at {Host}:{Port} ({Failure}); retrying in the background")]
    private static partial void LogLost(ILogger logger, string host, int port, string failure);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis at {Host}:{Port} is back ({Skipped} local changes were not shared meanwhile)")]
    private static partial void LogRestored(ILogger logger, string host, int port, long skipped);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Dropped a malformed or unknown message on the websockets channel")]
    private static partial void LogDropped(ILogger logger);
}
