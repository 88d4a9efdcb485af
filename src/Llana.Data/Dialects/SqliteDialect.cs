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

    public override DbDataSource CreateDataSource(string connectionString) => SqliteFactory.Instance.CreateDataSource(connectionString);

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
