using System.Data;
using System.Data.Common;

namespace Llana.Data.Schema;

public static class SchemaReaders
{
    public static ISchemaReader For(DatabaseKind kind) => kind switch
    {
        DatabaseKind.Sqlite => new SqliteSchemaReader(),
        DatabaseKind.Postgres => new PostgresSchemaReader(),
        DatabaseKind.MySql => new MySqlSchemaReader(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unsupported database kind"),
    };

    /// Runs the batch on the connection, opening it first when the caller passed a closed one.
    internal static async Task ReadBatchAsync(
        DbConnection connection,
        Func<DbConnection, string> sql,
        Func<DbDataReader, int, Task> readResult,
        CancellationToken cancellationToken)
    {
        var opened = false;
        if (connection.State != ConnectionState.Open)
        {
            await connection.OpenAsync(cancellationToken);
            opened = true;
        }

        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql(connection);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var index = 0;
            do
            {
                await readResult(reader, index++);
            }
            while (await reader.NextResultAsync(cancellationToken));
        }
        finally
        {
            if (opened)
            {
                await connection.CloseAsync();
            }
        }
    }

    internal static string? NullableString(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : Convert.ToString(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);

    internal static long Int(DbDataReader reader, int ordinal) =>
        Convert.ToInt64(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
}
