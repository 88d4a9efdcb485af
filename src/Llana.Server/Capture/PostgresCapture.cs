using System.Data.Common;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Core.Webhooks;
using Llana.Data;
using Llana.Data.Capture;
using Llana.Data.Dialects;
using Llana.Data.Schema;
using Llana.Data.SystemTables;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;

namespace Llana.Server.Capture;

/// `REALTIME_SOURCE=database` on PostgreSQL: every committed change of the exposed tables, whoever wrote it, read from
/// the database's logical replication stream (`pgoutput`, Npgsql's replication API) and appended to the change log,
/// a transaction at a time and in commit order. The slot (`REALTIME_SLOT`) takes one reader: in a cluster, one node
/// reads and shares the changes over Redis like its own; the others retry every few seconds and take over when it
/// goes. A transaction's end is confirmed to PostgreSQL only once its changes are handed off (in the log; in a cluster,
/// in the Redis log too), so a restart or a takeover replays what was not confirmed instead of losing it.
internal sealed partial class PostgresCapture(
    Database database, SchemaCatalog catalog, IChangeFeed feed, IChangeHandoff handoff, WebhookQueue webhooks, LlanaOptions options, ILogger<PostgresCapture> logger)
    : ChangeCapture(options.RealtimeSource, logger)
{
    /// The position (a commit's end LSN) up to which webhook deliveries of streamed transactions are queued.
    private const string WebhooksQueued = "webhooks";
    // The slot and publication are made by the reader; what they need is checked when the database is opened
    // (CheckAsync), before the server writes anything.
    public override Task PrepareAsync(CancellationToken ct) => Task.CompletedTask;

    /// Refuses to start without what logical replication needs, naming the fix.
    public static async Task CheckAsync(Database database, LlanaOptions options, CancellationToken ct)
    {
        if (options.RealtimeSource != RealtimeSource.Database || database.Uri.Kind != DatabaseKind.Postgres)
        {
            return;
        }

        await using var connection = await database.Source.OpenConnectionAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT current_setting('wal_level'), (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user), current_user";
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        if (reader.GetString(0) != "logical")
        {
            throw new StartupException(
                $"REALTIME_SOURCE=database needs PostgreSQL's wal_level=logical (it is {reader.GetString(0)}): run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL");
        }

        if (!reader.GetBoolean(1))
        {
            throw new StartupException(
                $"REALTIME_SOURCE=database needs a role with REPLICATION: run ALTER ROLE \"{reader.GetString(2)}\" REPLICATION; (or use REALTIME_SOURCE=api)");
        }
    }

    /// Drops the slot and the publication (`--drop-realtime-capture`); refuses while a server reads the slot.
    public static async Task<string> DropAsync(Database database, LlanaOptions options, CancellationToken ct)
    {
        var slot = ("slot", options.RealtimeSlot);
        var active = await database.ScalarAsync("SELECT active FROM pg_replication_slots WHERE slot_name = @slot", ct, slot);
        if (active is true)
        {
            throw new StartupException($"replication slot {options.RealtimeSlot} is being read by a running server: stop every server using it first");
        }

        if (active is null)
        {
            return $"No replication slot {options.RealtimeSlot}; nothing to drop";
        }

        await database.ScalarAsync($"SELECT pg_drop_replication_slot(@slot); DROP PUBLICATION IF EXISTS {database.Dialect.Quote(options.RealtimePublication)}", ct, slot);

        return $"Dropped replication slot {options.RealtimeSlot} and publication {options.RealtimePublication}";
    }

    protected override async Task<bool> ReadAsync(CancellationToken ct)
    {
        try
        {
            await StreamAsync(ct);
            return true;
        }
        catch (PostgresException e) when (e.SqlState == "55006")
        {
            // The slot is in use: another node reads the stream.
            return false;
        }
        catch (PostgresException e) when (e.SqlState == "42704")
        {
            // The publication was dropped under the slot: the slot cannot decode past that point, even once the
            // publication is made again. It is made again from here (what was committed meanwhile is lost, and
            // sockets are told when the new slot is created).
            LogSlotStuck(logger, options.RealtimeSlot, e.MessageText);
            await DropInactiveSlotAsync(ct);
            return true;
        }
    }

    private async Task StreamAsync(CancellationToken ct)
    {
        await EnsurePublicationAsync(ct);
        await using var connection = new LogicalReplicationConnection(database.Uri.ConnectionString);
        await connection.Open(ct);
        var slot = await EnsureSlotAsync(connection, ct);

        var relations = new Dictionary<uint, Relation>();
        var pending = new List<Captured>();
        var state = new ChangeTable(database);
        if (webhooks.Store is not null)
        {
            await state.EnsureStateAsync(WebhooksQueued, ct);
        }
        var replication = new PgOutputReplicationOptions(options.RealtimePublication, PgOutputProtocolVersion.V1);
        var committed = new Unconfirmed<NpgsqlLogSequenceNumber>();
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _ = WatchSlotAsync(connection.ProcessID, reading.Token);
        _ = KeepPublicationAsync(reading.Token);
        var confirming = ConfirmAsync(connection, committed, reading.Token);
        try
        {
            await foreach (var message in connection.StartReplication(slot, replication, ct))
            {
                switch (message)
                {
                    case BeginMessage:
                        pending.Clear();
                        break;
                    case RelationMessage r:
                        relations[r.RelationId] = Relation.For(r, catalog);
                        break;
                    case InsertMessage m:
                        await AddAsync(pending, relations[m.Relation.RelationId], ChangeKind.Insert, m.NewRow, keyOnly: false, ct);
                        break;
                    case UpdateMessage m:
                        await DrainOldAsync(m, ct);
                        await AddAsync(pending, relations[m.Relation.RelationId], ChangeKind.Update, m.NewRow, keyOnly: false, ct);
                        break;
                    case FullDeleteMessage m:
                        await AddAsync(pending, relations[m.Relation.RelationId], ChangeKind.Delete, m.OldRow, keyOnly: false, ct);
                        break;
                    case KeyDeleteMessage m:
                        // Without REPLICA IDENTITY FULL a delete carries only the key: it goes to sockets that may read every row.
                        await AddAsync(pending, relations[m.Relation.RelationId], ChangeKind.Delete, m.Key, keyOnly: true, ct);
                        break;
                    case CommitMessage commit:
                        // Webhook deliveries are queued once per transaction: a transaction streamed again after a
                        // restart finds its position already recorded.
                        var hooks = await WebhooksForAsync(webhooks, pending, ct);
                        if (hooks.Count > 0
                            && await state.OnceAtAsync(WebhooksQueued, (long)(ulong)commit.TransactionEndLsn, (connection, transaction, token) => QueueAsync(hooks, connection, transaction, token), ct))
                        {
                            webhooks.Notify();
                        }

                        var committedAt = new DateTimeOffset(DateTime.SpecifyKind(commit.TransactionCommitTimestamp, DateTimeKind.Utc));
                        var last = 0L;
                        for (var i = 0; i < pending.Count; i++)
                        {
                            var change = pending[i];
                            var appended = feed.Publish(
                                change.Table, change.Kind, change.Row, partial: change.Partial, committedAt: committedAt, captured: new CapturePosition((ulong)commit.TransactionEndLsn, i));
                            last = Math.Max(last, appended.Offset);
                        }

                        pending.Clear();
                        committed.Appended(last, commit.TransactionEndLsn);
                        break;
                }
            }
        }
        finally
        {
            await reading.CancelAsync();
            await confirming;
        }
    }

    /// Every 100 ms, confirms to PostgreSQL the last commit whose changes are handed off: the WAL up to there may go.
    private async Task ConfirmAsync(LogicalReplicationConnection connection, Unconfirmed<NpgsqlLogSequenceNumber> committed, CancellationToken ct)
    {
        NpgsqlLogSequenceNumber? confirmed = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(100, ct);
                if (committed.TryConfirm(handoff, out var end) && end != confirmed)
                {
                    connection.SetReplicationStatus(end);
                    await connection.SendStatusUpdate(ct);
                    confirmed = end;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or NpgsqlException or InvalidOperationException or ObjectDisposedException or IOException)
        {
            // The stream ended: the next reader starts from what was confirmed.
        }
    }

    private async Task DropInactiveSlotAsync(CancellationToken ct)
    {
        try
        {
            await database.ScalarAsync("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = @slot AND NOT active", ct, ("slot", options.RealtimeSlot));
        }
        catch (Exception e) when (e is DbException or OperationCanceledException)
        {
            LogStreamFailed(logger, e.Message);
        }
    }

    /// Tables created while the server runs join the publication within a few seconds (their changes stream from then).
    private async Task KeepPublicationAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(3), ct);
                var unpublished = await database.ScalarAsync("""
                    SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname NOT IN (@log, @state, @changes)
                      AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
                      AND NOT EXISTS (SELECT 1 FROM pg_publication_tables pt WHERE pt.pubname = @name AND pt.schemaname = n.nspname AND pt.tablename = c.relname)
                    """, ct, ("log", SystemTableNames.WebhookLog), ("state", ChangeTable.State), ("changes", ChangeTable.Changes), ("name", options.RealtimePublication));
                if (Convert.ToInt64(unpublished, System.Globalization.CultureInfo.InvariantCulture) > 0)
                {
                    await EnsurePublicationAsync(ct);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or DbException or InvalidOperationException)
            {
                if (ct.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    // The stream yields nothing until a change commits: the slot's holder (PostgreSQL's view) tells when this node reads.
    private async Task WatchSlotAsync(int processId, CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (await database.ScalarAsync("SELECT active_pid FROM pg_replication_slots WHERE slot_name = @slot", ct, ("slot", options.RealtimeSlot)) is int pid
                    && pid == processId)
                {
                    Reading = true;
                    LogReading(logger, options.RealtimeSlot, options.RealtimePublication);
                    return;
                }

                await Task.Delay(100, ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or DbException)
        {
        }
    }

    // An update's old row (REPLICA IDENTITY FULL, or a changed key) comes first in the stream and must be read past.
    private static async Task DrainOldAsync(UpdateMessage message, CancellationToken ct)
    {
        ReplicationTuple? old = message switch
        {
            FullUpdateMessage full => full.OldRow,
            IndexUpdateMessage index => index.Key,
            _ => null,
        };
        if (old is not null)
        {
            await foreach (var _ in old.WithCancellation(ct))
            {
            }
        }
    }

    private static async Task AddAsync(
        List<Captured> pending, Relation relation, ChangeKind kind, ReplicationTuple tuple, bool keyOnly, CancellationToken ct)
    {
        var row = relation.Table is { } table ? new object?[table.Columns.Count] : null;
        var partial = keyOnly;
        var i = 0;
        await foreach (var value in tuple.WithCancellation(ct))
        {
            var target = relation.Targets[i++];
            if (row is null || target < 0)
            {
                continue;
            }

            if (value.IsUnchangedToastedValue)
            {
                // A large value the update did not touch is not in the stream: only the key is known for sure.
                partial = true;
                continue;
            }

            row[target] = value.IsDBNull ? null : ValueNormalizer.Normalize(await value.Get<string>(ct), relation.Table!.Columns[target]);
        }

        if (row is not null && relation.Table!.PrimaryKeyColumn is not null)
        {
            pending.Add(new Captured(relation.Table, kind, row, partial));
        }
    }

    private async Task EnsurePublicationAsync(CancellationToken ct)
    {
        await catalog.LoadAsync(ct);
        // A table without a primary key is left out: PostgreSQL refuses UPDATE and DELETE on a published table that has
        // no replica identity, and events need a key anyway.
        var tables = catalog.Tables.Where(ChangeTable.Captures).Select(t => t.Table).ToList();
        await using var connection = await database.Source.OpenConnectionAsync(ct);
        var published = new HashSet<string>(StringComparer.Ordinal);
        var exists = false;
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT p.pubname, pt.tablename FROM pg_publication p LEFT JOIN pg_publication_tables pt ON pt.pubname = p.pubname AND pt.schemaname = current_schema() WHERE p.pubname = @name";
            command.Parameters.Add(new NpgsqlParameter("name", options.RealtimePublication));
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                exists = true;
                if (!reader.IsDBNull(1))
                {
                    published.Add(reader.GetString(1));
                }
            }
        }

        var missing = tables.Where(t => !published.Contains(t)).ToList();
        if (exists && missing.Count == 0)
        {
            return;
        }

        // Names come from the introspected schema and are quoted; a publication takes no parameters.
        var list = string.Join(", ", missing.Select(database.Dialect.Quote));
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = exists
                ? $"ALTER PUBLICATION {database.Dialect.Quote(options.RealtimePublication)} ADD TABLE {list}"
                : $"CREATE PUBLICATION {database.Dialect.Quote(options.RealtimePublication)} FOR TABLE {list}";
            await command.ExecuteNonQueryAsync(ct);
        }

        LogPublication(logger, options.RealtimePublication, missing.Count);
    }

    private async Task<PgOutputReplicationSlot> EnsureSlotAsync(LogicalReplicationConnection connection, CancellationToken ct)
    {
        if (await database.ScalarAsync("SELECT 1 FROM pg_replication_slots WHERE slot_name = @slot", ct, ("slot", options.RealtimeSlot)) is not null)
        {
            return new PgOutputReplicationSlot(options.RealtimeSlot);
        }

        try
        {
            var slot = await connection.CreatePgOutputReplicationSlot(options.RealtimeSlot, temporarySlot: false, LogicalSlotSnapshotInitMode.NoExport, cancellationToken: ct);
            LogSlotCreated(logger, options.RealtimeSlot);
            if (feed.LastCaptured is not null)
            {
                // This node had changes from the stream: the slot was dropped after them, and what was committed from
                // then until now is gone. Sockets are told to refetch instead of going on with a hole.
                LogSlotLost(logger, options.RealtimeSlot);
                feed.ReportLost();
            }

            return slot;
        }
        catch (PostgresException e) when (e.SqlState == "42710")
        {
            // Another node created it first.
            return new PgOutputReplicationSlot(options.RealtimeSlot);
        }
    }

    /// A relation of the stream: the catalog table it is (null when not exposed), and for each streamed column its
    /// position in the table's rows (-1 when the catalog does not have it).
    private sealed record Relation(TableSchema? Table, int[] Targets)
    {
        public static Relation For(RelationMessage message, SchemaCatalog catalog)
        {
            var table = catalog.Find(message.RelationName);
            return new Relation(table, message.Columns.Select(c => table?.IndexOf(c.ColumnName) ?? -1).ToArray());
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reading changes from PostgreSQL: slot {Slot}, publication {Publication}")]
    private static partial void LogReading(ILogger logger, string slot, string publication);

    [LoggerMessage(Level = LogLevel.Error, Message = "Replication slot {Slot} was dropped while in use: the changes committed since it was last read are lost; sockets are disconnected so that clients refetch")]
    private static partial void LogSlotLost(ILogger logger, string slot);

    [LoggerMessage(Level = LogLevel.Error, Message = "Replication slot {Slot} cannot go on ({Error}): it is made again from here, and the changes committed since it was last read are lost")]
    private static partial void LogSlotStuck(ILogger logger, string slot, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Publication {Publication}: {Count} table(s) added")]
    private static partial void LogPublication(ILogger logger, string publication, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replication slot {Slot} created. While no node reads it, PostgreSQL keeps the WAL it has not confirmed: drop it (SELECT pg_drop_replication_slot('{Slot}')) if you stop using REALTIME_SOURCE=database")]
    private static partial void LogSlotCreated(ILogger logger, string slot);
}
