using System.Data.Common;
using Llana.Data;
using Microsoft.Data.Sqlite;
using MySqlConnector;
using Npgsql;

namespace Llana.Testing;

/// A fresh, empty database for one test fixture, dropped on dispose. PostgreSQL and MariaDB come from the
/// servers `scripts/test` starts (`LLANA_TEST_POSTGRES_URI`, `LLANA_TEST_MYSQL_URI`: admin URIs); SQLite is a temp file.
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string? _adminConnectionString;

    private TestDatabase(DatabaseKind kind, string uri, string name, string? adminConnectionString)
    {
        Kind = kind;
        Uri = uri;
        Name = name;
        _adminConnectionString = adminConnectionString;
        ConnectionString = DatabaseUri.Parse(uri).ConnectionString;
    }

    public DatabaseKind Kind { get; }

    /// The `DATABASE_URI` for the server under test.
    public string Uri { get; }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<TestDatabase> CreateAsync(DatabaseKind kind)
    {
        var name = "llana_t_" + Guid.NewGuid().ToString("N")[..10];
        switch (kind)
        {
            case DatabaseKind.Sqlite:
                var path = Path.Combine(Path.GetTempPath(), name + ".db");
                return new TestDatabase(kind, "sqlite://" + path, name, null);
            case DatabaseKind.Postgres:
                {
                    var admin = AdminUri("LLANA_TEST_POSTGRES_URI");
                    var adminCs = DatabaseUri.Parse(admin).ConnectionString;
                    await using (var c = new NpgsqlConnection(adminCs))
                    {
                        await c.OpenAsync();
                        await Exec(c, $"CREATE DATABASE \"{name}\"");
                    }

                    return new TestDatabase(kind, ReplaceDatabase(admin, name), name, adminCs);
                }

            case DatabaseKind.MySql:
                {
                    var admin = AdminUri("LLANA_TEST_MYSQL_URI");
                    var adminCs = DatabaseUri.Parse(admin).ConnectionString;
                    await using (var c = new MySqlConnection(adminCs))
                    {
                        await c.OpenAsync();
                        await Exec(c, $"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
                    }

                    return new TestDatabase(kind, ReplaceDatabase(admin, name), name, adminCs);
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }

    public async Task<DbConnection> OpenAsync()
    {
        DbConnection c = Kind switch
        {
            DatabaseKind.Sqlite => new SqliteConnection(ConnectionString),
            DatabaseKind.Postgres => new NpgsqlConnection(ConnectionString),
            _ => new MySqlConnection(ConnectionString),
        };
        await c.OpenAsync();
        return c;
    }

    /// Runs a SQL script (statements separated by `;` at line ends).
    public async Task ExecuteAsync(string sql)
    {
        await using var c = await OpenAsync();
        await Exec(c, sql);
    }

    public async Task<object?> ScalarAsync(string sql)
    {
        await using var c = await OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return await cmd.ExecuteScalarAsync();
    }

    public async ValueTask DisposeAsync()
    {
        switch (Kind)
        {
            case DatabaseKind.Sqlite:
                SqliteConnection.ClearAllPools();
                var path = new SqliteConnectionStringBuilder(ConnectionString).DataSource;
                foreach (var f in new[] { path, path + "-wal", path + "-shm" })
                {
                    File.Delete(f);
                }

                break;
            case DatabaseKind.Postgres:
                NpgsqlConnection.ClearAllPools();
                await using (var c = new NpgsqlConnection(_adminConnectionString))
                {
                    await c.OpenAsync();

                    // A replication slot (REALTIME_SOURCE=database) holds its database: it goes first, once no reader holds it.
                    for (var i = 0; i < 50; i++)
                    {
                        await Exec(c, $"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '{Name}' AND active_pid IS NOT NULL");
                        await Exec(c, $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '{Name}' AND NOT active");
                        await using var left = new NpgsqlCommand($"SELECT COUNT(*) FROM pg_replication_slots WHERE database = '{Name}'", c);
                        if (Convert.ToInt64(await left.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture) == 0)
                        {
                            break;
                        }

                        await Task.Delay(100);
                    }

                    await Exec(c, $"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
                }

                break;
            case DatabaseKind.MySql:
                MySqlConnection.ClearAllPools();
                await using (var c = new MySqlConnection(_adminConnectionString))
                {
                    await c.OpenAsync();
                    await Exec(c, $"DROP DATABASE IF EXISTS `{Name}`");
                }

                break;
        }
    }

    private static string AdminUri(string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } v
            ? v
            : throw new InvalidOperationException(
                $"{variable} is not set. Run scripts/test, which starts PostgreSQL, MariaDB and Redis on loopback and sets it.");

    private static string ReplaceDatabase(string uri, string database)
    {
        var b = new UriBuilder(uri) { Path = "/" + database };
        return b.Uri.ToString();
    }

    private static async Task Exec(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }
}
