using Llana.Core.Auth;
using Llana.Core.Changes;
using Llana.SocketIO;

namespace Llana.Server.Realtime;

/// Delivery: one dispatcher reads the change log in order, decides per identity and writes each payload to the sockets that may see it.
internal sealed partial class RealtimeGateway
{
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
    /// twice: live and from the log). The Socket.IO rooms are the only registry of who listens: a locally recovered
    /// socket is back in them at once (and judged from there); this ends its dormancy.
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

    /// The sockets a change of <paramref name="table"/> is for: connected ones in the room, plus dropped ones that
    /// may still recover (the broadcast is kept for their replay, so they must be judged now like the others).
    private List<(string Id, SocketState State)> Audience(string room, string table, bool rows)
    {
        var members = _sockets.To(room).FetchSockets();
        var audience = new List<(string, SocketState)>(members.Count);
        foreach (var socket in members)
        {
            if (socket.Data is SocketState state)
            {
                audience.Add((socket.Id, state));
            }
        }

        if (!_dormant.IsEmpty)
        {
            var inRoom = members.Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
            var now = time.GetUtcNow();
            foreach (var (id, (state, until)) in _dormant)
            {
                if (until < now)
                {
                    _dormant.TryRemove(id, out _);
                }
                else if (state.Rows == rows && state.Tables.Contains(table) && !inRoom.Contains(id))
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

    private sealed record JoinJob(SocketIOSocket Socket, SocketState State, string[] Rooms);

    private sealed record SocketIdentity(Caller Caller, DateTimeOffset LoadedAt, long Generation);
}
