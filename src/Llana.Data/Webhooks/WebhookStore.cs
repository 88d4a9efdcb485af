using System.Data.Common;
using System.Globalization;
using Llana.Data.Schema;
using Llana.Data.Sql;

namespace Llana.Data.Webhooks;

/// A row of `_llana_webhook` (spec §9.1).
public sealed record WebhookDefinition(long Id, string Method, string Url, string Table, string? UserIdentifier, bool OnCreate, bool OnUpdate, bool OnDelete);

/// A webhook that fires for a write; <see cref="Fires"/>, when set, decides on the written row (an own-records rule).
public sealed record QueuedWebhook(long Id, string Url, Func<object?[], bool>? Fires = null);

/// A delivery to queue: one webhook, one changed row.
public sealed record WebhookEntry(long WebhookId, string Type, string Url, string RecordKey, string RecordId);

/// A queued delivery claimed by this node (a row of `_llana_webhook_log`); <see cref="Attempt"/> is the number of the
/// attempt about to be made.
public sealed record QueuedDelivery(long Id, long WebhookId, string Type, string Url, string RecordKey, string RecordId, int Attempt);

/// The SQL of webhooks over `_llana_webhook` and its queue `_llana_webhook_log`, with Llana's columns (spec §9.1).
/// Every value is a parameter bound to its introspected column. A claim hands a due row to one node at a time: the
/// row is locked while it is claimed (`FOR UPDATE SKIP LOCKED`, or SQLite's single writer) and leased by moving its
/// `next_attempt_at` past the delivery, so a node that dies leaves it due again when the lease ends.
public sealed class WebhookStore
{
    private readonly Database _database;
    private readonly TableSchema _webhooks;
    private readonly TableSchema _log;
    private readonly ColumnSchema? _softDelete;
    private readonly ColumnSchema[] _definitionColumns;
    private readonly ColumnSchema[] _queueColumns;
    private readonly ColumnSchema _id;
    private readonly ColumnSchema _delivered;
    private readonly ColumnSchema _nextAttemptAt;
    private readonly ColumnSchema _webhookId;
    private readonly ColumnSchema _createdAt;

    public WebhookStore(Database database, TableSchema webhooks, TableSchema log, string? softDeleteColumn)
    {
        _database = database;
        _webhooks = webhooks;
        _log = log;
        _softDelete = softDeleteColumn is null ? null : webhooks.Column(softDeleteColumn);
        _definitionColumns = Columns(webhooks, "id", "type", "url", "table", "user_identifier", "on_create", "on_update", "on_delete");
        _queueColumns = Columns(log, "id", "webhook_id", "type", "url", "record_key", "record_id", "attempt");
        _id = log.Column("id")!;
        _webhookId = log.Column("webhook_id")!;
        _delivered = Columns(log, "delivered")[0];
        _nextAttemptAt = Columns(log, "next_attempt_at")[0];
        _createdAt = Columns(log, "created_at")[0];
    }

    public TableSchema Webhooks => _webhooks;

    public TableSchema Log => _log;

    /// Every webhook that is not soft-deleted.
    public Task<List<WebhookDefinition>> LoadAsync(CancellationToken ct) => _database.RunAsync(async connection =>
    {
        await using var command = connection.CreateCommand();
        var sql = new SqlBuilder(_database.Dialect);
        sql.Append("SELECT ").ColumnList(_definitionColumns).Append(" FROM ").Identifier(_webhooks.Table)
            .Where(_softDelete is null ? [] : [new Filter(_softDelete, FilterOperator.Null, null)]);
        sql.Build().ApplyTo(command);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = await _database.ReadRowsAsync(reader, _definitionColumns, ct);
        return rows.Select(r => new WebhookDefinition(
            Long(r[0]), Text(r[1]) ?? "POST", Text(r[2]) ?? string.Empty, Text(r[3]) ?? string.Empty, Text(r[4]),
            Flag(r[5]), Flag(r[6]), Flag(r[7]))).ToList();
    }, ct);

