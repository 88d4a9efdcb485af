using System.Data.Common;
using Llana.Data.Schema;
using Npgsql;

namespace Llana.Data.Dialects;

internal sealed class PostgresDialect : SqlDialect
{
    public static readonly PostgresDialect Instance = new();

    public override DatabaseKind Kind => DatabaseKind.Postgres;

    public override bool SupportsReturning => true;

    public override ISchemaReader SchemaReader => SchemaReaders.For(DatabaseKind.Postgres);

    public override DbDataSource CreateDataSource(string connectionString) => NpgsqlDataSource.Create(connectionString);

    /// Npgsql's automatic preparation can lose track of a statement whose execution failed while it was being
    /// prepared (npgsql/npgsql#6391: the next run of the same SQL reads "unexpected backend message DataRow",
    /// after the server executed it). Forgetting the connection's prepared statements after any failure keeps
    /// the pool healthy; they are prepared again on later use.
    public override void AfterFailedCommand(DbConnection connection)
    {
        if (connection is NpgsqlConnection { State: System.Data.ConnectionState.Open } npgsql)
        {
            try
            {
                npgsql.UnprepareAll();
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                // A connection that cannot even do this is broken, and Npgsql does not return broken ones to the pool.
            }
        }
    }

    // Enum and json columns reject text parameters without a cast.
    public override string ParameterSql(ColumnSchema column, string name) => column.Type switch
    {
        ColumnType.Enum => $"CAST({name} AS {Quote(column.DbType)})",
        ColumnType.Json => $"CAST({name} AS {(column.DbType == "jsonb" ? "jsonb" : "json")})",
        _ => name,
    };

    public override string TextColumnSql(ColumnSchema column) =>
        column.Type is ColumnType.String ? Quote(column.Field) : $"CAST({Quote(column.Field)} AS TEXT)";

    public override string CompareColumnSql(ColumnSchema column) =>
        column.Type is ColumnType.Json ? $"CAST({Quote(column.Field)} AS TEXT)" : Quote(column.Field);

    public override object ToParameterValue(ColumnSchema column, object? value) => value switch
    {
        null => DBNull.Value,
        DateTime dt when column.DbType.Contains("with time zone", StringComparison.Ordinal) => ValueNormalizer.AsUtc(dt),
        DateTime dt => DateTime.SpecifyKind(ValueNormalizer.AsUtc(dt), DateTimeKind.Unspecified),
        long l when column.DbType is "integer" or "int4" or "serial" => checked((int)l),
        long l when column.DbType is "smallint" or "int2" => checked((short)l),
        long l when !column.IsInteger && column.Type == ColumnType.Number => (decimal)l,
        _ => value,
    };

    protected override DatabaseErrorType? ClassifyCore(DbException exception) => exception is PostgresException pg
        ? pg.SqlState switch
        {
            "23505" => DatabaseErrorType.DuplicateRecord,
            "23503" => DatabaseErrorType.ForeignKeyViolation,
            "23502" => DatabaseErrorType.NotNullViolation,
            "23514" => DatabaseErrorType.CheckConstraintViolation,
            "22P02" or "22001" or "22003" or "22007" or "22008" or "22023" => DatabaseErrorType.InvalidValue,
            "53300" or "53400" or "57014" or "57P01" or "57P02" or "57P03" or "40001" or "40P01" => DatabaseErrorType.Unavailable,
            { } state when state.StartsWith("08", StringComparison.Ordinal) => DatabaseErrorType.Unavailable,
            _ => null,
        }
        // Not an error the server sent: the connection failed, timed out or the pool was exhausted.
        : exception is NpgsqlException ? DatabaseErrorType.Unavailable : null;
}
