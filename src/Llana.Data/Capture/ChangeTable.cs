using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Llana.Data.Dialects;
using Llana.Data.Schema;
using Llana.Data.SystemTables;
using Microsoft.Data.Sqlite;
using MySqlConnector;
using static Llana.Data.Sql.Statements;

namespace Llana.Data.Capture;

/// A row of `_llana_changes`: its position (`seq`, given by the reader when it first reads the row), table, kind
/// (`INSERT`, `UPDATE`, `DELETE`) and the row as the trigger saw it, as JSON.
public sealed record ChangeRow(long Position, string Table, string Kind, string Data);

/// `REALTIME_SOURCE=database` on MySQL/MariaDB and SQLite, which have no change stream a client can read: triggers on
/// the exposed tables append every row written, in the writer's own transaction, to `_llana_changes`. The table is
/// the stream: rows appear when their transaction commits, one reader at a time takes them in the order they
/// appear, each with a position (increasing in that order, the same for every later read), and deletes them once they
/// are handed off.
///
/// On MySQL positions are given by the reader (`seq`, counted in `_llana_capture`), not taken from the auto-increment
/// id: a transaction can take id 10, commit after the one that took id 11, and become visible only after 11 was read.
/// Stamping keeps the order in which rows became visible (for two writes of one row, their commit order) and lets a
/// row that was late still be read. SQLite has one writer at a time: its ids are in commit order and are the positions.
public sealed class ChangeTable(Database database)
{
    public const string Changes = "_llana_changes";
    public const string State = "_llana_capture";

    /// Trigger name prefixes, one per kind; every trigger the server owns starts with one of them.
    private static readonly (string Kind, string Event, string Prefix, string Image)[] Kinds =
    [
        ("INSERT", "INSERT", "_llana_ins_", "NEW"),
        ("UPDATE", "UPDATE", "_llana_upd_", "NEW"),
        ("DELETE", "DELETE", "_llana_del_", "OLD"),
    ];

    private SqlDialect Dialect => database.Dialect;

    private Database Owner => database;

    private bool IsMySql => database.Uri.Kind == DatabaseKind.MySql;

    /// Tables whose writes are captured: every exposed table with a primary key, except the change tables themselves
    /// and the webhook log (written on every delivery, of interest to nobody as an event).
    public static bool Captures(TableSchema table) =>
        !table.IsView && table.PrimaryKey is not null && table.Table is not (Changes or State or SystemTableNames.WebhookLog);

    /// Creates the change tables if missing and brings the triggers in step with <paramref name="tables"/>: a missing
    /// trigger is created, one whose columns changed is replaced, one for a table no longer captured is dropped.
    /// Write-only columns (the password) are left out of the captured rows. Returns how many triggers it wrote.
    public async Task<int> EnsureAsync(IEnumerable<TableSchema> tables, CancellationToken ct)
    {
        await using var connection = await database.Source.OpenConnectionAsync(ct);
        if (IsMySql)
        {
            // Two nodes starting at once: one installs, the other then finds everything in place.
            await ExecuteAsync(connection, null, "SELECT GET_LOCK('llana_capture_setup', 60)", ct);
            try
            {
                return await EnsureCoreAsync(connection, null, tables, ct);
            }
            finally
            {
                await ExecuteAsync(connection, null, "SELECT RELEASE_LOCK('llana_capture_setup')", CancellationToken.None);
            }
        }

        await using var transaction = await connection.BeginTransactionAsync(ct);
        var written = await EnsureCoreAsync(connection, transaction, tables, ct);
        await transaction.CommitAsync(ct);
        return written;
    }

