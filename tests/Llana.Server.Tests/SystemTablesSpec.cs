using Llana.Core.Tables;
using Llana.Data;
using Llana.Data.Demo;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;

namespace Llana.Server.Tests;

/// Boot-time system tables (spec §7.2, §7.6, §9.1, §11), each test on a database of its own.
public abstract class SystemTablesSpec(DatabaseKind kind)
{
    private static readonly Dictionary<string, string?> Auth = new() { ["AUTH_LOGIN_RATE_LIMIT"] = "0" };

    private string Q(string identifier) => kind == DatabaseKind.MySql ? $"`{identifier}`" : $"\"{identifier}\"";

    private static long Count(object? value) => Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Two_instances_booting_on_an_empty_database_create_and_seed_once_with_the_soft_delete_column()
    {
        await using var db = await TestDatabase.CreateAsync(kind);
        var settings = new Dictionary<string, string?>(Auth) { ["SOFT_DELETE_COLUMN"] = "deletedAt" };
        var servers = await Task.WhenAll(LlanaServer.StartAsync(db.Uri, settings), LlanaServer.StartAsync(db.Uri, settings));
        await using var a = servers[0];
        await using var b = servers[1];

        Assert.Equal(4, Count(await db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_role")}")));
        Assert.Equal(1, Count(await db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_public_tables")} WHERE {Q("table")} = 'Employee'")));
        Assert.Equal(0, Count(await db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_webhook")}")));

        var catalog = a.Get<SchemaCatalog>();
        await catalog.LoadAsync(CancellationToken.None);
        foreach (var table in new[] { "_llana_public_tables", "_llana_role", "_llana_webhook" })
        {
            var deletedAt = catalog.Find(table)!.Column("deletedAt");
            Assert.NotNull(deletedAt);
            Assert.True(deletedAt.Nullable);
        }

        Assert.Null(catalog.Find("_llana_webhook_log")!.Column("deletedAt"));
        var role = catalog.Find("_llana_role")!;
        Assert.Equal("id", role.PrimaryKey);
        Assert.True(role.Column("id")!.AutoIncrement);
        Assert.Equal(["READ", "WRITE", "DELETE"], catalog.Find("_llana_public_tables")!.Column("access_level")!.Enums);
        Assert.Equal(["INSERT", "UPDATE", "DELETE"], catalog.Find("_llana_webhook_log")!.Column("type")!.Enums);
        Assert.False(role.Column("role")!.Nullable);
        Assert.True(role.Column("own_records")!.Nullable);

        // A restart is a no-op.
        await using (await LlanaServer.StartAsync(db.Uri, settings))
        {
        }

        Assert.Equal(4, Count(await db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_role")}")));
    }

    [Fact]
    public async Task Skip_auth_creates_the_tables_without_seeds_and_disable_webhooks_skips_theirs()
    {
        await using var db = await TestDatabase.CreateAsync(kind);
        await using (await LlanaServer.StartAsync(db.Uri, new Dictionary<string, string?> { ["SKIP_AUTH"] = "true", ["DISABLE_WEBHOOKS"] = "true" }))
        {
        }

        Assert.Equal(0, Count(await db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_role")}")));
        Assert.Equal(0, Count(await db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_public_tables")}")));
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_webhook")}"));
    }

    [Fact]
    public async Task Existing_llana_tables_are_used_as_they_are()
    {
        await using var db = await TestDatabase.CreateAsync(kind);
        await using (var connection = await db.OpenAsync())
        {
            await DemoDatabase.EnsureCreatedAsync(connection, kind, CancellationToken.None);
        }

        // As another Llana made them: plain text levels, different sizes, its own rows.
        var id = kind switch
        {
            DatabaseKind.Sqlite => "\"id\" INTEGER PRIMARY KEY AUTOINCREMENT",
            DatabaseKind.Postgres => "\"id\" SERIAL PRIMARY KEY",
            _ => "`id` INT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        };
        var boolean = kind == DatabaseKind.Postgres ? "BOOLEAN" : "TINYINT(1)";
        await db.ExecuteAsync($"CREATE TABLE {Q("_llana_public_tables")} ({id}, {Q("table")} VARCHAR(100) NOT NULL, {Q("access_level")} VARCHAR(10) NOT NULL, {Q("allowed_fields")} TEXT NULL)");
        await db.ExecuteAsync($"INSERT INTO {Q("_llana_public_tables")} ({Q("table")}, {Q("access_level")}) VALUES ('Shipper', 'READ')");
        await db.ExecuteAsync($"CREATE TABLE {Q("_llana_role")} ({id}, {Q("custom")} {boolean} NOT NULL, {Q("table")} VARCHAR(100) NULL, {Q("identity_column")} VARCHAR(100) NULL, {Q("role")} VARCHAR(50) NOT NULL, {Q("records")} VARCHAR(10) NOT NULL, {Q("own_records")} VARCHAR(10) NULL, {Q("allowed_fields")} TEXT NULL)");
        await db.ExecuteAsync($"INSERT INTO {Q("_llana_role")} ({Q("custom")}, {Q("role")}, {Q("records")}) VALUES ({(kind == DatabaseKind.Postgres ? "false" : "0")}, 'ADMIN', 'READ')");

        await using var server = await LlanaServer.StartAsync(db.Uri, Auth);
        Assert.Equal(1, Count(await db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_public_tables")}")));
        Assert.Equal(1, Count(await db.ScalarAsync($"SELECT COUNT(*) FROM {Q("_llana_role")}")));
        using var anonymous = server.Client();
        Assert.Equal(200, (await anonymous.Get("/Shipper/")).Status);
        Assert.Equal(401, (await anonymous.Get("/Employee/")).Status);
        using var admin = server.Admin();
        Assert.Equal(200, (await admin.Get("/Customer/")).Status);
        Assert.Equal(401, (await admin.Post("/Customer/", new { companyName = "X", userId = 1 })).Status);
    }
}

public sealed class SqliteSystemTablesSpec() : SystemTablesSpec(DatabaseKind.Sqlite);

public sealed class PostgresSystemTablesSpec() : SystemTablesSpec(DatabaseKind.Postgres);

public sealed class MySqlSystemTablesSpec() : SystemTablesSpec(DatabaseKind.MySql);
