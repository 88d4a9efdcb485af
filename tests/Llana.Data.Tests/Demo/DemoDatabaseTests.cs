using System.Data.Common;
using System.Globalization;
using Llana.Data.Demo;
using Llana.Data.Schema;
using Llana.Testing;

namespace Llana.Data.Tests.Demo;

/// The demo seeder against a fresh, empty database of each kind.
public abstract class DemoDatabaseTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    protected abstract DatabaseKind Kind { get; }

    [Fact]
    public async Task Creates_the_demo_tables_with_the_sample_rows()
    {
        await using var db = await TestDatabase.CreateAsync(Kind);
        await using var c = await db.OpenAsync();

        Assert.True(await DemoDatabase.EnsureCreatedAsync(c, Kind, None));

        Assert.Equal(2, await CountAsync(c, "User"));
        Assert.Equal(2, await CountAsync(c, "UserApiKey"));
        Assert.Equal(DemoData.Customers.Rows.Count, await CountAsync(c, "Customer"));
        Assert.Equal(DemoData.Employees.Rows.Count, await CountAsync(c, "Employee"));
        Assert.Equal(3, await CountAsync(c, "Shipper"));
        Assert.Equal(DemoData.SalesOrders.Rows.Count, await CountAsync(c, "SalesOrder"));
        Assert.True(await CountAsync(c, "Customer") >= 10);
        Assert.True(await CountAsync(c, "Employee") >= 9);
        Assert.True(await CountAsync(c, "SalesOrder") >= 25);
        Assert.Equal(3, await CountAsync(c, "Customer", $"{Q("userId")} = 2"));
        Assert.True(await CountAsync(c, "Customer", $"{Q("userId")} = 1") >= 10);
    }

    [Fact]
    public async Task A_second_call_changes_nothing_and_returns_false()
    {
        await using var db = await TestDatabase.CreateAsync(Kind);
        await using var c = await db.OpenAsync();
        Assert.True(await DemoDatabase.EnsureCreatedAsync(c, Kind, None));

        Assert.False(await DemoDatabase.EnsureCreatedAsync(c, Kind, None));

        Assert.Equal(2, await CountAsync(c, "User"));
        Assert.Equal(DemoData.SalesOrders.Rows.Count, await CountAsync(c, "SalesOrder"));
    }

    [Fact]
    public async Task Demo_users_have_roles_bcrypt_passwords_and_api_keys()
    {
        await using var db = await TestDatabase.CreateAsync(Kind);
        await using var c = await db.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(c, Kind, None);

        var roleText = Kind == DatabaseKind.Postgres ? "CAST(u.\"role\" AS text)" : $"u.{Q("role")}";
        var rows = await RowsAsync(c,
            $"SELECT u.{Q("id")}, u.{Q("email")}, u.{Q("password")}, {roleText}, k.{Q("apiKey")} FROM {Q("User")} u " +
            $"JOIN {Q("UserApiKey")} k ON k.{Q("userId")} = u.{Q("id")} ORDER BY u.{Q("id")}");

        Assert.Equal(2, rows.Count);
        Assert.Equal([1L, "test@test.com", DemoData.AdminPasswordHash, "ADMIN", "Ex@mp1eS$Cu7eAp!K3y"], rows[0].Select(Normalize));
        Assert.Equal([2L, "user@test.com", DemoData.UserPasswordHash, "USER", DemoData.UserApiKey], rows[1].Select(Normalize));
        foreach (var hash in new[] { DemoData.AdminPasswordHash, DemoData.UserPasswordHash })
        {
            // bcrypt modular format: $2a$, cost 10, 22 characters of salt, 31 of hash (bcrypt's own base64 alphabet).
            Assert.Matches(@"^\$2a\$10\$[./A-Za-z0-9]{53}$", hash);
        }
    }

    [Fact]
    public async Task Foreign_keys_hold_and_are_enforced()
    {
        await using var db = await TestDatabase.CreateAsync(Kind);
        await using var c = await db.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(c, Kind, None);

        Assert.Equal(0L, await OrphansAsync(c, "UserApiKey", "userId", "User", "id"));
        Assert.Equal(0L, await OrphansAsync(c, "Customer", "userId", "User", "id"));
        Assert.Equal(0L, await OrphansAsync(c, "SalesOrder", "custId", "Customer", "custId"));
        Assert.Equal(0L, await OrphansAsync(c, "SalesOrder", "shipperId", "Shipper", "shipperId"));
        Assert.Equal(0L, await OrphansAsync(c, "SalesOrder", "employeeId", "Employee", "employeeId"));

        await Assert.ThrowsAnyAsync<DbException>(() => ExecAsync(c,
            $"INSERT INTO {Q("SalesOrder")} ({Q("custId")}, {Q("shipperId")}) VALUES (9999, 1)"));
        await Assert.ThrowsAnyAsync<DbException>(() => ExecAsync(c,
            $"INSERT INTO {Q("SalesOrder")} ({Q("custId")}, {Q("shipperId")}) VALUES (1, 9999)"));
        await Assert.ThrowsAnyAsync<DbException>(() => ExecAsync(c,
            $"INSERT INTO {Q("Customer")} ({Q("userId")}, {Q("companyName")}) VALUES (9999, 'Nobody Ltd')"));
    }

    [Fact]
    public async Task New_rows_get_the_next_ids_and_the_column_defaults()
    {
        await using var db = await TestDatabase.CreateAsync(Kind);
        await using var c = await db.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(c, Kind, None);

        await ExecAsync(c, $"INSERT INTO {Q("Customer")} ({Q("userId")}, {Q("companyName")}) VALUES (1, 'Fresh Start Ltd')");
        await ExecAsync(c, $"INSERT INTO {Q("User")} ({Q("email")}, {Q("password")}) VALUES ('new@test.com', 'x')");
        await ExecAsync(c, $"INSERT INTO {Q("SalesOrder")} ({Q("custId")}, {Q("shipperId")}) VALUES (1, 1)");

        Assert.Equal(DemoData.Customers.Rows.Count + 1L, await ScalarLongAsync(c,
            $"SELECT {Q("custId")} FROM {Q("Customer")} WHERE {Q("companyName")} = 'Fresh Start Ltd'"));
        Assert.Equal(3L, await ScalarLongAsync(c, $"SELECT {Q("id")} FROM {Q("User")} WHERE {Q("email")} = 'new@test.com'"));
        Assert.Equal(DemoData.SalesOrders.Rows.Count + 1L, await ScalarLongAsync(c, $"SELECT MAX({Q("orderId")}) FROM {Q("SalesOrder")}"));

        var roleText = Kind == DatabaseKind.Postgres ? "CAST(\"role\" AS text)" : Q("role");
        var row = (await RowsAsync(c,
            $"SELECT {roleText}, {Q("createdAt")}, {Q("updatedAt")}, {Q("deletedAt")} FROM {Q("User")} WHERE {Q("email")} = 'new@test.com'")).Single();
        Assert.Equal("USER", row[0]);
        Assert.NotNull(row[1]);
        Assert.NotNull(row[2]);
        Assert.Null(row[3]);

        await Assert.ThrowsAnyAsync<DbException>(() => ExecAsync(c,
            $"INSERT INTO {Q("User")} ({Q("email")}, {Q("password")}, {Q("role")}) VALUES ('bad@test.com', 'x', 'OWNER')"));
    }

    [Fact]
    public async Task Emails_are_unique()
    {
        await using var db = await TestDatabase.CreateAsync(Kind);
        await using var c = await db.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(c, Kind, None);

        await Assert.ThrowsAnyAsync<DbException>(() => ExecAsync(c,
            $"INSERT INTO {Q("Customer")} ({Q("userId")}, {Q("companyName")}, {Q("email")}) VALUES (1, 'Copycat Inc', 'nora@harborlights.example')"));
        await Assert.ThrowsAnyAsync<DbException>(() => ExecAsync(c,
            $"INSERT INTO {Q("User")} ({Q("email")}, {Q("password")}) VALUES ('test@test.com', 'x')"));
        // NULL emails do not collide.
        await ExecAsync(c, $"INSERT INTO {Q("Customer")} ({Q("userId")}, {Q("companyName")}) VALUES (1, 'No Email A')");
        await ExecAsync(c, $"INSERT INTO {Q("Customer")} ({Q("userId")}, {Q("companyName")}) VALUES (1, 'No Email B')");
    }

    [Fact]
    public async Task Orders_have_dates_freight_with_cents_and_some_nulls()
    {
        await using var db = await TestDatabase.CreateAsync(Kind);
        await using var c = await db.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(c, Kind, None);

        var first = (await RowsAsync(c,
            $"SELECT {Q("freight")}, {Q("orderDate")}, {Q("requiredDate")}, {Q("shipName")}, {Q("shipCity")} FROM {Q("SalesOrder")} WHERE {Q("orderId")} = 1")).Single();
        Assert.Equal(32.38m, Convert.ToDecimal(first[0], CultureInfo.InvariantCulture));
        Assert.Equal(new DateTime(2025, 1, 6), Convert.ToDateTime(first[1], CultureInfo.InvariantCulture));
        Assert.Equal(new DateTime(2025, 2, 3), Convert.ToDateTime(first[2], CultureInfo.InvariantCulture));
        Assert.Equal("Harbor Lights Trading", first[3]);
        Assert.Equal("Gothenburg", first[4]);

        Assert.True(await CountAsync(c, "SalesOrder", $"{Q("shipRegion")} IS NULL") > 0);
        Assert.True(await CountAsync(c, "SalesOrder", $"{Q("shippedDate")} IS NULL") > 0);
        Assert.True(await CountAsync(c, "SalesOrder", $"{Q("employeeId")} IS NULL") > 0);
        Assert.Equal(DemoData.SalesOrders.Rows.Count, await CountAsync(c, "SalesOrder", $"{Q("freight")} > 0"));
    }

    [Fact]
    public async Task The_schema_reader_sees_the_same_demo_shape_on_every_database()
    {
        await using var db = await TestDatabase.CreateAsync(Kind);
        await using var c = await db.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(c, Kind, None);

        var tables = (await SchemaReaders.For(Kind).ReadAsync(c, None)).ToDictionary(t => t.Table);

        string[] stamps = ["createdAt", "updatedAt", "deletedAt"];
        var expected = new Dictionary<string, (string Pk, string[] Columns)>
        {
            ["User"] = ("id", ["id", "email", "password", "role", "firstName", "lastName"]),
            ["UserApiKey"] = ("id", ["id", "userId", "apiKey"]),
            ["Customer"] = ("custId", ["custId", "userId", "companyName", "contactName", "contactTitle", "address", "city", "region", "postalCode", "country", "phone", "mobile", "email", "fax"]),
            ["Employee"] = ("employeeId", ["employeeId", "lastName", "firstName", "title", "titleOfCourtesy", "birthDate", "hireDate", "address", "city", "region", "postalCode", "country", "phone", "extension", "mobile", "email", "photo", "notes", "photoPath", "mgrid"]),
            ["Shipper"] = ("shipperId", ["shipperId", "companyName", "phone"]),
            ["SalesOrder"] = ("orderId", ["orderId", "custId", "employeeId", "orderDate", "requiredDate", "shippedDate", "shipperId", "freight", "shipName", "shipAddress", "shipCity", "shipRegion", "shipPostalCode", "shipCountry"]),
        };
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), tables.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, (pk, columns)) in expected)
        {
            var table = tables[name];
            Assert.Equal(pk, table.PrimaryKey);
            Assert.Equal(columns.Concat(stamps).Order(StringComparer.Ordinal), table.Columns.Select(col => col.Field).Order(StringComparer.Ordinal));
            Assert.True(table.PrimaryKeyColumn!.AutoIncrement, name);
            Assert.All(stamps, s => Assert.Equal(ColumnType.Date, table.Column(s)!.Type));
            Assert.True(table.Column("deletedAt")!.Nullable);
        }

        var role = tables["User"].Column("role")!;
        Assert.Equal(ColumnType.Enum, role.Type);
        Assert.Equal(["ADMIN", "USER"], role.Enums!);
        Assert.True(tables["User"].Column("email")!.UniqueKey);
        Assert.True(tables["Customer"].Column("email")!.UniqueKey);
        Assert.False(tables["Customer"].Column("companyName")!.Nullable);
        Assert.False(tables["Customer"].Column("userId")!.Nullable);
        Assert.Equal(ColumnType.Number, tables["SalesOrder"].Column("freight")!.Type);
        Assert.All(["custId", "shipperId", "employeeId"], col => Assert.True(tables["SalesOrder"].Column(col)!.ForeignKey, col));
        Assert.True(tables["Customer"].Column("userId")!.ForeignKey);
        Assert.True(tables["UserApiKey"].Column("userId")!.ForeignKey);

        Assert.Contains(new RelationSchema("Customer", "custId", "SalesOrder", "custId"), tables["SalesOrder"].Relations);
        Assert.Contains(new RelationSchema("SalesOrder", "custId", "Customer", "custId"), tables["Customer"].Relations);
        Assert.Contains(new RelationSchema("User", "id", "Customer", "userId"), tables["Customer"].Relations);
        Assert.Contains(new RelationSchema("Employee", "employeeId", "SalesOrder", "employeeId"), tables["SalesOrder"].Relations);
        Assert.Contains(new RelationSchema("Shipper", "shipperId", "SalesOrder", "shipperId"), tables["SalesOrder"].Relations);
    }

    private string Q(string identifier) => Kind == DatabaseKind.MySql ? $"`{identifier}`" : $"\"{identifier}\"";

    private static object? Normalize(object? value) => value switch
    {
        int i => (long)i,
        uint u => (long)u,
        _ => value,
    };

    private async Task<int> CountAsync(DbConnection c, string table, string? where = null) =>
        (int)await ScalarLongAsync(c, $"SELECT COUNT(*) FROM {Q(table)}" + (where is null ? "" : " WHERE " + where));

    private Task<long> OrphansAsync(DbConnection c, string child, string column, string parent, string parentColumn) =>
        ScalarLongAsync(c,
            $"SELECT COUNT(*) FROM {Q(child)} x LEFT JOIN {Q(parent)} p ON p.{Q(parentColumn)} = x.{Q(column)} " +
            $"WHERE x.{Q(column)} IS NOT NULL AND p.{Q(parentColumn)} IS NULL");

    private static async Task<long> ScalarLongAsync(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task ExecAsync(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<List<object?[]>> RowsAsync(DbConnection c, string sql)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }
}

public sealed class SqliteDemoDatabaseTests : DemoDatabaseTests
{
    protected override DatabaseKind Kind => DatabaseKind.Sqlite;
}

public sealed class PostgresDemoDatabaseTests : DemoDatabaseTests
{
    protected override DatabaseKind Kind => DatabaseKind.Postgres;
}

public sealed class MySqlDemoDatabaseTests : DemoDatabaseTests
{
    protected override DatabaseKind Kind => DatabaseKind.MySql;
}
