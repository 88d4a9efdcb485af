using Llana.Data.Demo;

namespace Llana.Data.Tests.Demo;

public sealed class DemoScriptTests
{
    [Theory]
    [InlineData(DatabaseKind.Sqlite)]
    [InlineData(DatabaseKind.Postgres)]
    [InlineData(DatabaseKind.MySql)]
    public void Every_dialect_script_creates_the_six_demo_tables(DatabaseKind kind)
    {
        var statements = DemoDatabase.SplitStatements(DemoDatabase.GetSchemaScript(kind));

        var created = statements.Where(s => s.StartsWith("CREATE TABLE", StringComparison.Ordinal))
            .Select(s => s.Split(' ', 4)[2].Trim('"', '`'))
            .ToList();
        Assert.Equal(["User", "UserApiKey", "Customer", "Employee", "Shipper", "SalesOrder"], created);
        Assert.All(statements, s => Assert.DoesNotContain("--", s, StringComparison.Ordinal));
    }

    [Fact]
    public void Statements_split_only_at_semicolons_that_end_a_line()
    {
        var statements = DemoDatabase.SplitStatements("""
            -- a comment; with a semicolon;
            DO $$ BEGIN CREATE TYPE t AS ENUM ('A'); EXCEPTION WHEN duplicate_object THEN NULL; END $$;
            CREATE TABLE x (
              a INT
            );
            CREATE TABLE y (b INT)
            """);

        Assert.Equal(3, statements.Count);
        Assert.StartsWith("DO $$", statements[0], StringComparison.Ordinal);
        Assert.EndsWith("END $$", statements[0], StringComparison.Ordinal);
        Assert.Equal("CREATE TABLE y (b INT)", statements[2]);
    }

    [Fact]
    public void Sample_rows_match_their_columns_and_the_schema_limits()
    {
        foreach (var table in DemoData.Tables)
        {
            Assert.All(table.Rows, r => Assert.Equal(table.Columns.Length, r.Length));
            var ids = table.Rows.Select(r => Convert.ToInt32(r[Array.IndexOf(table.Columns, table.IdColumn)], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(Enumerable.Range(1, ids.Count), ids);
        }

        // MySQL/PostgreSQL enforce these too; SQLite would not, so check them here once for all dialects.
        var firstNames = DemoData.Employees.Rows.Select(r => (string)r[2]!);
        Assert.All(firstNames, n => Assert.True(n.Length <= 10, n));
        Assert.All(DemoData.Customers.Rows, r => Assert.True(((string)r[2]!).Length <= 40));
        Assert.All(DemoData.Customers.Rows, r => Assert.True(((string)r[6]!).Length <= 15));
        Assert.All(DemoData.Employees.Rows, r => Assert.True(((string)r[8]!).Length <= 15));
    }
}
