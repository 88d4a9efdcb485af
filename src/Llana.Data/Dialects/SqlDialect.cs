using System.Data.Common;
using System.Text;
using Llana.Data.Schema;

namespace Llana.Data.Dialects;

/// The few places where databases differ: quoting, parameter binding, returning rows from writes,
/// reading values back, and which error is which.
public abstract class SqlDialect
{
    public abstract DatabaseKind Kind { get; }

    /// PostgreSQL and SQLite return the written row from INSERT/UPDATE/DELETE in one statement.
    public abstract bool SupportsReturning { get; }

    /// Where there is no RETURNING: the key the last INSERT generated on this connection, as SQL.
    public virtual string GeneratedKeySql => throw new NotSupportedException($"{Kind} returns written rows");

    public abstract DbDataSource CreateDataSource(string connectionString);

    public abstract ISchemaReader SchemaReader { get; }

    /// Called when a statement failed on <paramref name="connection"/>, before it returns to the pool.
    public virtual void AfterFailedCommand(DbConnection connection)
    {
    }

    public virtual string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// SQL for a parameter bound to <paramref name="column"/> (dialects add casts where the database needs them).
    public virtual string ParameterSql(ColumnSchema column, string name) => name;

    /// SQL for a column used as the left side of LIKE (text comparison).
    public virtual string TextColumnSql(ColumnSchema column) => Quote(column.Field);

    /// SQL for a column compared with `=`, `IN` and ordering operators (json columns need casting on some databases).
    public virtual string CompareColumnSql(ColumnSchema column) => Quote(column.Field);

    /// Converts a validated value to what the provider binds for this column.
    public virtual object ToParameterValue(ColumnSchema column, object? value) => value ?? DBNull.Value;

    /// Reads one value and normalises it to the CLR shapes the JSON writer knows:
    /// long, decimal, double, bool, DateTime (UTC), string, JsonText or null.
    public virtual object? ReadValue(DbDataReader reader, int ordinal, ColumnSchema column) =>
        reader.IsDBNull(ordinal) ? null : ValueNormalizer.Normalize(reader.GetValue(ordinal), column);

    /// Appends LIMIT/OFFSET.
    public virtual void AppendPaging(StringBuilder sql, string limitParameter, string offsetParameter) =>
        sql.Append(" LIMIT ").Append(limitParameter).Append(" OFFSET ").Append(offsetParameter);

    /// Classifies a provider exception; null when it is none of the known kinds (a server-side error to log).
    public DatabaseErrorType? Classify(DbException exception) =>
        exception is DatabaseUnavailableException ? DatabaseErrorType.Unavailable : ClassifyCore(exception);

    protected abstract DatabaseErrorType? ClassifyCore(DbException exception);

    /// The value written into the soft-delete column for <paramref name="now"/>.
    public virtual object SoftDeleteNow(ColumnSchema column, DateTime now) =>
        column.Type == ColumnType.Date
            ? ToParameterValue(column, now)
            : now.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);

    public static SqlDialect For(DatabaseKind kind) => kind switch
    {
        DatabaseKind.Sqlite => SqliteDialect.Instance,
        DatabaseKind.Postgres => PostgresDialect.Instance,
        DatabaseKind.MySql => MySqlDialect.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

public enum DatabaseErrorType
{
    DuplicateRecord,
    ForeignKeyViolation,
    NotNullViolation,
    CheckConstraintViolation,
    InvalidValue,

    /// The database could not be reached or could not answer in time (connection refused or lost, timeout,
    /// shutting down, too many connections, busy or locked): the client may retry later.
    Unavailable,
}

/// Raw JSON text read from a json/jsonb column, written to responses unchanged.
public readonly record struct JsonText(string Value);
