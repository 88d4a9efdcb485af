using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Llana.Core.Auth;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Data.Json;
using Llana.Data.Schema;
using Llana.Server.Auth;
using Llana.Server.Http;
using Llana.SocketIO;

namespace Llana.Server.Realtime;

/// Llana's realtime channel (spec §10): a socket subscribes to one or more tables in its handshake and receives,
/// for every committed change it may read, an event named after the table with `{type, [primary key]: "id"}` (plus the
/// row, filtered by its allowed fields, when it asked for rows). Every node delivers the changes of its own
/// change feed (local writes and, with Redis, other nodes' writes) to its own sockets, deciding per socket with
/// the shared permission evaluator and no database read. One dispatcher keeps commit order; each distinct payload
/// is encoded once and broadcast to the sockets that may see it, so connection state recovery can replay it.
internal sealed partial class RealtimeGateway(
    SocketIOServer io,
    IChangeFeed feed,
    SchemaCatalog catalog,
    Authenticator authenticator,
    IAccessPolicy policy,
    LlanaOptions options,
    RealtimeOptions realtime,
    LlanaMetrics metrics,
    TimeProvider time,
    IClusterSessions cluster,
    ILogger<RealtimeGateway> logger) : IHostedService
{
    public const string NoTable = "No Table Provided In Headers[x-llana-table]";
    private const string TableRoom = "t:";
    private const string RowsRoom = "r:";

    // One dispatcher reads the change log and runs the socket jobs (join, resume) between two changes.
    private readonly Channel<object> _jobs = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, SocketState>> _members = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (SocketState State, DateTimeOffset Until)> _dormant = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _refuseRecovery = new(StringComparer.Ordinal);

    // How far this node's feed has come from each node (cluster only; read and written by the dispatcher alone).
    private readonly Dictionary<string, long> _fed = new(StringComparer.Ordinal);
    private SocketIONamespace _sockets = null!;
    private ChangeReader? _reader;
    private Task _dispatcher = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _sockets = io.Of("/");
        metrics.Observe("llana.realtime.sockets", () => _sockets.Sockets.Count, "{socket}", "Open Socket.IO connections on this node");
        _sockets.Use(ConnectAsync);
        _sockets.OnConnection(OnConnection);

        _reader = feed.Read();
        _dispatcher = DispatchLoopAsync(_reader, _stopping.Token);
        feed.Lost += OnChangesLost;
        cluster.ChangesLost += OnChangesLost;

        // Redis may have restarted empty: say again which node holds each socket's session, so a client that moves to
        // another node can still resume there.
        cluster.Reconnected += () =>
        {
            foreach (var socket in _sockets.Sockets.Values)
            {
                if (socket.Pid is { } pid)
                {
                    cluster.RememberSession(pid);
                }
            }
        };

        return Task.CompletedTask;
    }

    /// Changes made on another node were lost for good: no socket here can be trusted to be in step. Each is
    /// disconnected by the server (`io server disconnect`: the client does not reconnect by itself, refetches and
    /// connects again), and sockets that dropped earlier are refused the replay of a stream with a hole in it.
    private void OnChangesLost()
    {
        foreach (var id in _dormant.Keys)
        {
            _dormant.TryRemove(id, out _);
            _refuseRecovery[id] = 0;
        }

        foreach (var socket in _sockets.Sockets.Values)
        {
            socket.Disconnect();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _jobs.Writer.TryComplete();
        await _stopping.CancelAsync();
        try
        {
            await _dispatcher;
        }
        catch (OperationCanceledException)
        {
        }

        _reader?.Dispose();
        _stopping.Dispose();
    }

    // Runs for recovered sessions too (SkipMiddlewares is off): recovery never bypasses authentication.
    private async ValueTask ConnectAsync(ConnectContext context)
    {
        var names = TableNames(context);
        if (names.Count == 0)
        {
            context.Reject(NoTable);
            return;
        }

        if (!HostCheck.Allows(options, context.RemoteAddress, logger))
        {
            context.Reject("Forbidden");
            return;
        }

        var tables = new List<TableSchema>(names.Count);
        foreach (var name in names)
        {
            if (await catalog.FindAsync(name, CancellationToken.None) is not { } table)
            {
                context.Reject($"Error processing schema for {name}");
                return;
            }

            tables.Add(table);
        }

        var token = AccessToken(context);
        var caller = await authenticator.AuthenticateAsync(token, ApiKey(context), CancellationToken.None);
        if (caller.Authenticated && await policy.RefusalAsync(caller, CancellationToken.None) is { } refusal)
        {
            // A valid token of a deleted user (or one without a role) is refused, as HTTP refuses it.
            context.Reject(refusal);
            return;
        }

        if (!caller.Authenticated)
        {
            // Without a valid credential a socket may only subscribe to tables that are public for READ.
            foreach (var table in tables)
            {
                var decision = await policy.DecideAsync(caller, table, AccessLevel.Read, null, CancellationToken.None);
                if (!decision.Allowed)
                {
                    context.Reject(caller.Failure);
                    return;
                }
            }
        }

        // A socket resuming another node's session: read what it missed here, off the dispatcher. Best effort: when
        // Redis fails now, the client gets a fresh session (recovered false) rather than a refused connect.
        ResumePoint? resumeAfter = null;
        List<RowChange> missed = [];
        string? readUpTo = null;
        try
        {
            resumeAfter = context.Recovered ? null : await ResumePointAsync(context);
            (missed, readUpTo) = resumeAfter is null ? ([], null) : await cluster.ChangesAfterAsync(resumeAfter);
            if (readUpTo is null)
            {
                // Its last change is not in the log: nothing to resume from (the client sees recovered false).
                resumeAfter = null;
            }
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or JsonException)
        {
            LogDispatchFailed(logger, "a resumed socket", e);
            resumeAfter = null;
            missed = [];
            readUpTo = null;
        }

        if (resumeAfter is not null)
        {
            // It gets what it missed here: its client may keep its state (`socket.recovered` is true).
            context.ContinueSession();
        }

        context.Data = new SocketState(caller, tables.Select(t => t.Table).ToArray(), WantsRows(context), caller.ExpiresAt)
        {
            ResumeAfter = resumeAfter,
            Missed = missed,
            ReadUpTo = readUpTo,
        };
    }

    private void OnConnection(SocketIOSocket socket)
    {
        if (socket.Data is not SocketState state)
        {
            socket.Disconnect(close: true);
            return;
        }

        if (_refuseRecovery.TryRemove(socket.Id, out _) && socket.Recovered)
        {
            socket.Disconnect();
            return;
        }

        var rooms = state.Tables.Select(t => (state.Rows ? RowsRoom : TableRoom) + t).ToArray();
        if (socket.Pid is { } pid)
        {
            cluster.RememberSession(pid);
        }

        // The socket joins its rooms on the dispatcher, between two changes (see JoinAsync).
        _jobs.Writer.TryWrite(new JoinJob(socket, state, rooms));
        socket.OnDisconnect(reason =>
        {
            if (reason is "client namespace disconnect" or "server namespace disconnect" && socket.Pid is { } left)
            {
                cluster.ForgetSession(left);
            }

            lock (state.Membership)
            {
                // A socket that dropped (rather than left) may come back with recovery: keep judging changes for it.
                // Dormant first, then out of the rooms: a change dispatched meanwhile must find it in one or the
                // other, or it would be neither sent nor kept for the replay.
                if (reason is not ("client namespace disconnect" or "server namespace disconnect"))
                {
                    _dormant[socket.Id] = (state, time.GetUtcNow() + realtime.RecoveryWindow);
                }

                foreach (var room in rooms)
                {
                    if (_members.TryGetValue(room, out var members))
                    {
                        members.TryRemove(socket.Id, out _);
                    }
                }
            }
        });

        // Client-to-server messages are not part of the contract: answer acks with an error, ignore the rest.
        socket.OnAny(e =>
        {
            if (e.HasAck)
            {
                e.Ack(new { error = "Client to server messages are not supported." });
            }

            return ValueTask.CompletedTask;
        });

        if (realtime.DisconnectOnTokenExpiry && state.ExpiresAt is { } expires)
        {
            // Closing the transport (not a namespace disconnect) makes the client reconnect, with a fresh token.
            var due = expires - time.GetUtcNow();
            var timer = new Timer(_ => socket.CloseTransport(), null, due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
            socket.OnDisconnect(_ => timer.Dispose());
        }
    }

    /// <summary>Changes waiting together are sent in one batch of at most this many: one write per socket for all of them.</summary>
    private const int DispatchBatch = 64;

    private async Task DispatchLoopAsync(ChangeReader reader, CancellationToken ct)
    {
        var skipped = 0L;
        Task<bool>? changes = null;
        while (!ct.IsCancellationRequested)
        {
            while (_jobs.Reader.TryRead(out var job))
            {
                await RunAsync(job, ct);
            }

            using (io.BatchSends())
            {
                for (var n = 0; n < DispatchBatch && reader.TryRead(out var change); n++)
                {
                    await RunAsync(change, ct);
                }
            }

            if (reader.Skipped != skipped)
            {
                // This node's dispatcher fell out of the change log's window: its sockets missed changes.
                skipped = reader.Skipped;
                LogSkipped(logger, skipped);
                OnChangesLost();
            }

            if (reader.Backlog == 0 && !_jobs.Reader.TryPeek(out _))
            {
                // A wait on the log is kept until it completes: two waits on one reader could lose a wake-up.
                changes ??= reader.WaitToReadAsync(ct).AsTask();
                var jobs = _jobs.Reader.WaitToReadAsync(ct).AsTask();
                var first = await Task.WhenAny(changes, jobs);
                if (changes.IsCompleted)
                {
                    changes = null;
                }

                if (first == jobs && !await jobs)
                {
                    return;
                }
            }
        }
    }

    private async ValueTask RunAsync(object item, CancellationToken ct)
    {
        try
        {
            switch (item)
            {
                case RowChange change:
                    if (OriginOf(change) is { } from)
                    {
                        // Dispatch runs in log order: every change from this node up to here has been judged.
                        _fed[from.Node] = from.Offset;
                    }

                    await DispatchAsync(change, ct);
                    break;
                case JoinJob join:
                    Join(join);
                    break;
                case ResumeJob resume:
                    await ResumeAsync(resume, ct);
                    break;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogDispatchFailed(logger, (item as RowChange)?.TableName ?? "a socket job", e);
        }
    }

    private async ValueTask DispatchAsync(RowChange change, CancellationToken ct)
    {
        var idsRoom = TableRoom + change.TableName;
        var rowsRoom = RowsRoom + change.TableName;
        var ids = Audience(idsRoom, change.TableName, rows: false);
        var rows = Audience(rowsRoom, change.TableName, rows: true);
        if (ids.Count + rows.Count == 0)
        {
            return;
        }

        // Sockets of one user share a decision: decide once per distinct identity and change.
        var decisions = new Dictionary<string, AccessDecision?>(StringComparer.Ordinal);
        async ValueTask<AccessDecision?> Decide(SocketState state)
        {
            if (policy.AllowsAll)
            {
                return AccessDecision.AllowAll;
            }

            var caller = await IdentityAsync(state, ct);
            var key = caller.UserId is { } user ? user + "|" + caller.Role?.Name : (caller.Authenticated ? "|auth" : "|anonymous");
            if (!decisions.TryGetValue(key, out var decision))
            {
                decisions[key] = decision = await DecideAsync(caller, change, ct);
            }

            return decision;
        }

        var origin = OriginOf(change);
        var delivered = false;
        if (ids.Count > 0)
        {
            var denied = new List<string>();
            foreach (var (id, state) in ids)
            {
                if (state.Hold(change) || !state.FirstTime(origin, time.GetUtcNow()) || await Decide(state) is null)
                {
                    denied.Add(id);
                }
            }

            if (denied.Count < ids.Count)
            {
                delivered = true;
                metrics.Deliveries.Add(ids.Count - denied.Count);
                Remember(_sockets.To(idsRoom).Except(denied).Send(_sockets.Encode(change.TableName, Payload(change, withRow: false, null))), origin);
            }
        }

        if (rows.Count > 0)
        {
            // One payload per distinct allowed-fields set; each is broadcast once to the sockets that share it.
            var groups = new Dictionary<string, (IReadOnlySet<string>? Fields, HashSet<string> Members)>(StringComparer.Ordinal);
            foreach (var (id, state) in rows)
            {
                if (!state.Hold(change) && state.FirstTime(origin, time.GetUtcNow()) && await Decide(state) is { } decision)
                {
                    var key = decision.AllowedFields is null ? "*" : string.Join(",", decision.AllowedFields.Order(StringComparer.Ordinal));
                    if (!groups.TryGetValue(key, out var group))
                    {
                        groups[key] = group = (decision.AllowedFields, new HashSet<string>(StringComparer.Ordinal));
                    }

                    group.Members.Add(id);
                }
            }

            foreach (var (_, (fields, members)) in groups)
            {
                delivered = true;
                metrics.Deliveries.Add(members.Count);
                var others = members.Count == rows.Count ? [] : rows.Where(r => !members.Contains(r.Id)).Select(r => r.Id);
                Remember(_sockets.To(rowsRoom).Except(others).Send(_sockets.Encode(change.TableName, Payload(change, withRow: true, fields))), origin);
            }
        }

        if (delivered && change.CommittedAt != default)
        {
            metrics.DeliveryLag.Record((time.GetUtcNow() - change.CommittedAt).TotalSeconds);
        }
    }

    /// A broadcast goes to the Socket.IO room minus the sockets judged out, so room membership may only change between
    /// two dispatches: a socket that joined while a change was being judged would get it unchecked (and, resuming,
    /// twice: live and from the log). A locally recovered socket is back in its Socket.IO rooms at once; it stays
    /// dormant (judged as such) until this moves it to the members.
    private void Join(JoinJob job)
    {
        var (socket, state, rooms) = job;
        lock (state.Membership)
        {
            if (!socket.Connected)
            {
                // It dropped before joining; its disconnect handler has already made it dormant if it may return.
                return;
            }

            foreach (var room in rooms)
            {
                _members.GetOrAdd(room, _ => new(StringComparer.Ordinal))[socket.Id] = state;
                socket.Join(room);
            }

            _dormant.TryRemove(socket.Id, out _);
        }

        if (state.ResumeAfter is not null)
        {
            // From now on its live changes are held; what was logged before is read now.
            _ = QueueResumeAsync(socket, state);
        }
    }

    /// The cluster-wide identity of a change: where it was committed, and its offset there (cluster only).
    private ChangeOrigin? OriginOf(RowChange change) =>
        change.Origin ?? (cluster.NodeId is { } node ? new ChangeOrigin(node, change.Offset) : null);

    // Which change an offset stands for, so that a client can resume on another node (cluster only).
    private void Remember(string? offset, ChangeOrigin? origin)
    {
        // Alone there is no other node to resume on: the list of what was fed is not even built.
        if (cluster.NodeId is not null && offset is not null && origin is not null)
        {
            cluster.RememberOffset(offset, origin, string.Join(',', _fed.Select(p => p.Key + ":" + p.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))), realtime.RecoveryWindow);
        }
    }

    /// The change a client last got from another node, from the `pid` and `offset` its socket.io-client sends on
    /// reconnect; null when this node recovered the session itself, or when it is unknown.
    private async ValueTask<ResumePoint?> ResumePointAsync(ConnectContext context) =>
        cluster.NodeId is not null && context.Auth.ValueKind == JsonValueKind.Object
            && context.Auth.TryGetProperty("pid", out var pid) && pid.ValueKind == JsonValueKind.String
            && context.Auth.TryGetProperty("offset", out var offset) && offset.ValueKind == JsonValueKind.String
            ? await cluster.ResumePointAsync(pid.GetString()!, offset.GetString()!)
            : null;

    // Now that the socket is in its rooms (live changes reach it), add what was logged since the handshake read,
    // then hand the whole list to the dispatcher; a change seen both ways is delivered once (FirstTime).
    private async Task QueueResumeAsync(SocketIOSocket socket, SocketState state)
    {
        try
        {
            if (state.ReadUpTo is { } readUpTo)
            {
                await cluster.LoggedAsync(TimeSpan.FromSeconds(2));
                state.Missed.AddRange(await cluster.ChangesSinceAsync(readUpTo, state.ResumeAfter!));
            }
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or JsonException)
        {
            // The job is queued all the same: it releases the live changes held for the socket.
            LogDispatchFailed(logger, "a resumed socket", e);
        }

        _jobs.Writer.TryWrite(new ResumeJob(socket, state));
    }

    /// A socket that dropped on another node (which may be gone) resumes here: the changes it missed come from the
    /// cluster's log, judged with its identity now, each once (live events it already got are skipped); then the
    /// live changes held back meanwhile, so that nothing new overtakes what it missed. (Should the socket drop again
    /// first, its next resume reads all of them from the log.)
    private async Task ResumeAsync(ResumeJob job, CancellationToken ct)
    {
        var (socket, state) = job;
        foreach (var change in state.Missed.Concat(state.TakeHeld()))
        {
            if (!socket.Connected || !state.Tables.Contains(change.TableName) || !state.FirstTime(OriginOf(change), time.GetUtcNow()))
            {
                continue;
            }

            var caller = await IdentityAsync(state, ct);
            if (await DecideAsync(caller, change, ct) is { } decision)
            {
                socket.Emit(change.TableName, Payload(change, state.Rows, decision.AllowedFields));
                metrics.Deliveries.Add(1);
            }
        }

        state.Resumed(time.GetUtcNow());
    }


    /// The sockets a change of <paramref name="table"/> is for: connected ones in the room, plus dropped ones that
    /// may still recover (the broadcast is kept for their replay, so they must be judged now like the others).
    private List<(string Id, SocketState State)> Audience(string room, string table, bool rows)
    {
        var audience = new List<(string, SocketState)>();
        if (_members.TryGetValue(room, out var members))
        {
            foreach (var (id, state) in members)
            {
                audience.Add((id, state));
            }
        }

        if (!_dormant.IsEmpty)
        {
            var now = time.GetUtcNow();
            foreach (var (id, (state, until)) in _dormant)
            {
                if (until < now)
                {
                    _dormant.TryRemove(id, out _);
                }
                else if (state.Rows == rows && state.Tables.Contains(table) && members?.ContainsKey(id) != true)
                {
                    audience.Add((id, state));
                }
            }
        }

        return audience;
    }

    /// A caller's READ decision for this row, or null when it may not see it.
    private async ValueTask<AccessDecision?> DecideAsync(Caller caller, RowChange change, CancellationToken ct)
    {
        var decision = await policy.DecideAsync(caller, change.Table, AccessLevel.Read, null, ct);
        if (!decision.Allowed)
        {
            return null;
        }

        // Own records: judged on the row (before the write, for a delete); a key-only row cannot be judged.
        return decision.Owner is { } owner && (change.Partial || !owner.Matches(column => change[column])) ? null : decision;
    }

    /// The socket's user with its role, kept for `CACHE_WS_IDENTITY_DATA_TTL` and re-read after that or as soon as a
    /// role changes through the API (the evaluator's generation moves), so delivery needs no database read.
    private async ValueTask<Caller> IdentityAsync(SocketState state, CancellationToken ct)
    {
        if (policy.AllowsAll || state.Caller.UserId is not { } userId)
        {
            return state.Caller;
        }

        var identity = state.Identity;
        var generation = policy.RoleGeneration;
        if (identity is null || identity.Generation != generation || time.GetUtcNow() - identity.LoadedAt >= realtime.IdentityTtl)
        {
            var role = await policy.RoleAsync(userId, ct);
            identity = new SocketIdentity(state.Caller with { Role = new KnownRole(role) }, time.GetUtcNow(), generation);
            state.Identity = identity;
        }

        return identity.Caller;
    }

    private static JsonElement Payload(RowChange change, bool withRow, IReadOnlySet<string>? fields)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", change.Kind switch { ChangeKind.Insert => "INSERT", ChangeKind.Update => "UPDATE", _ => "DELETE" });
            if (change.PrimaryKey is { } pk)
            {
                w.WriteString(pk, change.Id);
            }

            // A partial change knows its key only (a key-only delete, a large value the update left alone, a peer that
            // sends ids): no `row` rather than a row of made-up nulls; the client fetches it if it needs it.
            if (withRow && !change.Partial)
            {
                w.WriteStartObject("row");
                for (var i = 0; i < change.Table.Columns.Count; i++)
                {
                    var column = change.Table.Columns[i];
                    if (!column.WriteOnly && fields?.Contains(column.Field) != false)
                    {
                        w.WritePropertyName(column.Field);
                        JsonValues.Write(w, change.Row[i]);
                    }
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return JsonDocument.Parse(buffer.WrittenMemory).RootElement.Clone();
    }

    private static List<string> TableNames(ConnectContext context)
    {
        var raw = context.Auth.ValueKind == JsonValueKind.Object && context.Auth.TryGetProperty("x-llana-table", out var t) && t.ValueKind != JsonValueKind.Null
            ? (t.ValueKind == JsonValueKind.String ? t.GetString() : t.ToString())
            : context.Headers["x-llana-table"].ToString();
        return (raw ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();
    }

    private string? AccessToken(ConnectContext context)
    {
        if (context.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return header[7..];
        }

        if (context.Auth.ValueKind == JsonValueKind.Object && context.Auth.TryGetProperty("token", out var token) && token.ValueKind == JsonValueKind.String)
        {
            var value = token.GetString()!;
            return value.StartsWith("Bearer ", StringComparison.Ordinal) ? value[7..] : value;
        }

        return context.Cookies.TryGetValue("accessToken", out var cookie) && Origins.AllowsCookie(options, context.Headers) ? cookie : null;
    }

    private string? ApiKey(ConnectContext context)
    {
        var name = options.Auth.ApiKeyName;
        if (context.Auth.ValueKind == JsonValueKind.Object && context.Auth.TryGetProperty(name, out var key) && key.ValueKind == JsonValueKind.String)
        {
            return key.GetString();
        }

        return context.Headers[name].ToString() is { Length: > 0 } header ? header : context.Query[name].ToString() is { Length: > 0 } query ? query : null;
    }

    /// Rows are opt-in: `auth: {"x-llana-rows": true}` or the header `x-llana-rows: true`.
    private static bool WantsRows(ConnectContext context) =>
        (context.Auth.ValueKind == JsonValueKind.Object && context.Auth.TryGetProperty("x-llana-rows", out var rows)
            && (rows.ValueKind == JsonValueKind.True || (rows.ValueKind == JsonValueKind.String && rows.GetString() == "true")))
        || context.Headers["x-llana-rows"].ToString() == "true";

    [LoggerMessage(Level = LogLevel.Error, Message = "Realtime dispatch fell out of the change log's window ({Skipped} changes skipped so far): disconnecting sockets so clients refetch")]
    private static partial void LogSkipped(ILogger logger, long skipped);

    [LoggerMessage(Level = LogLevel.Error, Message = "Realtime dispatch failed for a change of {Table}")]
    private static partial void LogDispatchFailed(ILogger logger, string table, Exception exception);

    /// What the handshake established, and the cached identity used at delivery.
    private sealed record SocketState(Caller Caller, string[] Tables, bool Rows, DateTimeOffset? ExpiresAt)
    {
        // A change read from the log may still be on its way live for a few seconds after the resume.
        private static readonly TimeSpan Overlap = TimeSpan.FromSeconds(30);
        private readonly Lock _gate = new();

        /// Joining the rooms and dropping out of them take this, so that one cannot undo the other.
        public Lock Membership { get; } = new();
        private HashSet<ChangeOrigin>? _seen;
        private List<RowChange>? _held;
        private DateTimeOffset? _resumedAt;

        public SocketIdentity? Identity { get; set; }

        /// Set when the socket resumes a session of another node: deliver what it missed after this change.
        public ResumePoint? ResumeAfter { get; init; }

        /// What it missed, read from the cluster's log (up to <see cref="ReadUpTo"/>, then since).
        public List<RowChange> Missed { get; set; } = [];

        public string? ReadUpTo { get; init; }

        /// While a resume is pending or just done, each change reaches the socket once, live or from the log.
        public bool FirstTime(ChangeOrigin? origin, DateTimeOffset now)
        {
            if (ResumeAfter is null || origin is null)
            {
                return true;
            }

            lock (_gate)
            {
                if (_resumedAt is { } at && now - at > Overlap)
                {
                    _seen = null;
                    return true;
                }

                return (_seen ??= []).Add(origin);
            }
        }

        /// Until its resume has been delivered, a resuming socket gets no live change: it is held for the resume.
        public bool Hold(RowChange change)
        {
            if (ResumeAfter is null)
            {
                return false;
            }

            lock (_gate)
            {
                if (_resumedAt is not null)
                {
                    return false;
                }

                (_held ??= []).Add(change);
                return true;
            }
        }

        public List<RowChange> TakeHeld()
        {
            lock (_gate)
            {
                var held = _held ?? [];
                _held = null;
                return held;
            }
        }

        public void Resumed(DateTimeOffset now)
        {
            lock (_gate)
            {
                _resumedAt = now;
                Missed = [];
                _held = null;
            }
        }
    }

    private sealed record ResumeJob(SocketIOSocket Socket, SocketState State);

    private sealed record JoinJob(SocketIOSocket Socket, SocketState State, string[] Rooms);

    private sealed record SocketIdentity(Caller Caller, DateTimeOffset LoadedAt, long Generation);
}

/// Realtime settings: Llana's `CACHE_WS_IDENTITY_DATA_TTL` (default 2 days) and ours, `WS_DISCONNECT_ON_TOKEN_EXPIRY`
/// (default true) and `WS_RECOVERY_WINDOW` (default 2 minutes).
internal sealed record RealtimeOptions(bool DisconnectOnTokenExpiry, TimeSpan RecoveryWindow, TimeSpan IdentityTtl)
{
    public static RealtimeOptions From(IConfiguration config)
    {
        string? Get(string name) => LlanaOptions.Setting(config, name);
        return new(
            Get("WS_DISCONNECT_ON_TOKEN_EXPIRY") != "false",
            LlanaOptions.Duration(Get("WS_RECOVERY_WINDOW"), "WS_RECOVERY_WINDOW", TimeSpan.FromMinutes(2)),
            LlanaOptions.Duration(Get("CACHE_WS_IDENTITY_DATA_TTL"), "CACHE_WS_IDENTITY_DATA_TTL", TimeSpan.FromDays(2)));
    }
}
