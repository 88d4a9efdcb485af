using System.Globalization;
using Llana.Data.Schema;
using Llana.Data.Sql;

namespace Llana.Core.Tables;

/// A relation requested with `relations=` or `fields=Relation.column`.
public sealed record RelationRequest(string Name, RelationSchema Relation, TableSchema Target, List<ColumnSchema>? Columns);

/// A validated list/get request.
public sealed record ParsedQuery(
    List<ColumnSchema>? Fields,
    List<RelationRequest> Relations,
    List<Filter> Filters,
    List<SortItem> Sort,
    int Limit,
    int Offset);

/// Llana's query language (spec §5): fields, relations, filters `col[op]=v`, sort, limit/offset/page.
/// Every name is resolved against the schema; anything unknown is a 400 with the original's text.
public static class QueryParser
{
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal) { "fields", "limit", "offset", "sort", "page", "relations", "join" };

    private static readonly Dictionary<string, FilterOperator> Operators = new(StringComparer.Ordinal)
    {
        ["equals"] = FilterOperator.Equals,
        ["not_equals"] = FilterOperator.NotEquals,
        ["lt"] = FilterOperator.LessThan,
        ["lte"] = FilterOperator.LessThanOrEqual,
        ["gt"] = FilterOperator.GreaterThan,
        ["gte"] = FilterOperator.GreaterThanOrEqual,
        ["like"] = FilterOperator.Like,
        ["not_like"] = FilterOperator.NotLike,
        ["in"] = FilterOperator.In,
        ["not_in"] = FilterOperator.NotIn,
        ["null"] = FilterOperator.Null,
        ["not_null"] = FilterOperator.NotNull,
        ["search"] = FilterOperator.Search,
    };

    /// <param name="query">Query parameters in request order; repeated keys appear repeatedly.</param>
    /// <param name="ignored">Extra parameter names that are not filters (e.g. the API-key parameter, `hard`).</param>
    /// <param name="withFilters">False for get-one, which ignores filters, sort and paging.</param>
    public static ParsedQuery Parse(
        TableSchema table, IReadOnlyList<KeyValuePair<string, string>> query, Func<string, TableSchema?> findTable,
        int defaultLimit, int maxLimit, bool withFilters, IReadOnlySet<string>? ignored = null)
    {
        string? Single(string name) => TableRequest.LastValue(query, name);

        var relations = new List<RelationRequest>();
        var fields = ParseFields(table, Single("fields"), findTable, relations);
        ParseRelations(table, Single("relations"), findTable, relations);
        if (!withFilters)
        {
            return new ParsedQuery(fields, relations, [], [], 0, 0);
        }

        var limit = Bounded(Single("limit"), "limit", 0, maxLimit);
        var offset = Bounded(Single("offset"), "offset", 0, int.MaxValue);
        if (Single("page") is { Length: > 0 } page)
        {
            var decoded = Pagination.Decode(page) ?? throw Bad("Invalid page token");
            if (decoded.Limit < 0 || decoded.Limit > maxLimit || decoded.Offset < 0)
            {
                throw Bad("Invalid page token");
            }

            (limit, offset) = decoded;
        }

        if (limit == 0)
        {
            limit = defaultLimit;
        }

        var filters = new List<Filter>();
        foreach (var (key, value) in query)
        {
            if (!Reserved.Contains(key) && ignored?.Contains(key) != true)
            {
                ParseFilter(table, key, value, filters);
            }
        }

        return new ParsedQuery(fields, relations, filters, ParseSort(table, Single("sort")), limit, offset);
    }

    private static List<ColumnSchema>? ParseFields(TableSchema table, string? value, Func<string, TableSchema?> findTable, List<RelationRequest> relations)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var fields = new List<ColumnSchema>();
        foreach (var raw in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dot = raw.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0)
            {
                var column = table.Column(raw) ?? throw Bad($"Field {raw} not found in table schema for {table.Table}");
                if (!fields.Contains(column))
                {
                    fields.Add(column);
                }

                continue;
            }

            var relationName = raw[..dot];
            var columnName = raw[(dot + 1)..];
            var relation = FindRelation(table, relationName, findTable)
                ?? throw Bad($"Error parsing fields: relation {relationName} not found in table schema for {table.Table}");
            var target = relation.Target;
            var relatedColumn = target.Column(columnName)
                ?? throw Bad($"Error parsing fields: field {columnName} not found in table schema for {target.Table}");
            var existing = relations.Find(r => r.Name == relationName);
            if (existing is null)
            {
                relations.Add(relation with { Columns = [relatedColumn] });
            }
            else if (existing.Columns is not null && !existing.Columns.Contains(relatedColumn))
            {
                existing.Columns.Add(relatedColumn);
            }
        }

        // Only relation columns were asked for: the parent columns are all returned (as the original does).
        return fields.Count == 0 ? null : fields;
    }

    private static void ParseRelations(TableSchema table, string? value, Func<string, TableSchema?> findTable, List<RelationRequest> relations)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return;
        }

        foreach (var name in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (name.Contains('.', StringComparison.Ordinal))
            {
                throw Bad($"Nested relations are not supported: {name}");
            }

            var relation = FindRelation(table, name, findTable) ?? throw Bad($"Relation {name} not found in table schema for {table.Table} ");
            if (!relations.Exists(r => r.Name == name))
            {
                relations.Add(relation);
            }
        }
    }

    private static RelationRequest? FindRelation(TableSchema table, string name, Func<string, TableSchema?> findTable)
    {
        foreach (var r in table.Relations)
        {
            if (r.Table == name && findTable(r.Table) is { } target && target.Column(r.Column) is not null)
            {
                return new RelationRequest(name, r, target, null);
            }
        }

        return null;
    }

    private static void ParseFilter(TableSchema table, string key, string value, List<Filter> filters)
    {
        var name = key;
        var op = FilterOperator.Equals;
        var bracket = key.IndexOf('[', StringComparison.Ordinal);
        if (bracket >= 0)
        {
            if (!key.EndsWith(']'))
            {
                throw Bad($"Column {key} not found in schema");
            }

            name = key[..bracket];
            var opName = key[(bracket + 1)..^1];
            if (!Operators.TryGetValue(opName, out op))
            {
                throw Bad($"Invalid filter operator {opName} for {name}, must be one of: {string.Join(", ", Operators.Keys)}");
            }
        }

        // Filters on relation columns (`Customer.city`) are ignored, as in the original.
        if (name.Contains('.', StringComparison.Ordinal))
        {
            return;
        }

        var column = table.Column(name) ?? throw Bad($"Column {key} not found in schema");
        if (column.WriteOnly)
        {
            throw Bad($"Column {name} is write-only");
        }

        object? typed = op switch
        {
            FilterOperator.Null or FilterOperator.NotNull => null,
            FilterOperator.Like or FilterOperator.NotLike or FilterOperator.Search => value,
            FilterOperator.In or FilterOperator.NotIn => value.Split(',', StringSplitOptions.TrimEntries)
                .Select(item => ValueParser.FromText(column, item)).ToList(),
            _ => ValueParser.FromText(column, value),
        };

        // A repeated `col[in]` key adds to the same list.
        if (typed is List<object?> list && filters.Find(f => f.Column == column && f.Operator == op) is { Value: List<object?> earlier })
        {
            earlier.AddRange(list);
            return;
        }

        filters.Add(new Filter(column, op, typed));
    }

    private static List<SortItem> ParseSort(TableSchema table, string? value)
    {
        var sort = new List<SortItem>();
        if (!string.IsNullOrWhiteSpace(value))
        {
            foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var dot = item.LastIndexOf('.');
                if (dot < 0)
                {
                    throw Bad($"Invalid order param {item}, missing direction, must be either {item}.asc or {item}.desc");
                }

                var name = item[..dot];
                var direction = item[(dot + 1)..].ToLowerInvariant();
                if (direction is not ("asc" or "desc"))
                {
                    throw Bad($"Invalid order operator {item[(dot + 1)..]}, must be either asc or desc");
                }

                // Sorting on relation columns is ignored, as in the original.
                if (name.Contains('.', StringComparison.Ordinal))
                {
                    continue;
                }

                var column = table.Column(name) ?? throw Bad($"Column {name} not found in schema");
                if (column.WriteOnly)
                {
                    throw Bad($"Column {name} is write-only");
                }

                sort.Add(new SortItem(column, direction == "desc"));
            }
        }

        // A stable default order makes pages deterministic on every database.
        if (table.PrimaryKeyColumn is { } pk && !sort.Exists(s => s.Column == pk))
        {
            sort.Add(new SortItem(pk, false));
        }

        return sort;
    }

    private static int Bounded(string? value, string name, int min, int max)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return 0;
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw Bad($"{name} must be an integer between {min} and {max}");
    }

    private static TableErrorException Bad(string message) => new(TableError.BadRequest(message));
}
