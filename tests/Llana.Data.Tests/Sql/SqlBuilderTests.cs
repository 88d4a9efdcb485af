using Llana.Data.Dialects;
using Llana.Data.Schema;
using Llana.Data.Sql;

namespace Llana.Data.Tests.Sql;

/// The SQL each dialect gets for the same validated filters, without a server: identifiers quoted by the dialect, every
/// value a parameter, the casts PostgreSQL needs for enum and json columns.
public sealed class SqlBuilderTests
{
    private static readonly ColumnSchema Id = Column("custId", ColumnType.Number, "integer");
    private static readonly ColumnSchema Name = Column("company\"Name`", ColumnType.String, "varchar");
    private static readonly ColumnSchema Status = Column("status", ColumnType.Enum, "order_status");
    private static readonly ColumnSchema Data = Column("data", ColumnType.Json, "jsonb");
    private static readonly TableSchema Table = new("Customer", [Id, Name, Status, Data], "custId", []);

    private static ColumnSchema Column(string field, ColumnType type, string dbType) => new(field, type, dbType, true, false, false, false, false, null);

    public static TheoryData<DatabaseKind, Filter, string, object[]> Conditions => new()
    {
        // PostgreSQL binds an `integer` column's value as int4, as the column is.
        { DatabaseKind.Postgres, new Filter(Id, FilterOperator.Equals, 7L), "\"custId\" = @p0", [7] },
        { DatabaseKind.MySql, new Filter(Id, FilterOperator.Equals, 7L), "`custId` = @p0", [7L] },
        { DatabaseKind.Sqlite, new Filter(Id, FilterOperator.Equals, 7L), "\"custId\" = @p0", [7L] },
        // Quotes inside a name are doubled by each dialect's own quoting; the value never enters the text.
        { DatabaseKind.Postgres, new Filter(Name, FilterOperator.Like, "a'b%"), "\"company\"\"Name`\" LIKE @p0", ["a'b%"] },
        { DatabaseKind.MySql, new Filter(Name, FilterOperator.Like, "a'b%"), "`company\"Name``` LIKE @p0", ["a'b%"] },
        { DatabaseKind.Sqlite, new Filter(Name, FilterOperator.Search, "x"), "\"company\"\"Name`\" LIKE @p0", ["%x%"] },
        // PostgreSQL: an enum parameter is cast to the column's type, a non-text column is compared as text for LIKE.
        { DatabaseKind.Postgres, new Filter(Status, FilterOperator.NotEquals, "open"), "\"status\" <> CAST(@p0 AS \"order_status\")", ["open"] },
        { DatabaseKind.MySql, new Filter(Status, FilterOperator.NotEquals, "open"), "`status` <> @p0", ["open"] },
        { DatabaseKind.Postgres, new Filter(Id, FilterOperator.Like, "1%"), "CAST(\"custId\" AS TEXT) LIKE @p0", ["1%"] },
        // json columns are compared as text on PostgreSQL (json has no equality operator).
        { DatabaseKind.Postgres, new Filter(Data, FilterOperator.Equals, "{}"), "CAST(\"data\" AS TEXT) = @p0", ["{}"] },
        { DatabaseKind.Postgres, new Filter(Id, FilterOperator.In, new List<object?> { 1L, 2L }), "\"custId\" IN (@p0, @p1)", [1, 2] },
        { DatabaseKind.MySql, new Filter(Id, FilterOperator.NotIn, new List<object?> { 3L }), "`custId` NOT IN (@p0)", [3L] },
        // IN () is not SQL: an empty list matches nothing, NOT IN of nothing everything.
        { DatabaseKind.Sqlite, new Filter(Id, FilterOperator.In, new List<object?>()), "1 = 0", [] },
        { DatabaseKind.Sqlite, new Filter(Id, FilterOperator.NotIn, new List<object?>()), "1 = 1", [] },
        { DatabaseKind.MySql, new Filter(Name, FilterOperator.Null, null), "`company\"Name``` IS NULL", [] },
        { DatabaseKind.Postgres, new Filter(Id, FilterOperator.GreaterThanOrEqual, 5L), "\"custId\" >= @p0", [5] },
    };

    [Theory]
    [MemberData(nameof(Conditions))]
    public void A_condition_is_quoted_and_parameterised_as_its_dialect_wants(DatabaseKind kind, Filter filter, string condition, object[] parameters)
    {
        var statement = new SqlBuilder(SqlDialect.For(kind)).Append("SELECT 1").Where([filter]).Build();
        Assert.Equal("SELECT 1 WHERE " + condition, statement.Text);
        Assert.Equal(parameters, statement.Parameters);
    }

    [Fact]
    public void Conditions_are_joined_with_AND_and_placeholders_follow_their_order()
    {
        var statement = new SqlBuilder(SqlDialect.For(DatabaseKind.Sqlite))
            .Append("SELECT ").ColumnList([Id, Name]).Append(" FROM ").Identifier(Table.Table)
            .Where([new Filter(Id, FilterOperator.LessThan, 9L), new Filter(Name, FilterOperator.NotLike, "z%")])
            .OrderBy([new SortItem(Name, true), new SortItem(Id, false)])
            .Build();
        Assert.Equal(
            "SELECT \"custId\", \"company\"\"Name`\" FROM \"Customer\" WHERE \"custId\" < @p0 AND \"company\"\"Name`\" NOT LIKE @p1 ORDER BY \"company\"\"Name`\" DESC, \"custId\" ASC",
            statement.Text);
        Assert.Equal([9L, "z%"], statement.Parameters);
    }

    [Fact]
    public void A_null_value_is_bound_as_DBNull()
    {
        var statement = new SqlBuilder(SqlDialect.For(DatabaseKind.MySql)).Append("UPDATE t SET x = ").Value(Name, null).Build();
        Assert.Equal("UPDATE t SET x = @p0", statement.Text);
        Assert.Equal([DBNull.Value], statement.Parameters);
    }

    [Fact]
    public void Only_MySQL_reads_the_generated_key_back_with_SQL()
    {
        Assert.Equal("LAST_INSERT_ID()", SqlDialect.For(DatabaseKind.MySql).GeneratedKeySql);
        Assert.True(SqlDialect.For(DatabaseKind.Postgres).SupportsReturning);
        Assert.True(SqlDialect.For(DatabaseKind.Sqlite).SupportsReturning);
    }

    [Fact]
    public void A_statement_applies_its_text_and_parameters_to_a_command()
    {
        using var command = new Microsoft.Data.Sqlite.SqliteCommand();
        new SqlStatement("SELECT @p0, @p1", [1L, "x"]).ApplyTo(command);
        Assert.Equal("SELECT @p0, @p1", command.CommandText);
        Assert.Equal(["@p0", "@p1"], command.Parameters.Cast<Microsoft.Data.Sqlite.SqliteParameter>().Select(p => p.ParameterName));
        Assert.Equal([1L, "x"], command.Parameters.Cast<Microsoft.Data.Sqlite.SqliteParameter>().Select(p => p.Value));
    }
}
