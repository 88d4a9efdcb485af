using System.Text.Json;
using Llana.Core.Tables;
using Llana.Data.Schema;
using Llana.Data.Sql;

namespace Llana.Core.Tests;

/// Llana's query language (spec §5) and its values, table-driven and without a database: what each query becomes, and
/// the original's 400 texts for what it cannot be.
public sealed class QueryParserTests
{
    private static readonly ColumnSchema Id = Column("custId", ColumnType.Number) with { PrimaryKey = true, IsInteger = true };
    private static readonly ColumnSchema City = Column("city", ColumnType.String);
    private static readonly ColumnSchema Active = Column("active", ColumnType.Boolean);
    private static readonly ColumnSchema Created = Column("createdAt", ColumnType.Date);
    private static readonly ColumnSchema Tier = Column("tier", ColumnType.Enum) with { Enums = ["gold", "silver"] };
    private static readonly ColumnSchema Secret = Column("password", ColumnType.String) with { WriteOnly = true };
    private static readonly ColumnSchema Price = Column("price", ColumnType.Number);
    private static readonly TableSchema Customer = new("Customer", [Id, City, Active, Created, Tier, Secret, Price], "custId", []);

    private static ColumnSchema Column(string field, ColumnType type) => new(field, type, type.ToString(), true, false, false, false, false, null);

    private static ParsedQuery Parse(string query, bool withFilters = true) => QueryParser.Parse(
        Customer,
        query.Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).Select(p => KeyValuePair.Create(p[0], p.Length > 1 ? p[1] : string.Empty)).ToList(),
        _ => null, defaultLimit: 20, maxLimit: 1000, withFilters);

    public static TheoryData<string, FilterOperator, string, object?> Filters => new()
    {
        { "city=Oslo", FilterOperator.Equals, "city", "Oslo" },
        { "city[not_equals]=Oslo", FilterOperator.NotEquals, "city", "Oslo" },
        { "custId[gt]=5", FilterOperator.GreaterThan, "custId", 5L },
        { "custId[lte]=5.0", FilterOperator.LessThanOrEqual, "custId", 5L },
        { "price[gte]=2.5", FilterOperator.GreaterThanOrEqual, "price", 2.5m },
        { "city[like]=Os%25", FilterOperator.Like, "city", "Os%25" },
        { "city[search]=sl", FilterOperator.Search, "city", "sl" },
        { "active=1", FilterOperator.Equals, "active", true },
        { "active=FALSE", FilterOperator.Equals, "active", false },
        { "tier=gold", FilterOperator.Equals, "tier", "gold" },
        { "city[null]=", FilterOperator.Null, "city", null },
        { "city[not_null]=", FilterOperator.NotNull, "city", null },
        { "createdAt[lt]=2024-01-02T03:04:05Z", FilterOperator.LessThan, "createdAt", new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc) },
    };

    [Theory]
    [MemberData(nameof(Filters))]
    public void A_filter_becomes_a_typed_condition(string query, FilterOperator op, string column, object? value)
    {
        var filter = Assert.Single(Parse(query).Filters);
        Assert.Equal((op, column, value), (filter.Operator, filter.Column.Field, filter.Value));
    }

    [Fact]
    public void In_takes_a_comma_separated_list_of_typed_values()
    {
        var filter = Assert.Single(Parse("custId[in]=1,2,3").Filters);
        Assert.Equal(FilterOperator.In, filter.Operator);
        Assert.Equal([1L, 2L, 3L], (IEnumerable<object?>)filter.Value!);
    }

    public static TheoryData<string, string> Refused => new()
    {
        { "nope=1", "Column nope not found in schema" },
        { "city[between]=a", "Invalid filter operator between for city, must be one of: equals, not_equals, lt, lte, gt, gte, like, not_like, in, not_in, null, not_null, search" },
        { "password=x", "Column password is write-only" },
        { "custId=abc", "custId must be a number" },
        { "custId=5.5", "custId must be a number" },
        { "active=maybe", "active must be a boolean value" },
        { "tier=bronze", "tier must be one of the following values: gold, silver" },
        { "createdAt=yesterday", "createdAt must be a valid ISO 8601 date string" },
        { "fields=custId,nope", "Field nope not found in table schema for Customer" },
        { "sort=city", "Invalid order param city, missing direction, must be either city.asc or city.desc" },
        { "sort=city.up", "Invalid order operator up, must be either asc or desc" },
        { "sort=nope.asc", "Column nope not found in schema" },
        { "sort=password.asc", "Column password is write-only" },
        { "page=not-a-token", "Invalid page token" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void What_cannot_be_read_is_a_400_with_the_originals_text(string query, string message)
    {
        var e = Assert.Throws<TableErrorException>(() => Parse(query));
        Assert.Equal((400, message), (e.Error.Status, e.Error.Message));
    }

    [Theory]
    [InlineData("", 20, 0)]
    [InlineData("limit=5&offset=10", 5, 10)]
    [InlineData("limit=0", 20, 0)]
    [InlineData("limit=3&limit=7", 7, 0)]
    public void Paging_defaults_and_the_last_value_wins(string query, int limit, int offset)
    {
        var parsed = Parse(query);
        Assert.Equal((limit, offset), (parsed.Limit, parsed.Offset));
    }

    [Fact]
    public void Fields_and_sort_resolve_to_schema_columns_in_order()
    {
        var parsed = Parse("fields=city,custId&sort=city.desc,custId.asc");
        Assert.Equal(["city", "custId"], parsed.Fields!.Select(c => c.Field));
        Assert.Equal([("city", true), ("custId", false)], parsed.Sort.Select(s => (s.Column.Field, s.Descending)));
    }

    [Fact]
    public void Get_one_ignores_filters_sort_and_paging()
    {
        var parsed = Parse("city=Oslo&sort=nope&limit=abc", withFilters: false);
        Assert.Empty(parsed.Filters);
        Assert.Empty(parsed.Sort);
    }

    public static TheoryData<ColumnSchema, string, object?, string?> JsonValues => new()
    {
        { Id, "5", 5L, null },
        { Id, "\"7\"", 7L, null },
        { Id, "5.5", null, "custId must be a number" },
        { Price, "2.25", 2.25m, null },
        { Active, "true", true, null },
        { Active, "0", false, null },
        { Active, "2", null, "active must be a boolean value" },
        { City, "\"Oslo\"", "Oslo", null },
        { City, "12", null, "city must be a string" },
        { Tier, "\"silver\"", "silver", null },
        { Tier, "\"bronze\"", null, "tier must be one of the following values: gold, silver" },
        { Created, "\"2024-01-02\"", new DateTime(2024, 1, 2, 0, 0, 0, DateTimeKind.Utc), null },
        { Created, "5", null, "createdAt must be a valid ISO 8601 date string" },
        { City, "null", null, null },
    };

    [Theory]
    [MemberData(nameof(JsonValues))]
    public void A_body_value_is_typed_for_its_column_or_named_wrong(ColumnSchema column, string json, object? value, string? error)
    {
        using var document = JsonDocument.Parse(json);
        var typed = ValueParser.FromJson(column, document.RootElement, out var problem);
        Assert.Equal((value, error), (typed, problem));
    }
}
