using System.Text.Json;
using Llana.Core.Auth;
using Llana.Core.Changes;
using Llana.Data.Schema;
using Llana.Server.Auth;
using Llana.Server.Http;
using Llana.SocketIO;

namespace Llana.Server.Realtime;

/// The handshake: which tables, which credential, whether rows; the socket state it leaves for delivery.
internal sealed partial class RealtimeGateway
{
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

        // Every lookup stops when the client goes away mid-handshake.
        var ct = context.ConnectionAborted;
        var tables = new List<TableSchema>(names.Count);
        foreach (var name in names)
        {
            if (await catalog.FindAsync(name, ct) is not { } table)
            {
                context.Reject($"Error processing schema for {name}");
                return;
            }

            tables.Add(table);
        }

        var token = AccessToken(context);
        var caller = await authenticator.AuthenticateAsync(token, ApiKey(context), ct);
        if (caller.Authenticated && await policy.RefusalAsync(caller, ct) is { } refusal)
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
                var decision = await policy.DecideAsync(caller, table, AccessLevel.Read, null, ct);
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
        socket.OnDisconnecting(reason =>
        {
            if (reason is "client namespace disconnect" or "server namespace disconnect")
            {
                if (socket.Pid is { } left)
                {
                    cluster.ForgetSession(left);
                }

                return;
            }

            // A socket that dropped (rather than left) may come back with recovery: keep judging changes for it.
            // Dormant while still in its rooms: a change dispatched meanwhile must find it in one or the other, or it
            // would be neither sent nor kept for the replay.
            lock (state.Membership)
            {
                _dormant[socket.Id] = (state, time.GetUtcNow() + realtime.RecoveryWindow);
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
}