    private async Task<int> EnsureCoreAsync(DbConnection connection, DbTransaction? transaction, IEnumerable<TableSchema> tables, CancellationToken ct)
    {
        await CreateTablesAsync(connection, transaction, ct);
        var existing = await TriggersAsync(connection, transaction, ct);
        var orReplace = IsMySql && connection.ServerVersion.Contains("MariaDB", StringComparison.OrdinalIgnoreCase);
        var written = 0;
        foreach (var table in tables.Where(Captures))
        {
            foreach (var kind in Kinds)
            {
                var (name, create, definition) = Trigger(table, kind);
                if (existing.Remove(name, out var found) && found == definition)
                {
                    continue;
                }

                if (orReplace)
                {
                    // MariaDB replaces a trigger in one step: no write goes uncaptured meanwhile.
                    await ExecuteAsync(connection, transaction, "CREATE OR REPLACE" + create["CREATE".Length..], ct);
                }
                else
                {
                    // SQLite: inside the transaction. MySQL: a write between the two statements is not captured.
                    await ExecuteAsync(connection, transaction, $"DROP TRIGGER IF EXISTS {Dialect.Quote(name)}", ct);
                    await ExecuteAsync(connection, transaction, create, ct);
                }

                written++;
            }
        }

        foreach (var stale in existing.Keys)
        {
            await ExecuteAsync(connection, transaction, $"DROP TRIGGER IF EXISTS {Dialect.Quote(stale)}", ct);
            written++;
        }

        return written;
    }

    /// Runs <paramref name="work"/> in a transaction that moves the position <paramref name="name"/> forward to
    /// <paramref name="position"/>, unless it is there already (the work was done for it): what a stream read again
    /// after a restart does is not done twice. False when it was skipped.
    public async Task<bool> OnceAtAsync(string name, long position, Func<DbConnection, DbTransaction, CancellationToken, Task> work, CancellationToken ct)
    {
        await using var connection = await database.Source.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var (state, key, at) = (Dialect.Quote(State), Dialect.Quote("name"), Dialect.Quote("position"));
        await using (var moved = Command(connection, transaction, $"UPDATE {state} SET {at} = @position WHERE {key} = @name AND {at} < @position", ("position", position), ("name", name)))
        {
            if (await moved.ExecuteNonQueryAsync(ct) == 0)
            {
                return false;
            }
        }

        await work(connection, transaction, ct);
        await transaction.CommitAsync(ct);
        return true;
    }

    /// Creates `_llana_capture` (on PostgreSQL, where the rest of the change table is not needed) with a row for
    /// <paramref name="name"/> at position 0.
    public async Task EnsureStateAsync(string name, CancellationToken ct)
    {
        await using var connection = await database.Source.OpenConnectionAsync(ct);
        if (database.Uri.Kind == DatabaseKind.Postgres)
        {
            await ExecuteAsync(connection, null, $"CREATE TABLE IF NOT EXISTS {Dialect.Quote(State)} (\"name\" text PRIMARY KEY, \"position\" bigint NOT NULL)", ct);
        }

        await AddStateAsync(connection, null, name, ct);
    }

    private Task AddStateAsync(DbConnection connection, DbTransaction? transaction, string name, CancellationToken ct) => ExecuteAsync(connection, transaction,
        $"INSERT INTO {Dialect.Quote(State)} ({Dialect.Quote("name")}, {Dialect.Quote("position")}) SELECT @name, 0 WHERE NOT EXISTS (SELECT 1 FROM {Dialect.Quote(State)} WHERE {Dialect.Quote("name")} = @name)",
        ct, ("name", name));

    /// Drops the triggers and both change tables (`--drop-realtime-capture`); refuses while a server reads them.
    public async Task<string> DropAsync(CancellationToken ct)
    {
        await using var hold = await TryReadAsync(ct)
            ?? throw new InvalidOperationException($"{Changes} is being read by a running server: stop every server using it first");
        await using var connection = await database.Source.OpenConnectionAsync(ct);
        var triggers = await TriggersAsync(connection, null, ct);
        foreach (var name in triggers.Keys)
        {
            await ExecuteAsync(connection, null, $"DROP TRIGGER IF EXISTS {Dialect.Quote(name)}", ct);
        }

        await ExecuteAsync(connection, null, $"DROP TABLE IF EXISTS {Dialect.Quote(Changes)}", ct);
        await ExecuteAsync(connection, null, $"DROP TABLE IF EXISTS {Dialect.Quote(State)}", ct);
        return $"Dropped {triggers.Count} change trigger(s) and the tables {Changes} and {State}";
    }

