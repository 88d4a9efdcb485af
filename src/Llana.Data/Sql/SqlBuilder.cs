using System.Data.Common;
using System.Text;
using Llana.Data.Dialects;
using Llana.Data.Schema;

namespace Llana.Data.Sql;

/// Builds parameterised SQL from validated schema objects. Identifiers come only from <see cref="TableSchema"/>
/// and are quoted by the dialect; every value is a parameter. The result is a value (<see cref="SqlStatement"/>): each
/// dialect's SQL can be checked without a server, then applied to a command.
internal sealed class SqlBuilder(SqlDialect dialect)
{
    private readonly StringBuilder _sql = new(256);
    private readonly List<object> _parameters = [];

    public StringBuilder Sql => _sql;

    public SqlBuilder Append(string text)
    {
        _sql.Append(text);
        return this;
    }

    public SqlBuilder Identifier(string name)
    {
        _sql.Append(dialect.Quote(name));
        return this;
    }

    /// Adds a parameter and returns its placeholder (`@p0`, `@p1`, … in order).
    public string Parameter(object? value)
    {
        _parameters.Add(value ?? DBNull.Value);
        return SqlStatement.Placeholder(_parameters.Count - 1);
    }

    /// A parameter bound to a column's type (with the dialect's cast where it needs one).
    public SqlBuilder Value(ColumnSchema column, object? value)
    {
        _sql.Append(dialect.ParameterSql(column, Parameter(dialect.ToParameterValue(column, value))));
        return this;
    }

    public SqlBuilder ColumnList(IReadOnlyList<ColumnSchema> columns)
    {
        for (var i = 0; i < columns.Count; i++)
        {
            if (i > 0)
            {
                _sql.Append(", ");
            }

            _sql.Append(dialect.Quote(columns[i].Field));
        }

        return this;
    }

    public SqlBuilder Where(IReadOnlyList<Filter> filters)
    {
        for (var i = 0; i < filters.Count; i++)
        {
            _sql.Append(i == 0 ? " WHERE " : " AND ");
            Condition(filters[i]);
        }

        return this;
    }

    private void Condition(Filter f)
    {
        var c = f.Column;
        switch (f.Operator)
        {
            case FilterOperator.Null:
                Identifier(c.Field).Append(" IS NULL");
                return;
            case FilterOperator.NotNull:
                Identifier(c.Field).Append(" IS NOT NULL");
                return;
            case FilterOperator.Like or FilterOperator.NotLike or FilterOperator.Search:
                var pattern = Convert.ToString(f.Value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
                _sql.Append(dialect.TextColumnSql(c))
                    .Append(f.Operator == FilterOperator.NotLike ? " NOT LIKE " : " LIKE ")
                    .Append(Parameter(f.Operator == FilterOperator.Search ? "%" + pattern + "%" : pattern));
                return;
            case FilterOperator.In or FilterOperator.NotIn:
                var items = (IReadOnlyList<object?>)f.Value!;
                if (items.Count == 0)
                {
                    // IN () is not valid SQL: an empty list matches nothing (NOT IN matches everything).
                    _sql.Append(f.Operator == FilterOperator.In ? "1 = 0" : "1 = 1");
                    return;
                }

                _sql.Append(dialect.CompareColumnSql(c)).Append(f.Operator == FilterOperator.In ? " IN (" : " NOT IN (");
                for (var i = 0; i < items.Count; i++)
                {
                    if (i > 0)
                    {
                        _sql.Append(", ");
                    }

                    CompareValue(c, items[i]);
                }

                _sql.Append(')');
                return;
            default:
                _sql.Append(dialect.CompareColumnSql(c)).Append(f.Operator switch
                {
                    FilterOperator.Equals => " = ",
                    FilterOperator.NotEquals => " <> ",
                    FilterOperator.LessThan => " < ",
                    FilterOperator.LessThanOrEqual => " <= ",
                    FilterOperator.GreaterThan => " > ",
                    FilterOperator.GreaterThanOrEqual => " >= ",
                    _ => throw new ArgumentOutOfRangeException(nameof(f)),
                });
                CompareValue(c, f.Value);
                return;
        }
    }

    // json columns are compared as text (json has no equality operator in PostgreSQL).
    private void CompareValue(ColumnSchema c, object? value)
    {
        if (c.Type == ColumnType.Json)
        {
            _sql.Append(Parameter(value));
        }
        else
        {
            Value(c, value);
        }
    }

    public SqlBuilder OrderBy(IReadOnlyList<SortItem> sort)
    {
        for (var i = 0; i < sort.Count; i++)
        {
            _sql.Append(i == 0 ? " ORDER BY " : ", ").Append(dialect.Quote(sort[i].Column.Field)).Append(sort[i].Descending ? " DESC" : " ASC");
        }

        return this;
    }

    public SqlStatement Build() => new(_sql.ToString(), [.. _parameters]);
}

/// SQL text and its parameter values (`@p0` is the first).
internal sealed record SqlStatement(string Text, IReadOnlyList<object> Parameters)
{
    public static string Placeholder(int index) => "@p" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// Sets <paramref name="command"/>'s text and parameters to this statement's.
    public void ApplyTo(DbCommand command)
    {
        command.CommandText = Text;
        for (var i = 0; i < Parameters.Count; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = Placeholder(i);
            parameter.Value = Parameters[i];
            command.Parameters.Add(parameter);
        }
    }
}
