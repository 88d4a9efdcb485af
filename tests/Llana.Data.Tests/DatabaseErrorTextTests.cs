using System.Data.Common;
using Llana.Testing;

namespace Llana.Data.Tests;

/// Log text of real driver errors: the driver's message and SQL state, and never the value that was written.
public sealed class DatabaseErrorTextTests
{
    private const string Secret = "s3cret'value for key x";

    [Theory]
    [InlineData(DatabaseKind.Sqlite, "UNIQUE constraint failed: t.email", "SQLite 2067")]
    [InlineData(DatabaseKind.Postgres, "duplicate key value violates unique constraint \"t_email_key\"", "23505")]
    [InlineData(DatabaseKind.MySql, "Duplicate entry … for key 'email'", "23000 (1062)")]
    public async Task A_duplicate_names_the_constraint_and_state_but_not_the_value(DatabaseKind kind, string message, string state)
    {
        await using var db = await TestDatabase.CreateAsync(kind);
        await db.ExecuteAsync("CREATE TABLE t (id INT PRIMARY KEY, email VARCHAR(100) UNIQUE)");
        var insert = $"INSERT INTO t (id, email) VALUES (1, '{Secret.Replace("'", "''", StringComparison.Ordinal)}')";
        await db.ExecuteAsync(insert);
        var e = await Assert.ThrowsAnyAsync<DbException>(() => db.ExecuteAsync(insert.Replace("(1,", "(2,", StringComparison.Ordinal)));

        Assert.Contains(message, DatabaseErrorText.Message(e));
        Assert.DoesNotContain("s3cret", DatabaseErrorText.Message(e));
        Assert.Equal(state, DatabaseErrorText.State(e));
    }

    [Theory]
    [InlineData(DatabaseKind.Postgres, "invalid input syntax for type integer: …", "22P02")]
    [InlineData(DatabaseKind.MySql, "Incorrect integer value: … for column", "22007 (1366)")]
    public async Task A_value_of_the_wrong_type_is_not_logged(DatabaseKind kind, string message, string state)
    {
        await using var db = await TestDatabase.CreateAsync(kind);
        await db.ExecuteAsync("CREATE TABLE t (id INT PRIMARY KEY)");
        var e = await Assert.ThrowsAnyAsync<DbException>(() => db.ExecuteAsync("INSERT INTO t (id) VALUES ('s3cret')"));

        Assert.StartsWith(message, DatabaseErrorText.Message(e));
        Assert.DoesNotContain("s3cret", DatabaseErrorText.Message(e));
        Assert.Equal(state, DatabaseErrorText.State(e));
    }
}
