using Llana.Core.Auth;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Data;
using Llana.Data.Schema;
using Llana.Data.Sql;

namespace Llana.Core.Tables;

/// The relations of a read (`relations=`): which related rows and columns the caller may see (each related table's
/// own rule, narrowed by the parent's allowed fields), fetched with one query per relation for the whole page.
internal sealed class RelationLoader(Database database, IAccessPolicy access, LlanaOptions options)
{
    private const int BatchSize = 500;

    /// The relations to attach to a read of <paramref name="table"/>, and the parent columns they join on.
    public async Task<(List<ColumnSchema> JoinColumns, List<RelationData> Relations)> PlanAsync(
        TableSchema table, ParsedQuery query, AccessDecision decision, Caller caller, CancellationToken ct)
    {
        var relations = new List<RelationData>();
        var joinColumns = new List<ColumnSchema>();
        foreach (var r in query.Relations)
        {
            var parentColumn = table.Column(r.Relation.OrgColumn)!;
            if (query.Fields is not null && !query.Fields.Contains(parentColumn))
            {
                throw new TableErrorException(TableError.BadRequest(
                    $"Cannot build relation. Field {parentColumn.Field} not found in the result set. Please ensure you are selecting the column in your query"));
            }

            joinColumns.Add(parentColumn);
            var targetDecision = await access.DecideAsync(caller, r.Target, AccessLevel.Read, null, ct);
            var childColumns = (r.Columns ?? (IReadOnlyList<ColumnSchema>)r.Target.Columns)
                .Where(c => targetDecision.Shows(c) && AllowedThroughParent(decision, r.Name, c))
                .ToList();
            var childKey = r.Target.Column(r.Relation.Column)!;
            var childProjection = RowProjection.Create(childColumns, [childKey], []);
            relations.Add(new RelationData(r.Name, r.Relation, r.Target, childProjection, -1)
            {
                Rows = targetDecision.Allowed ? [] : null,
                Owner = targetDecision.Owner,
            });
        }

        return (joinColumns, relations);
    }

    /// Points each planned relation of <paramref name="projection"/> at its join column in the parent's select list.
    public static RowProjection Attach(TableSchema table, RowProjection projection)
    {
        var relations = projection.Relations;
        for (var i = 0; i < relations.Count; i++)
        {
            var r = relations[i];
            relations[i] = new RelationData(r.Name, r.Relation, r.Target, r.Projection, projection.IndexOf(table.Column(r.Relation.OrgColumn)!))
            {
                Rows = r.Rows,
                Owner = r.Owner,
            };
        }

        return projection;
    }

    /// One query per relation for the whole page (never one per parent row), batched for very long key lists.
    public async Task FetchAsync(RowProjection projection, List<object?[]> rows, CancellationToken ct)
    {
        foreach (var relation in projection.Relations)
        {
            if (relation.Rows is null || rows.Count == 0)
            {
                continue;
            }

            var keyColumn = relation.Target.Column(relation.Relation.Column)!;
            var keys = rows.Select(r => r[relation.ParentKeyIndex]).Where(k => k is not null).Distinct().ToList();
            var childKeyIndex = relation.Projection.IndexOf(keyColumn);
            foreach (var batch in keys.Chunk(BatchSize))
            {
                var filters = options.ExcludingDeleted(relation.Target, [new(keyColumn, FilterOperator.In, batch.ToList())]);
                if (relation.Owner is { } owner)
                {
                    filters.Add(owner.Filter);
                }

                var sort = relation.Target.PrimaryKeyColumn is { } pk ? new List<SortItem> { new(pk, false) } : [];
                foreach (var child in await database.SelectAsync(relation.Target, relation.Projection.Select, filters, sort, ct))
                {
                    var key = RowChange.Format(child[childKeyIndex])!;
                    if (!relation.Rows.TryGetValue(key, out var list))
                    {
                        relation.Rows[key] = list = [];
                    }

                    list.Add(child);
                }
            }
        }
    }

    // A parent allowed-fields list may name relation columns (`User.email`): then only those are returned.
    private static bool AllowedThroughParent(AccessDecision parent, string relation, ColumnSchema column)
    {
        if (parent.AllowedFields is not { } allowed)
        {
            return true;
        }

        var prefix = relation + ".";
        var any = false;
        foreach (var f in allowed)
        {
            if (f.StartsWith(prefix, StringComparison.Ordinal))
            {
                any = true;
                if (f.AsSpan(prefix.Length).SequenceEqual(column.Field))
                {
                    return true;
                }
            }
        }

        return !any;
    }
}
