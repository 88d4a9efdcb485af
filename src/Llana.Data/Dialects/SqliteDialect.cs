using System.Data.Common;
using System.Globalization;
using Llana.Data.Schema;
using Microsoft.Data.Sqlite;

namespace Llana.Data.Dialects;

internal sealed class SqliteDialect : SqlDialect
{
    public static readonly SqliteDialect Instance = new();

    public override DatabaseKind Kind => DatabaseKind.Sqlite;

    public override bool SupportsReturning => true;

    public override ISchemaReader SchemaReader => SchemaReaders.For(DatabaseKind.Sqlite);

    public override DbDataSource CreateDataSource(string connectionString) => new BusyWaitingDataSource(connectionString);

    // SQLite keeps dates as text; write them in the `YYYY-MM-DD HH:mm:ss` form its date functions and Llana's demo use.
    public override object ToParameterValue(ColumnSchema column, object? value) => value switch
    {
        null => DBNull.Value,
        DateTime dt => FormatDate(ValueNormalizer.AsUtc(dt)),
        bool b => b ? 1L : 0L,
        _ => value,
    };

    private static string FormatDate(DateTime dt) => dt.Millisecond == 0
        ? dt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)
        : dt.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);

    protected override DatabaseErrorType? ClassifyCore(DbException exception) => exception switch
    {
        SqliteException { SqliteErrorCode: 19 } e => e.SqliteExtendedErrorCode switch
        {
            2067 or 1555 => DatabaseErrorType.DuplicateRecord,
            787 => DatabaseErrorType.ForeignKeyViolation,
            1299 => DatabaseErrorType.NotNullViolation,
            275 => DatabaseErrorType.CheckConstraintViolation,
            _ => null,
        },

        // SQLITE_BUSY, SQLITE_LOCKED (another writer held the file past the busy timeout), SQLITE_CANTOPEN.
        SqliteException { SqliteErrorCode: 5 or 6 or 14 } => DatabaseErrorType.Unavailable,
        _ => null,
    };
}

/// Opens SQLite connections that wait for a lock inside SQLite (`PRAGMA busy_timeout`, from `Default Timeout`).
/// Without it a statement that already returned rows (`INSERT … RETURNING`) and then finds another connection reading
/// when it commits fails with "database is locked", as the provider cannot retry it; other waits would sleep in the
/// provider's coarser retry loop.
internal sealed class BusyWaitingDataSource(string connectionString) : DbDataSource
{
    private readonly string _busyTimeout = "PRAGMA busy_timeout = "
        + (new SqliteConnectionStringBuilder(connectionString).DefaultTimeout * 1000).ToString(CultureInfo.InvariantCulture);

    public override string ConnectionString => connectionString;

    protected override DbConnection CreateDbConnection() => new SqliteConnection(connectionString);

    protected override DbConnection OpenDbConnection()
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = _busyTimeout;
        command.ExecuteNonQuery();
        return connection;
    }

    protected override async ValueTask<DbConnection> OpenDbConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = _busyTimeout;
        await command.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }
}