    /// Queues <paramref name="entries"/> in the writer's transaction: they commit with the write or not at all.
    public async Task EnqueueAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<WebhookEntry> entries, DateTime now, CancellationToken ct)
    {
        if (entries.Count == 0)
        {
            return;
        }

        var columns = Columns(_log, "webhook_id", "type", "url", "record_key", "record_id", "attempt", "delivered", "created_at", "next_attempt_at");
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new SqlBuilder(_database.Dialect);
        sql.Append("INSERT INTO ").Identifier(_log.Table).Append(" (").ColumnList(columns).Append(") VALUES ");
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            object?[] values = [e.WebhookId, e.Type, e.Url, e.RecordKey, e.RecordId, 1, false, now, now];
            sql.Append(i == 0 ? "(" : ", (");
            for (var j = 0; j < columns.Length; j++)
            {
                sql.Append(j == 0 ? string.Empty : ", ").Value(columns[j], ValueFor(columns[j], values[j]));
            }

            sql.Append(")");
        }

        sql.Build().ApplyTo(command);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// The hook that queues one delivery per webhook of <paramref name="webhooks"/> for the written row, leaving out a
    /// webhook whose <see cref="QueuedWebhook.Fires"/> refuses the row. When none depends on the row, PostgreSQL
    /// queues them in the write's own statement; otherwise they are queued in its transaction.
    public WriteHook QueueFor(IReadOnlyList<QueuedWebhook> webhooks, string type, ColumnSchema key, Func<object?[], string> recordId, DateTime now) =>
        new((connection, transaction, row, ct) => EnqueueAsync(
            connection, transaction,
            webhooks.Where(w => w.Fires?.Invoke(row) != false).Select(w => new WebhookEntry(w.Id, type, w.Url, key.Field, recordId(row))).ToList(),
            now, ct))
        {
            Sql = webhooks.All(w => w.Fires is null) ? (sql, table, written) => AppendQueue(sql, webhooks, type, key, now, written) : null,
        };

    // `, "llana_queued" AS (INSERT INTO log (...) SELECT v.id, type, v.url, key, written.key::text, ... FROM written, (VALUES ...) v)`
    private void AppendQueue(SqlBuilder sql, IReadOnlyList<QueuedWebhook> webhooks, string type, ColumnSchema key, DateTime now, string written)
    {
        var columns = Columns(_log, "webhook_id", "type", "url", "record_key", "record_id", "attempt", "delivered", "created_at", "next_attempt_at");
        sql.Append(", ").Identifier("llana_queued").Append(" AS (INSERT INTO ").Identifier(_log.Table).Append(" (").ColumnList(columns).Append(") SELECT ")
            .Append("v.id, ").Value(columns[1], type).Append(", v.url, ").Value(columns[3], key.Field)
            .Append(", CAST(").Identifier(written).Append('.' + _database.Dialect.Quote(key.Field)).Append(" AS text), ")
            .Value(columns[5], 1).Append(", ").Value(columns[6], ValueFor(columns[6], false)).Append(", ")
            .Value(columns[7], now).Append(", ").Value(columns[8], now)
            .Append(" FROM ").Identifier(written).Append(" CROSS JOIN (VALUES ");
        for (var i = 0; i < webhooks.Count; i++)
        {
            sql.Append(i == 0 ? "(" : ", (").Append("CAST(" + sql.Parameter(webhooks[i].Id) + " AS integer), ").Append(sql.Parameter(webhooks[i].Url)).Append(")");
        }

        sql.Append(") AS v(id, url))");
    }

    /// Claims up to <paramref name="max"/> deliveries due at <paramref name="now"/> (oldest first), leasing them until
    /// <paramref name="leaseUntil"/>. Rows of <paramref name="busyWebhooks"/> are left for later.
    public Task<List<QueuedDelivery>> ClaimAsync(int max, IReadOnlyCollection<long> busyWebhooks, DateTime now, DateTime leaseUntil, CancellationToken ct) =>
        _database.WriteAsync(async connection =>
        {
            await using var transaction = await BeginAsync(connection, ct);
            List<object?[]> rows;
            await using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                var sql = new SqlBuilder(_database.Dialect);
                var where = new List<Filter>
                {
                    new(_delivered, FilterOperator.Equals, ValueFor(_delivered, false)),
                    new(_nextAttemptAt, FilterOperator.LessThanOrEqual, now),
                };
                if (busyWebhooks.Count > 0)
                {
                    where.Add(new Filter(_webhookId, FilterOperator.NotIn, busyWebhooks.Select(id => ValueFor(_webhookId, id)).ToList()));
                }

                sql.Append("SELECT ").ColumnList(_queueColumns).Append(" FROM ").Identifier(_log.Table).Where(where)
                    .OrderBy([new SortItem(_nextAttemptAt, false), new SortItem(_id, false)]);
                _database.Dialect.AppendPaging(sql.Sql, sql.Parameter(max), sql.Parameter(0));
                if (_database.Dialect.Kind != DatabaseKind.Sqlite)
                {
                    sql.Append(" FOR UPDATE SKIP LOCKED");
                }

                sql.Build().ApplyTo(select);
                await using var reader = await select.ExecuteReaderAsync(ct);
                rows = await _database.ReadRowsAsync(reader, _queueColumns, ct);
            }

            if (rows.Count > 0)
            {
                await using var update = connection.CreateCommand();
                update.Transaction = transaction;
                var sql = new SqlBuilder(_database.Dialect);
                sql.Append("UPDATE ").Identifier(_log.Table).Append(" SET ").Identifier(_nextAttemptAt.Field).Append(" = ").Value(_nextAttemptAt, leaseUntil)
                    .Where([new Filter(_id, FilterOperator.In, rows.Select(r => r[0]).ToList())]);
                sql.Build().ApplyTo(update);
                await update.ExecuteNonQueryAsync(ct);
            }

            await transaction.CommitAsync(ct);
            return rows.Select(r => new QueuedDelivery(
                Long(r[0]), Long(r[1]), Text(r[2]) ?? "INSERT", Text(r[3]) ?? string.Empty, Text(r[4]) ?? string.Empty, Text(r[5]) ?? string.Empty,
                (int)Long(r[6]))).ToList();
        }, ct);

    /// Records an attempt: delivered (with <paramref name="deliveredAt"/>), or failed and due again at
    /// <paramref name="nextAttemptAt"/> (null: given up).
    public Task RecordAsync(
        long id, int attempt, int? status, string? message, DateTime? nextAttemptAt, DateTime? deliveredAt, CancellationToken ct) =>
        _database.WriteAsync(async connection =>
        {
            var names = new[] { "attempt", "response_status", "response_message", "next_attempt_at", "delivered", "delivered_at" };
            object?[] values = [attempt, status, Truncate(message, "response_message"), nextAttemptAt, deliveredAt is not null, deliveredAt];
            await using var command = connection.CreateCommand();
            var sql = new SqlBuilder(_database.Dialect);
            sql.Append("UPDATE ").Identifier(_log.Table).Append(" SET ");
            var first = true;
            for (var i = 0; i < names.Length; i++)
            {
                if (_log.Column(names[i]) is not { } column)
                {
                    continue;
                }

                sql.Append(first ? string.Empty : ", ").Identifier(column.Field).Append(" = ").Value(column, ValueFor(column, values[i]));
                first = false;
            }

            sql.Where([new Filter(_id, FilterOperator.Equals, ValueFor(_id, id))]);
            sql.Build().ApplyTo(command);
            return await command.ExecuteNonQueryAsync(ct);
        }, ct);

    /// Makes claimed rows due at once (a node stopping hands its unfinished deliveries back).
    public Task ReleaseAsync(IReadOnlyCollection<long> ids, DateTime now, CancellationToken ct) => _database.WriteAsync(async connection =>
    {
        await using var command = connection.CreateCommand();
        var sql = new SqlBuilder(_database.Dialect);
        sql.Append("UPDATE ").Identifier(_log.Table).Append(" SET ").Identifier(_nextAttemptAt.Field).Append(" = ").Value(_nextAttemptAt, now)
            .Where([
                new Filter(_id, FilterOperator.In, ids.Select(id => ValueFor(_id, id)).ToList()),
                new Filter(_delivered, FilterOperator.Equals, ValueFor(_delivered, false)),
                new Filter(_nextAttemptAt, FilterOperator.NotNull, null),
            ]);
        sql.Build().ApplyTo(command);
        return await command.ExecuteNonQueryAsync(ct);
    }, ct);

    /// Deletes log rows created before <paramref name="before"/> (`WEBHOOK_LOG_DAYS`).
    public Task<int> PurgeAsync(DateTime before, CancellationToken ct) => _database.WriteAsync(async connection =>
    {
        await using var transaction = await BeginAsync(connection, ct);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new SqlBuilder(_database.Dialect);
        sql.Append("DELETE FROM ").Identifier(_log.Table).Where([new Filter(_createdAt, FilterOperator.LessThan, before)]);
        sql.Build().ApplyTo(command);
        var deleted = await command.ExecuteNonQueryAsync(ct);
        await transaction.CommitAsync(ct);
        return deleted;
    }, ct);

    // READ COMMITTED: MySQL's default REPEATABLE READ would also lock the gaps between the rows it scans, and writers
    // queueing new deliveries in their own transactions would deadlock against a claim.
    private async ValueTask<DbTransaction> BeginAsync(DbConnection connection, CancellationToken ct) =>
        _database.Dialect.Kind == DatabaseKind.Sqlite
            ? await connection.BeginTransactionAsync(ct)
            : await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, ct);

    private string? Truncate(string? text, string column)
    {
        var max = _log.Column(column) is { } c && Length(c.DbType) is { } n ? n : 255;
        return text is null || text.Length <= max ? text : text[..max];
    }

    private static int? Length(string dbType)
    {
        var open = dbType.IndexOf('(', StringComparison.Ordinal);
        var close = dbType.IndexOf(')', StringComparison.Ordinal);
        return open > 0 && close > open && int.TryParse(dbType.AsSpan(open + 1, close - open - 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    // Flags are BOOLEAN or TINYINT, as the database that made the table has them.
    private static object? ValueFor(ColumnSchema column, object? value) =>
        value is bool b && column.Type != ColumnType.Boolean ? (b ? 1 : 0) : value;

    private static ColumnSchema[] Columns(TableSchema table, params string[] names) =>
        names.Select(n => table.Column(n) ?? throw new InvalidOperationException($"{table.Table} has no column {n}")).ToArray();

    private static long Long(object? value) => Convert.ToInt64(value, CultureInfo.InvariantCulture);

    private static string? Text(object? value) => value is null ? null : Convert.ToString(value, CultureInfo.InvariantCulture);

    private static bool Flag(object? value) => value switch
    {
        null => true,
        bool b => b,
        string s => s is "1" or "true" or "t",
        _ => Convert.ToInt64(value, CultureInfo.InvariantCulture) != 0,
    };
}
