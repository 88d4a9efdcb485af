using System.Data.Common;
using Llana.Data.Schema;
using MySqlConnector;

namespace Llana.Data.Dialects;

internal sealed class MySqlDialect : SqlDialect
{
    public static readonly MySqlDialect Instance = new();

    public override DatabaseKind Kind => DatabaseKind.MySql;

    // MariaDB has INSERT/DELETE … RETURNING but not UPDATE, and MySQL has none: use transactions.
    public override bool SupportsReturning => false;

    public override string GeneratedKeySql => "LAST_INSERT_ID()";

    public override ISchemaReader SchemaReader => SchemaReaders.For(DatabaseKind.MySql);

    public override DbDataSource CreateDataSource(string connectionString) => new MySqlDataSource(connectionString);

    public override string Quote(string identifier) => "`" + identifier.Replace("`", "``", StringComparison.Ordinal) + "`";

    public override object ToParameterValue(ColumnSchema column, object? value) => value switch
    {
        null => DBNull.Value,
        DateTime dt => DateTime.SpecifyKind(ValueNormalizer.AsUtc(dt), DateTimeKind.Unspecified),
        _ => value,
    };

    protected override DatabaseErrorType? ClassifyCore(DbException exception) => exception is MySqlException my
        ? my.Number switch
        {
            1062 => DatabaseErrorType.DuplicateRecord,
            1451 or 1452 or 1216 or 1217 => DatabaseErrorType.ForeignKeyViolation,
            1048 or 1364 => DatabaseErrorType.NotNullViolation,
            3819 or 4025 => DatabaseErrorType.CheckConstraintViolation,
            1264 or 1265 or 1292 or 1366 or 1406 or 1411 => DatabaseErrorType.InvalidValue,
            1040 or 1042 or 1053 or 1205 or 1213 or 2002 or 2003 or 2006 or 2013 => DatabaseErrorType.Unavailable,
            _ => my.IsTransient ? DatabaseErrorType.Unavailable : null,
        }
        : null;
}
