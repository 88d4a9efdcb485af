using System.Text.Json;
using Llana.Core.Changes;
using Llana.SocketIO;

namespace Llana.Server.Realtime;

/// Resuming on this node a session that another node held (cluster only).
internal sealed partial class RealtimeGateway
{
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

    private sealed record ResumeJob(SocketIOSocket Socket, SocketState State);
}
