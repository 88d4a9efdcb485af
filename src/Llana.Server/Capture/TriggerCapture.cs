using System.Data.Common;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Core.Webhooks;
using Llana.Data;
using Llana.Data.Capture;

namespace Llana.Server.Capture;

/// `REALTIME_SOURCE=database` on MySQL/MariaDB and SQLite: follows the trigger-fed `_llana_changes` table
/// (<see cref="ChangeTable"/>). The reader polls it (MySQL every 20 ms; SQLite asks `PRAGMA data_version` every 10 ms
/// and reads only when another connection committed), and is woken at once by a write made through this node's API.
/// Rows are deleted once handed off. Every 3 s the triggers are brought in step with the schema (tables added,
/// columns changed).
internal sealed partial class TriggerCapture(
    Database database, SchemaCatalog catalog, IChangeFeed feed, IChangeHandoff handoff, WebhookQueue webhooks, LlanaOptions options, TimeProvider time,
    ILogger<TriggerCapture> logger)
    : ChangeCapture(options.RealtimeSource, logger)
{
    private const int Batch = 1000;
    private readonly ChangeTable _changes = new(database);
    private readonly Doorbell _doorbell = new();

    private TimeSpan PollInterval => TimeSpan.FromMilliseconds(database.Uri.Kind == DatabaseKind.MySql ? 20 : 10);

    public override async Task PrepareAsync(CancellationToken ct)
    {
        if (options.RealtimeSource != RealtimeSource.Database)
        {
            if (await _changes.TriggerCountAsync(ct) is > 0 and var count)
            {
                LogTriggersLeft(logger, count);
            }

            return;
        }

        try
        {
            var written = await _changes.EnsureAsync(catalog.Tables, ct);
            await catalog.LoadAsync(ct);
            LogTriggers(logger, written);
        }
        catch (DbException e) when (database.Dialect.Classify(e) != Data.Dialects.DatabaseErrorType.Unavailable)
        {
            throw new StartupException(
                $"REALTIME_SOURCE=database could not install its change triggers ({e.Message}). On MySQL the user needs the TRIGGER privilege "
                + "(GRANT TRIGGER, CREATE ON db.* TO user) and, with binary logging on, log_bin_trust_function_creators=1; or use REALTIME_SOURCE=api", e);
        }
    }

    protected override async Task<bool> ReadAsync(CancellationToken ct)
    {
        await using var reader = await _changes.TryReadAsync(ct);
        if (reader is null)
        {
            return false;
        }

        Reading = true;
        LogReading(logger, ChangeTable.Changes);
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var keeping = KeepTriggersAsync(reading.Token);

        // A write through this node's API rings at once instead of waiting for the next poll.
        using var rings = feed.Subscribe(_ => _doorbell.Ring());
        var unconfirmed = new Unconfirmed<long>();
        var (handedOff, pruned, prunedAt) = (0L, 0L, DateTimeOffset.MinValue);
        try
        {
            // What an earlier reader stamped and did not delete comes first, with the same positions.
            var after = 0L;
            while (await reader.StampedAsync(after, Batch, ct) is { Count: > 0 } stamped)
            {
                Append(Parse(stamped), stamped[^1].Position, unconfirmed);
                after = stamped[^1].Position;
            }

            var more = true;
            while (!ct.IsCancellationRequested)
            {
                // Handed-off rows are deleted about once a second: each delete takes the table's write lock.
                if (unconfirmed.TryConfirm(handoff, out var confirmed))
                {
                    handedOff = confirmed;
                }

                if (handedOff > pruned && time.GetUtcNow() - prunedAt >= TimeSpan.FromSeconds(1))
                {
                    await reader.PruneAsync(handedOff, ct);
                    (pruned, prunedAt) = (handedOff, time.GetUtcNow());
                }

                if (more || await reader.MayHaveChangesAsync(ct))
                {
                    // Webhook deliveries are queued in the transaction that records the rows as taken: once per change.
                    var queued = false;
                    Dictionary<long, Captured>? parsed = null;
                    var taken = await reader.TakeAsync(Batch, async rows =>
                    {
                        if (webhooks.Store is null)
                        {
                            return null;
                        }

                        var captured = Parse(rows);
                        parsed = captured.ToDictionary(c => c.Position);
                        var hooks = await WebhooksForAsync(webhooks, captured, ct);
                        queued = hooks.Count > 0;
                        return queued ? (connection, transaction, token) => QueueAsync(hooks, connection, transaction, token) : null;
                    }, ct);
                    if (queued)
                    {
                        webhooks.Notify();
                    }

                    if (taken.Count > 0)
                    {
                        Append(Parse(taken, parsed), taken[^1].Position, unconfirmed);
                    }

                    more = taken.Count == Batch;
                    if (more)
                    {
                        continue;
                    }
                }

                await _doorbell.WaitAsync(PollInterval, ct);
            }
        }
        finally
        {
            await reading.CancelAsync();
            await keeping;
            await PruneOnStopAsync(reader, unconfirmed, handedOff, pruned);
        }

        return true;
    }

    /// A server that stops deletes what it handed off, so that the next reader has less to read again.
    private async Task PruneOnStopAsync(ChangeTable.Reader reader, Unconfirmed<long> unconfirmed, long handedOff, long pruned)
    {
        if (unconfirmed.TryConfirm(handoff, out var confirmed))
        {
            handedOff = confirmed;
        }

        if (handedOff > pruned)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await reader.PruneAsync(handedOff, timeout.Token);
            }
            catch (Exception e) when (e is DbException or OperationCanceledException or InvalidOperationException)
            {
                // The next reader reads them again and recognises them.
            }
        }
    }

    /// A row of `_llana_changes` read into a change of a table the server knows (rows of tables dropped since are left out).
    /// Rows already read for their webhooks (<paramref name="parsed"/>, by position) are not read again.
    private List<Captured> Parse(List<ChangeRow> rows, Dictionary<long, Captured>? parsed = null)
    {
        var captured = new List<Captured>(rows.Count);
        foreach (var change in rows)
        {
            if (parsed?.GetValueOrDefault(change.Position) is { } known)
            {
                captured.Add(known);
            }
            else if (catalog.Find(change.Table) is { } table)
            {
                var (row, partial) = _changes.ToRow(table, change.Data);
                var kind = change.Kind switch
                {
                    "INSERT" => ChangeKind.Insert,
                    "UPDATE" => ChangeKind.Update,
                    _ => ChangeKind.Delete,
                };
                captured.Add(new Captured(table, kind, row, partial, change.Position));
            }
        }

        return captured;
    }

    private void Append(List<Captured> changes, long lastPosition, Unconfirmed<long> unconfirmed)
    {
        var last = 0L;
        foreach (var change in changes)
        {
            last = Math.Max(last, feed.Publish(change.Table, change.Kind, change.Row, partial: change.Partial, captured: new CapturePosition((ulong)change.Position, 0)).Offset);
        }

        // Every row read is confirmed once what it appended is handed off (rows of unknown tables and repeats at once).
        unconfirmed.Appended(last, lastPosition);
    }

    /// Every 3 s: when a table or column was created, altered or dropped, the schema is read again and the triggers
    /// are brought in step (a new table is captured from then on; a changed table's rows carry its new columns).
    private async Task KeepTriggersAsync(CancellationToken ct)
    {
        string? seen = null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var version = await _changes.SchemaVersionAsync(ct);
                if (seen is not null && version != seen)
                {
                    await catalog.LoadAsync(ct);
                    if (await _changes.EnsureAsync(catalog.Tables, ct) is > 0 and var written)
                    {
                        LogTriggers(logger, written);
                        version = await _changes.SchemaVersionAsync(ct);
                    }
                }

                seen = version;
                await Task.Delay(TimeSpan.FromSeconds(3), ct);
            }
            catch (Exception e) when (e is OperationCanceledException or DbException or InvalidOperationException)
            {
                if (ct.IsCancellationRequested)
                {
                    return;
                }

                LogStreamFailed(logger, e.Message);
            }
        }
    }

    /// `--drop-realtime-capture` on MySQL/MariaDB and SQLite.
    public static Task<string> DropAsync(Database database, CancellationToken ct) => new ChangeTable(database).DropAsync(ct);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reading changes from {Table}")]
    private static partial void LogReading(ILogger logger, string table);

    [LoggerMessage(Level = LogLevel.Information, Message = "Change triggers: {Count} written")]
    private static partial void LogTriggers(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} change trigger(s) of REALTIME_SOURCE=database are installed but REALTIME_SOURCE is api: _llana_changes keeps growing. Remove them with --drop-realtime-capture if no server reads them")]
    private static partial void LogTriggersLeft(ILogger logger, int count);
}
