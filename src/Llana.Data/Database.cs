using System.Data.Common;
using Llana.Data.Dialects;
using Llana.Data.Schema;
using Llana.Data.Sql;

namespace Llana.Data;

/// The one entry point to the database: a pooled data source plus the dialect. Rows come back as
/// `object?[]` aligned with the requested columns (full rows: aligned with <see cref="TableSchema.Columns"/>),
/// values normalised by <see cref="SqlDialect.ReadValue"/>.
public sealed class Database(DatabaseUri uri) : IAsyncDisposable
{
    public SqlDialect Dialect { get; } = SqlDialect.For(uri.Kind);

    public DatabaseUri Uri { get; } = uri;

    public DbDataSource Source { get; } = SqlDialect.For(uri.Kind).CreateDataSource(uri.ConnectionString);

    private readonly SemaphoreSlim? _oneWriter = uri.Kind == DatabaseKind.Sqlite ? new SemaphoreSlim(1, 1) : null;

    public async Task<IReadOnlyList<TableSchema>> ReadSchemaAsync(CancellationToken ct)
    {
        await using var connection = await Source.OpenConnectionAsync(ct);
        return await Dialect.SchemaReader.ReadAsync(connection, ct);
    }

    /// Total matching rows and one page of them, in one round trip.
    public Task<(long Total, List<object?[]> Rows)> SelectPageAsync(SelectQuery q, CancellationToken ct) => RunAsync(async connection =>
    {
        await using var command = connection.CreateCommand();
        var sql = new SqlBuilder(Dialect);
        sql.Append("SELECT COUNT(*) FROM ").Identifier(q.Table.Table).Where(q.Filters).Append("; ");
        AppendSelect(sql, q.Table, q.Columns, q.Filters, q.Sort);
        Dialect.AppendPaging(sql.Sql, sql.Parameter(q.Limit), sql.Parameter(q.Offset));
        sql.Build().ApplyTo(command);

        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        var total = Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
        await reader.NextResultAsync(ct);
        return (total, await ReadRowsAsync(reader, q.Columns, ct));
    }, ct);

    /// Rows matching <paramref name="filters"/> (no paging): get-one and relation fetches.
    public Task<List<object?[]>> SelectAsync(
        TableSchema table, IReadOnlyList<ColumnSchema> columns, IReadOnlyList<Filter> filters, IReadOnlyList<SortItem> sort, CancellationToken ct) => RunAsync(async connection =>
    {
        await using var command = connection.CreateCommand();
        var sql = new SqlBuilder(Dialect);
        AppendSelect(sql, table, columns, filters, sort);
        sql.Build().ApplyTo(command);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await ReadRowsAsync(reader, columns, ct);
    }, ct);

    /// The first value of one statement (null when there is none), on a pooled connection.
    public Task<object?> ScalarAsync(string sql, CancellationToken ct, params (string Name, object Value)[] parameters) =>
        RunAsync(connection => Statements.ScalarAsync(connection, null, sql, ct, parameters), ct);

    /// The row whose <paramref name="key"/> column equals <paramref name="value"/> (every column), or null.
    public async Task<object?[]?> FindByKeyAsync(TableSchema table, ColumnSchema key, object? value, CancellationToken ct) =>
        (await SelectAsync(table, table.Columns, [new Filter(key, FilterOperator.Equals, value)], [], ct)).FirstOrDefault();

    /// Inserts one row and returns it as stored (defaults and generated key filled). <paramref name="hook"/>, when
    /// given, runs in the same transaction before it commits.
    public Task<object?[]> InsertAsync(TableSchema table, IReadOnlyList<(ColumnSchema Column, object? Value)> values, CancellationToken ct, WriteHook? hook = null) =>
        WriteAsync(async connection =>
        {
            await using var transaction = hook is null || InStatement(hook) ? null : await connection.BeginTransactionAsync(ct);
            var row = await InsertRowAsync(connection, transaction, table, values, hook, ct);
            await FinishAsync(connection, transaction, hook, row, ct);
            return row;
        }, ct);