    /// How many capture triggers the database has (a server started with `REALTIME_SOURCE=api` warns about them:
    /// they keep filling `_llana_changes` while nobody reads it).
    public async Task<int> TriggerCountAsync(CancellationToken ct)
    {
        await using var connection = await database.Source.OpenConnectionAsync(ct);
        return (await TriggersAsync(connection, null, ct)).Count;
    }

    /// A value that changes whenever a table, column or trigger is created, altered or dropped.
    public async Task<string> SchemaVersionAsync(CancellationToken ct)
    {
        var sql = IsMySql
            ? """
              SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('.', TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_KEY))), 0), ':',
                (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()))
              FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
              """
            : "PRAGMA schema_version";
        return Convert.ToString(await database.ScalarAsync(sql, ct), CultureInfo.InvariantCulture) ?? string.Empty;
    }

    /// The reader's hold on the table, or null when another server holds it. MySQL: a named lock on a connection of
    /// its own, released by the server when that connection ends. SQLite: an exclusive lock on a file beside the
    /// database, released by the operating system when the process ends.
    public async Task<Reader?> TryReadAsync(CancellationToken ct)
    {
        if (IsMySql)
        {
            var connection = new MySqlConnection(new MySqlConnectionStringBuilder(database.Uri.ConnectionString) { Pooling = false }.ConnectionString);
            try
            {
                await connection.OpenAsync(ct);
                if (Convert.ToInt64(await ScalarAsync(connection, null, "SELECT GET_LOCK(LEFT(CONCAT('llana_capture:', DATABASE()), 64), 0)", ct), CultureInfo.InvariantCulture) == 1)
                {
                    return new Reader(this, connection, null);
                }
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }

            await connection.DisposeAsync();
            return null;
        }

        FileStream hold;
        try
        {
            hold = new FileStream(new SqliteConnectionStringBuilder(database.Uri.ConnectionString).DataSource + "-llana-capture.lock",
                FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }

        try
        {
            return new Reader(this, await database.Source.OpenConnectionAsync(ct), hold);
        }
        catch
        {
            await hold.DisposeAsync();
            throw;
        }
    }

    /// The row a trigger saved, in <paramref name="table"/>'s column order, each value normalised as the API reads it.
    /// Partial when a column of the table is not in it (added after the trigger was written, and not yet in a new one).
    public (object?[] Row, bool Partial) ToRow(TableSchema table, string data)
    {
        var row = new object?[table.Columns.Count];
        var partial = false;
        using var json = JsonDocument.Parse(data);
        for (var i = 0; i < table.Columns.Count; i++)
        {
            var column = table.Columns[i];
            if (!json.RootElement.TryGetProperty(column.Field, out var value))
            {
                partial |= !column.WriteOnly;
                continue;
            }

            row[i] = value.ValueKind switch
            {
                JsonValueKind.Null => null,
                // MySQL embeds a JSON column's value as JSON; SQLite keeps JSON as text, so it arrives as a string.
                _ when column.Type == ColumnType.Json && IsMySql => new JsonText(value.GetRawText()),
                JsonValueKind.String => ValueNormalizer.Normalize(value.GetString()!, column),
                JsonValueKind.True or JsonValueKind.False => ValueNormalizer.Normalize(value.GetBoolean(), column),
                JsonValueKind.Number when value.TryGetInt64(out var integer) => ValueNormalizer.Normalize(integer, column),
                JsonValueKind.Number when value.TryGetDecimal(out var number) => ValueNormalizer.Normalize(number, column),
                _ => ValueNormalizer.Normalize(value.GetRawText(), column),
            };
        }

        return (row, partial);
    }

    private async Task CreateTablesAsync(DbConnection connection, DbTransaction? transaction, CancellationToken ct)
    {
        string[] statements = IsMySql
            ?
            [
                $"""
                 CREATE TABLE IF NOT EXISTS {Dialect.Quote(Changes)} (
                   `id` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                   `table_name` VARCHAR(255) NOT NULL,
                   `row_key` TEXT NULL,
                   `kind` VARCHAR(6) NOT NULL,
                   `data` LONGTEXT NOT NULL,
                   `seq` BIGINT NULL,
                   `created_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                   KEY `_llana_changes_seq` (`seq`, `id`)
                 ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
                 """,
                $"CREATE TABLE IF NOT EXISTS {Dialect.Quote(State)} (`name` VARCHAR(64) NOT NULL PRIMARY KEY, `position` BIGINT NOT NULL) ENGINE=InnoDB",
            ]
            :
            [
                $"""
                 CREATE TABLE IF NOT EXISTS {Dialect.Quote(Changes)} (
                   "id" INTEGER PRIMARY KEY AUTOINCREMENT,
                   "table_name" TEXT NOT NULL,
                   "row_key" TEXT,
                   "kind" TEXT NOT NULL,
                   "data" TEXT NOT NULL,
                   "seq" INTEGER,
                   "created_at" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                 )
                 """,
                $"CREATE INDEX IF NOT EXISTS \"_llana_changes_seq\" ON {Dialect.Quote(Changes)} (\"seq\", \"id\")",
                $"CREATE TABLE IF NOT EXISTS {Dialect.Quote(State)} (\"name\" TEXT NOT NULL PRIMARY KEY, \"position\" INTEGER NOT NULL)",
            ];
        foreach (var statement in statements)
        {
            await ExecuteAsync(connection, transaction, statement, ct);
        }

        await AddStateAsync(connection, transaction, "changes", ct);
    }

    /// The server's triggers by name, each with the text that is compared with what it would write now.
    private async Task<Dictionary<string, string>> TriggersAsync(DbConnection connection, DbTransaction? transaction, CancellationToken ct)
    {
        var sql = IsMySql
            ? "SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
            : "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'";
        var triggers = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var command = Command(connection, transaction, sql);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var name = reader.GetString(0);
            if (Kinds.Any(k => name.StartsWith(k.Prefix, StringComparison.Ordinal)))
            {
                triggers[name] = reader.IsDBNull(1) ? string.Empty : reader.GetString(1);
            }
        }

        return triggers;
    }

