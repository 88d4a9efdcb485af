using System.Data.Common;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Llana.Data.Demo;

/// Creates Llana's demo tables (`User`, `UserApiKey`, `Customer`, `Employee`, `Shipper`, `SalesOrder`) with our own
/// sample rows in an empty database. Sign in as `test@test.com` / `test` (ADMIN) or `user@test.com` / `test` (USER).
public static partial class DemoDatabase
{
    private static readonly string[] TablesInCreationOrder = ["User", "UserApiKey", "Customer", "Employee", "Shipper", "SalesOrder"];

    /// Creates the demo tables and rows when the `User` table does not exist yet. Returns true when it created them,
    /// false when `User` was already there (nothing is touched then). The connection must be open; it is left open.
    public static async Task<bool> EnsureCreatedAsync(DbConnection connection, DatabaseKind kind, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);

        // Two instances booting against one empty database must not both seed it.
        if (kind == DatabaseKind.MySql)
        {
            await ScalarAsync(connection, null, "SELECT GET_LOCK('llana_demo_seed', 60)", ct);
            try
            {
                return await CreateMySqlAsync(connection, ct);
            }
            finally
            {
                await ScalarAsync(connection, null, "SELECT RELEASE_LOCK('llana_demo_seed')", CancellationToken.None);
            }
        }

        await using var tx = await connection.BeginTransactionAsync(ct);
        if (kind == DatabaseKind.Postgres)
        {
            await ScalarAsync(connection, tx, "SELECT pg_advisory_xact_lock(hashtext('llana_demo_seed'))", ct);
        }

        if (await UserTableExistsAsync(connection, tx, kind, ct))
        {
            return false;
        }

        // PostgreSQL and SQLite have transactional DDL: schema and rows appear together or not at all.
        await RunScriptAsync(connection, tx, kind, ct);
        await InsertRowsAsync(connection, tx, kind, ct);
        if (kind == DatabaseKind.Postgres)
        {
            await ResetPostgresSequencesAsync(connection, tx, ct);
        }

        await tx.CommitAsync(ct);
        return true;
    }

    private static async Task<bool> CreateMySqlAsync(DbConnection connection, CancellationToken ct)
    {
        if (await UserTableExistsAsync(connection, null, DatabaseKind.MySql, ct))
        {
            return false;
        }

        // MySQL commits DDL implicitly, so undo a half-made schema by hand; otherwise the next start would see
        // `User` and skip the rest.
        try
        {
            await RunScriptAsync(connection, null, DatabaseKind.MySql, ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            await InsertRowsAsync(connection, tx, DatabaseKind.MySql, ct);
            await tx.CommitAsync(ct);
            return true;
        }
        catch
        {
            foreach (var table in TablesInCreationOrder.Reverse())
            {
                try
                {
                    await ExecuteAsync(connection, null, $"DROP TABLE IF EXISTS {Quote(DatabaseKind.MySql, table)}", CancellationToken.None);
                }
                catch (DbException)
                {
                    // Best effort; the original error is the one worth reporting.
                }
            }

            throw;
        }
    }

    /// The DDL script for a dialect, as embedded in this assembly.
    public static string GetSchemaScript(DatabaseKind kind)
    {
        var file = kind switch
        {
            DatabaseKind.Sqlite => "sqlite.sql",
            DatabaseKind.Postgres => "postgres.sql",
            DatabaseKind.MySql => "mysql.sql",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var assembly = typeof(DemoDatabase).Assembly;
        var name = assembly.GetManifestResourceNames().Single(n => n.EndsWith(".Demo." + file, StringComparison.Ordinal));
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// Statements of a script: split at `;` ending a line, `--` comment lines dropped.
    internal static IReadOnlyList<string> SplitStatements(string script)
    {
        var withoutComments = string.Join('\n', script.Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal)));
        return StatementEnd().Split(withoutComments).Select(s => s.Trim()).Where(s => s.Length > 0).ToList();
    }

    private static async Task RunScriptAsync(DbConnection connection, DbTransaction? tx, DatabaseKind kind, CancellationToken ct)
    {
        foreach (var statement in SplitStatements(GetSchemaScript(kind)))
        {
            await ExecuteAsync(connection, tx, statement, ct);
        }
    }

    private static async Task<bool> UserTableExistsAsync(DbConnection connection, DbTransaction? tx, DatabaseKind kind, CancellationToken ct)
    {
        var sql = kind switch
        {
            DatabaseKind.Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'User'",
            DatabaseKind.Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'User'",
            _ => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'User'",
        };
        return Convert.ToInt64(await ScalarAsync(connection, tx, sql, ct), CultureInfo.InvariantCulture) > 0;
    }

    private static async Task InsertRowsAsync(DbConnection connection, DbTransaction tx, DatabaseKind kind, CancellationToken ct)
    {
        foreach (var table in DemoData.Tables)
        {
            var placeholders = table.Columns.Select((c, i) =>
                kind == DatabaseKind.Postgres && table.PostgresTypes.TryGetValue(c, out var type) ? $"CAST(@p{i} AS {type})" : $"@p{i}");
            var sql = $"INSERT INTO {Quote(kind, table.Name)} ({string.Join(", ", table.Columns.Select(c => Quote(kind, c)))}) " +
                $"VALUES ({string.Join(", ", placeholders)})";
            foreach (var row in table.Rows)
            {
                await using var cmd = connection.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = sql;
                for (var i = 0; i < row.Length; i++)
                {
                    var p = cmd.CreateParameter();
                    p.ParameterName = "@p" + i.ToString(CultureInfo.InvariantCulture);
                    p.Value = ToParameterValue(kind, row[i]);
                    cmd.Parameters.Add(p);
                }

                await cmd.ExecuteNonQueryAsync(ct);
            }
        }
    }

    private static object ToParameterValue(DatabaseKind kind, object? value) => value switch
    {
        null => DBNull.Value,
        // SQLite has no date or decimal storage: keep the text form its date functions use, and a REAL for money.
        DateTime d when kind == DatabaseKind.Sqlite => d.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        decimal m when kind == DatabaseKind.Sqlite => (double)m,
        _ => value,
    };

    // Rows carry explicit ids (so the foreign keys are readable); move the SERIAL sequences past them.
    private static async Task ResetPostgresSequencesAsync(DbConnection connection, DbTransaction tx, CancellationToken ct)
    {
        foreach (var table in DemoData.Tables)
        {
            var q = Quote(DatabaseKind.Postgres, table.Name);
            await ScalarAsync(connection, tx,
                $"SELECT setval(pg_get_serial_sequence('{q}', '{table.IdColumn}'), (SELECT COALESCE(MAX({Quote(DatabaseKind.Postgres, table.IdColumn)}), 0) + 1 FROM {q}), false)", ct);
        }
    }

    private static string Quote(DatabaseKind kind, string identifier) =>
        kind == DatabaseKind.MySql ? $"`{identifier}`" : $"\"{identifier}\"";

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task<object?> ScalarAsync(DbConnection connection, DbTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        return await cmd.ExecuteScalarAsync(ct);
    }

    [GeneratedRegex(@";[ \t]*(?:\r?\n|$)")]
    private static partial Regex StatementEnd();
}