    private async Task<object?[]> InsertRowAsync(
        DbConnection connection, DbTransaction? transaction, TableSchema table, IReadOnlyList<(ColumnSchema Column, object? Value)> values, WriteHook? hook,
        CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new SqlBuilder(Dialect);
        sql.Append("INSERT INTO ").Identifier(table.Table);
        if (values.Count == 0)
        {
            sql.Append(Dialect.Kind == DatabaseKind.MySql ? " () VALUES ()" : " DEFAULT VALUES");
        }
        else
        {
            sql.Append(" (").ColumnList(values.Select(v => v.Column).ToList()).Append(") VALUES (");
            for (var i = 0; i < values.Count; i++)
            {
                if (i > 0)
                {
                    sql.Append(", ");
                }

                sql.Value(values[i].Column, values[i].Value);
            }

            sql.Append(")");
        }

        if (Dialect.SupportsReturning)
        {
            return (await ReturningAsync(sql, command, table, hook, ct))!;
        }

        var pk = table.PrimaryKeyColumn;
        var given = values.FirstOrDefault(v => v.Column == pk);
        sql.Append("; SELECT ").ColumnList(table.Columns).Append(" FROM ").Identifier(table.Table);
        if (pk is null)
        {
            // No key to read the row back by: answer with what was written.
            sql.Build().ApplyTo(command);
            await command.ExecuteNonQueryAsync(ct);
            return table.Columns.Select(c => values.FirstOrDefault(v => v.Column == c).Value).ToArray();
        }

        sql.Append(" WHERE ").Identifier(pk.Field).Append(" = ");
        if (given.Column is not null)
        {
            sql.Value(pk, given.Value);
        }
        else
        {
            sql.Append(Dialect.GeneratedKeySql);
        }

        sql.Build().ApplyTo(command);
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            // Providers differ on whether the INSERT shows up as an empty first result.
            while (reader.FieldCount == 0 && await reader.NextResultAsync(ct))
            {
            }

            return (await ReadRowsAsync(reader, table.Columns, ct))[0];
        }
    }

    /// Runs the hook and commits, when the write has a transaction of its own.
    private static async Task FinishAsync(DbConnection connection, DbTransaction? transaction, WriteHook? hook, object?[] row, CancellationToken ct)
    {
        if (transaction is null)
        {
            return;
        }

        if (hook is not null)
        {
            await hook.InTransaction(connection, transaction, row, ct);
        }

        await transaction.CommitAsync(ct);
    }

    /// Updates the rows matching <paramref name="where"/> (a primary-key condition, plus any access filter) and
    /// returns the row after the write, or null when nothing matched.
    public Task<object?[]?> UpdateAsync(
        TableSchema table, IReadOnlyList<Filter> where, IReadOnlyList<(ColumnSchema Column, object? Value)> values, CancellationToken ct,
        WriteHook? hook = null) => WriteAsync(async connection =>
    {
        await using var transaction = Dialect.SupportsReturning && (hook is null || InStatement(hook)) ? null : await connection.BeginTransactionAsync(ct);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new SqlBuilder(Dialect);
        sql.Append("UPDATE ").Identifier(table.Table).Append(" SET ");
        for (var i = 0; i < values.Count; i++)
        {
            sql.Append(i == 0 ? string.Empty : ", ").Identifier(values[i].Column.Field).Append(" = ").Value(values[i].Column, values[i].Value);
        }

        sql.Where(where);
        object?[]? row;
        if (Dialect.SupportsReturning)
        {
            row = await ReturningAsync(sql, command, table, hook, ct);
        }
        else
        {
            sql.Build().ApplyTo(command);
            if (await command.ExecuteNonQueryAsync(ct) == 0)
            {
                return null;
            }

            // The key may have been changed by this very update: read back by the new value when it was set.
            var pk = table.PrimaryKeyColumn!;
            var newKey = values.FirstOrDefault(v => v.Column == pk);
            var keyFilter = newKey.Column is null ? where[0] : new Filter(pk, FilterOperator.Equals, newKey.Value);
            row = await SelectInTransactionAsync(connection, transaction!, table, [keyFilter], ct);
        }

        if (row is not null)
        {
            await FinishAsync(connection, transaction, hook, row, ct);
        }

        return row;
    }, ct);

    /// Deletes the rows matching <paramref name="where"/> and returns the row as it was, or null when nothing matched.
    public Task<object?[]?> DeleteAsync(TableSchema table, IReadOnlyList<Filter> where, CancellationToken ct, WriteHook? hook = null) => WriteAsync(async connection =>
    {
        await using var transaction = Dialect.SupportsReturning && (hook is null || InStatement(hook)) ? null : await connection.BeginTransactionAsync(ct);
        object?[]? before = null;
        if (!Dialect.SupportsReturning)
        {
            before = await SelectInTransactionAsync(connection, transaction!, table, where, ct, forUpdate: true);
            if (before is null)
            {
                return null;
            }
        }

        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new SqlBuilder(Dialect);
        sql.Append("DELETE FROM ").Identifier(table.Table).Where(where);
        if (Dialect.SupportsReturning)
        {
            before = await ReturningAsync(sql, command, table, hook, ct);
        }
        else
        {
            sql.Build().ApplyTo(command);
            await command.ExecuteNonQueryAsync(ct);
        }

        if (before is not null)
        {
            await FinishAsync(connection, transaction, hook, before, ct);
        }

        return before;
    }, ct);

    // PostgreSQL runs a hook's SQL form in the write's own statement (one round trip, atomic without a transaction).
    private bool InStatement(WriteHook hook) => hook.Sql is not null && Dialect.Kind == DatabaseKind.Postgres;

    private async Task<object?[]?> ReturningAsync(SqlBuilder sql, DbCommand command, TableSchema table, WriteHook? hook, CancellationToken ct)
    {
        sql.Append(" RETURNING ").ColumnList(table.Columns);
        if (hook is not null && InStatement(hook))
        {
            const string Written = "llana_written";
            sql.Sql.Insert(0, "WITH " + Dialect.Quote(Written) + " AS (");
            sql.Append(")");
            hook.Sql!(sql, table, Written);
            sql.Append(" SELECT ").ColumnList(table.Columns).Append(" FROM ").Identifier(Written);
        }

        sql.Build().ApplyTo(command);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return (await ReadRowsAsync(reader, table.Columns, ct)).FirstOrDefault();
    }

    private async Task<object?[]?> SelectInTransactionAsync(
        DbConnection connection, DbTransaction transaction, TableSchema table, IReadOnlyList<Filter> where, CancellationToken ct, bool forUpdate = false)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new SqlBuilder(Dialect);
        AppendSelect(sql, table, table.Columns, where, []);
        if (forUpdate)
        {
            sql.Append(" FOR UPDATE");
        }

        sql.Build().ApplyTo(command);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return (await ReadRowsAsync(reader, table.Columns, ct)).FirstOrDefault();
    }

    /// <see cref="RunAsync"/> for a statement that writes. SQLite takes one writer at a time: writers of this process
    /// take turns here, so two of them never hold read locks that each needs upgraded (which SQLite answers with an
    /// immediate "database is locked" rather than waiting).
    internal Task<T> WriteAsync<T>(Func<DbConnection, Task<T>> body, CancellationToken ct) => InWriterTurnAsync(() => RunAsync(body, ct), ct);

    /// Runs <paramref name="body"/>, which writes on a connection of its own, in this process's SQLite writer turn
    /// (see <see cref="WriteAsync"/>; elsewhere at once).
    internal async Task<T> InWriterTurnAsync<T>(Func<Task<T>> body, CancellationToken ct)
    {
        if (_oneWriter is null)
        {
            return await body();
        }

        await _oneWriter.WaitAsync(ct);
        try
        {
            return await body();
        }
        finally
        {
            _oneWriter.Release();
        }
    }

    /// Runs <paramref name="body"/> on a pooled connection. When a statement fails the dialect resets what the
    /// driver remembers about the connection (PostgreSQL: its prepared statements) before it returns to the pool.
    internal async Task<T> RunAsync<T>(Func<DbConnection, Task<T>> body, CancellationToken ct)
    {
        DbConnection connection;
        try
        {
            connection = await Source.OpenConnectionAsync(ct);
        }
        catch (DbException e) when (Dialect.Classify(e) == DatabaseErrorType.Unavailable)
        {
            throw new DatabaseUnavailableException(e);
        }

        await using var _ = connection;
        try
        {
            return await body(connection);
        }
        catch (Exception e) when (e is DbException or OperationCanceledException)
        {
            Dialect.AfterFailedCommand(connection);
            throw;
        }
    }

    private static void AppendSelect(SqlBuilder sql, TableSchema table, IReadOnlyList<ColumnSchema> columns, IReadOnlyList<Filter> filters, IReadOnlyList<SortItem> sort) =>
        sql.Append("SELECT ").ColumnList(columns).Append(" FROM ").Identifier(table.Table).Where(filters).OrderBy(sort);

    internal async Task<List<object?[]>> ReadRowsAsync(DbDataReader reader, IReadOnlyList<ColumnSchema> columns, CancellationToken ct)
    {
        var rows = new List<object?[]>();
        while (await reader.ReadAsync(ct))
        {
            var row = new object?[columns.Count];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = Dialect.ReadValue(reader, i, columns[i]);
            }

            rows.Add(row);
        }

        return rows;
    }

    public ValueTask DisposeAsync() => Source.DisposeAsync();
}

/// Work done in a write's own transaction, after its statement and before it commits: it commits with the write or
/// not at all (the webhook queue).
public sealed class WriteHook(Func<DbConnection, DbTransaction, object?[], CancellationToken, Task> inTransaction)
{
    public Func<DbConnection, DbTransaction, object?[], CancellationToken, Task> InTransaction { get; } = inTransaction;

    /// The same work as SQL over the written row (a CTE of that name), when it needs nothing decided in memory.
    internal Action<SqlBuilder, TableSchema, string>? Sql { get; init; }
}

/// The database could not be reached before any statement was sent: nothing was read or written, so a write can
/// be retried safely.
public sealed class DatabaseUnavailableException(DbException inner) : DbException(inner.Message, inner)
{
    public override string? SqlState => inner.SqlState;
}