    /// The trigger for one table and kind: its name, its CREATE statement, and the text the database reports for it.
    /// Names and literals come from the introspected schema; literals are quoted by doubling.
    private (string Name, string Create, string Definition) Trigger(TableSchema table, (string Kind, string Event, string Prefix, string Image) kind)
    {
        var name = kind.Prefix + table.Table;
        if (name.Length > 64)
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(table.Table)))[..8];
            name = kind.Prefix + table.Table[..(63 - kind.Prefix.Length - 8)] + "_" + hash;
        }

        var image = kind.Image;
        var values = new StringBuilder();
        foreach (var column in table.Columns.Where(c => !c.WriteOnly))
        {
            var value = $"{image}.{Dialect.Quote(column.Field)}";
            if (!IsMySql)
            {
                // json_object refuses blobs: they are kept as the text the API returns for them.
                value = $"CASE typeof({value}) WHEN 'blob' THEN CAST({value} AS TEXT) ELSE {value} END";
            }

            values.Append(values.Length == 0 ? string.Empty : ", ").Append(Literal(column.Field)).Append(", ").Append(value);
        }

        var insert = $"INSERT INTO {Dialect.Quote(Changes)} ({Dialect.Quote("table_name")}, {Dialect.Quote("row_key")}, {Dialect.Quote("kind")}, {Dialect.Quote("data")}) "
            + $"VALUES ({Literal(table.Table)}, {image}.{Dialect.Quote(table.PrimaryKey!)}, '{kind.Kind}', {(IsMySql ? "JSON_OBJECT" : "json_object")}({values}))";
        var head = $"CREATE TRIGGER {Dialect.Quote(name)} AFTER {kind.Event} ON {Dialect.Quote(table.Table)} FOR EACH ROW ";
        return IsMySql
            ? (name, head + insert, insert)
            : (name, head + "BEGIN " + insert + "; END", head + "BEGIN " + insert + "; END");
    }

    private static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// One server's hold on `_llana_changes`: it alone takes, stamps and deletes rows until disposed.
    public sealed class Reader : IAsyncDisposable
    {
        private readonly ChangeTable _table;
        private readonly DbConnection _connection;
        private readonly FileStream? _hold;
        private long? _dataVersion;
        private long _cursor;
        private long? _webhooksQueued;

        internal Reader(ChangeTable table, DbConnection connection, FileStream? hold)
        {
            _table = table;
            _connection = connection;
            _hold = hold;
        }

        private SqlDialect Dialect => _table.Dialect;

        /// Whether another connection may have committed since the last call (SQLite: `PRAGMA data_version`, which
        /// costs no read of the table; MySQL: always).
        public async Task<bool> MayHaveChangesAsync(CancellationToken ct)
        {
            if (_table.IsMySql)
            {
                return true;
            }

            var version = Convert.ToInt64(await ScalarAsync(_connection, null, "PRAGMA data_version", ct), CultureInfo.InvariantCulture);
            var changed = version != _dataVersion;
            _dataVersion = version;
            return changed;
        }

        /// Rows an earlier reader stamped and did not delete (it may or may not have handed them off), after
        /// <paramref name="after"/>, in position order: read again with the same positions, so that they are recognised.
        /// (SQLite has none: its positions are the ids, and <see cref="TakeAsync"/> starts from the first row left.)
        public Task<List<ChangeRow>> StampedAsync(long after, int limit, CancellationToken ct) => _table.IsMySql
            ? ReadAsync($"SELECT {Columns("seq")} FROM {Dialect.Quote(Changes)} WHERE {Dialect.Quote("seq")} > @after ORDER BY {Dialect.Quote("seq")} LIMIT {limit}", null, ct, ("after", after))
            : Task.FromResult(new List<ChangeRow>());

        /// Up to <paramref name="limit"/> rows committed since the last take, with their positions. For the rows not
        /// taken before, <paramref name="prepare"/> may return work to do once per row (queueing webhooks): it runs in
        /// the transaction that records them as taken, so a row read again after a restart does not do it again.
        public Task<List<ChangeRow>> TakeAsync(int limit, Func<List<ChangeRow>, Task<Work?>> prepare, CancellationToken ct) =>
            _table.IsMySql ? StampAsync(limit, prepare, ct) : FollowAsync(limit, prepare, ct);

        /// MySQL: a transaction can take id 10, commit after the one that took id 11, and become visible only after 11
        /// was read; rows are stamped with positions in the order they became visible.
        private async Task<List<ChangeRow>> StampAsync(int limit, Func<List<ChangeRow>, Task<Work?>> prepare, CancellationToken ct)
        {
            // A plain read: it never waits on a writer still inside its transaction (its rows are taken once it commits).
            var taken = await ReadAsync(
                $"SELECT {Columns("id")} FROM {Dialect.Quote(Changes)} WHERE {Dialect.Quote("seq")} IS NULL ORDER BY {Dialect.Quote("id")} LIMIT {limit}", null, ct);
            if (taken.Count == 0)
            {
                return taken;
            }

            // Read committed: no gap locks, so writers' triggers never wait for the reader.
            await using var transaction = await _connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
            var state = Dialect.Quote(State);
            var last = Convert.ToInt64(
                await ScalarAsync(_connection, transaction, $"SELECT {Dialect.Quote("position")} FROM {state} WHERE {Dialect.Quote("name")} = 'changes' FOR UPDATE", ct),
                CultureInfo.InvariantCulture);

            // Positions keep the ids' order and gaps, shifted past the last position given when a row was late.
            var shift = Math.Max(0, last - taken[0].Position + 1);
            var ids = string.Join(", ", taken.Select((_, i) => "@i" + i.ToString(CultureInfo.InvariantCulture)));
            await using (var stamp = Command(_connection, transaction,
                $"UPDATE {Dialect.Quote(Changes)} SET {Dialect.Quote("seq")} = {Dialect.Quote("id")} + @shift WHERE {Dialect.Quote("id")} IN ({ids})",
                [("shift", shift), .. taken.Select((row, i) => ("i" + i.ToString(CultureInfo.InvariantCulture), (object)row.Position))]))
            {
                await stamp.ExecuteNonQueryAsync(ct);
            }

            await ExecuteAsync(_connection, transaction,
                $"UPDATE {state} SET {Dialect.Quote("position")} = @position WHERE {Dialect.Quote("name")} = 'changes'", ct, ("position", taken[^1].Position + shift));
            var stamped = taken.Select(row => row with { Position = row.Position + shift }).ToList();
            if (await prepare(stamped) is { } work)
            {
                await work(_connection, transaction, ct);
            }

            await transaction.CommitAsync(ct);
            return stamped;
        }

        /// SQLite: one writer at a time, so ids are given in commit order and are the positions; reading takes no write
        /// lock (a write would make every writer of the file wait). Work for new rows records how far it went in
        /// `_llana_capture` (`webhooks`), in its own transaction, only when there is work.
        private async Task<List<ChangeRow>> FollowAsync(int limit, Func<List<ChangeRow>, Task<Work?>> prepare, CancellationToken ct)
        {
            var taken = await ReadAsync(
                $"SELECT {Columns("id")} FROM {Dialect.Quote(Changes)} WHERE {Dialect.Quote("id")} > @cursor ORDER BY {Dialect.Quote("id")} LIMIT {limit}", null, ct, ("cursor", _cursor));
            if (taken.Count == 0)
            {
                return taken;
            }

            _cursor = taken[^1].Position;
            var state = Dialect.Quote(State);
            _webhooksQueued ??= Convert.ToInt64(
                await ScalarAsync(_connection, null, $"SELECT COALESCE(MAX({Dialect.Quote("position")}), 0) FROM {state} WHERE {Dialect.Quote("name")} = 'webhooks'", ct),
                CultureInfo.InvariantCulture);
            var fresh = taken.Where(row => row.Position > _webhooksQueued).ToList();
            if (fresh.Count > 0 && await prepare(fresh) is { } work)
            {
                await WriteAsync(async transaction =>
                {
                    await ExecuteAsync(_connection, transaction, $"DELETE FROM {state} WHERE {Dialect.Quote("name")} = 'webhooks'", ct);
                    await ExecuteAsync(_connection, transaction,
                        $"INSERT INTO {state} ({Dialect.Quote("name")}, {Dialect.Quote("position")}) VALUES ('webhooks', @position)", ct, ("position", _cursor));
                    await work(_connection, transaction, ct);
                }, ct);
                _webhooksQueued = _cursor;
            }

            return taken;
        }

        /// Deletes the rows up to <paramref name="position"/>: they are handed off.
        public Task PruneAsync(long position, CancellationToken ct) => WriteAsync(
            transaction => ExecuteAsync(
                _connection, transaction, $"DELETE FROM {Dialect.Quote(Changes)} WHERE {Dialect.Quote(_table.IsMySql ? "seq" : "id")} <= @position", ct, ("position", position)),
            ct);

        /// A write transaction of the reader's. SQLite: in this process's writer turn (as the API's writes), begun
        /// IMMEDIATE so that it waits for the write lock without holding a read lock another writer needs released.
        private Task WriteAsync(Func<DbTransaction, Task> body, CancellationToken ct) => _table.Owner.InWriterTurnAsync(async () =>
        {
            await using var transaction = await _connection.BeginTransactionAsync(ct);
            await body(transaction);
            await transaction.CommitAsync(ct);
            return true;
        }, ct);

        public async ValueTask DisposeAsync()
        {
            await _connection.DisposeAsync();
            if (_hold is not null)
            {
                await _hold.DisposeAsync();
            }
        }

        private string Columns(string position) =>
            string.Join(", ", new[] { position, "table_name", "kind", "data" }.Select(Dialect.Quote));

        private async Task<List<ChangeRow>> ReadAsync(string sql, DbTransaction? transaction, CancellationToken ct, params (string, object)[] parameters)
        {
            var rows = new List<ChangeRow>();
            await using var command = Command(_connection, transaction, sql, parameters);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                rows.Add(new ChangeRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            }

            return rows;
        }
    }

    /// Work done in the reader's transaction (queueing webhook deliveries).
    public delegate Task Work(DbConnection connection, DbTransaction transaction, CancellationToken ct);
}
