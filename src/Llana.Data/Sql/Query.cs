using Llana.Data.Schema;

namespace Llana.Data.Sql;

public enum FilterOperator
{
    Equals,
    NotEquals,
    LessThan,
    LessThanOrEqual,
    GreaterThan,
    GreaterThanOrEqual,
    Like,
    NotLike,
    In,
    NotIn,
    Null,
    NotNull,
    Search,
}

/// One `WHERE` condition. <see cref="Value"/> is already converted to the column's CLR type
/// (a list for In/NotIn, null for Null/NotNull).
public sealed record Filter(ColumnSchema Column, FilterOperator Operator, object? Value);

public sealed record SortItem(ColumnSchema Column, bool Descending);

/// A validated read of one table: only schema objects, never raw client text, reach the SQL builder.
public sealed record SelectQuery(
    TableSchema Table,
    IReadOnlyList<ColumnSchema> Columns,
    IReadOnlyList<Filter> Filters,
    IReadOnlyList<SortItem> Sort,
    int Limit,
    int Offset);
