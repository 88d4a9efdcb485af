using System.Text.Json;
using Llana.Core.Changes;
using Llana.Data.Json;
using Llana.Data.Schema;

namespace Llana.Core.Tables;

/// Which columns a read selects and which of them it returns, plus the relations to attach; <see cref="WriteRow"/>
/// is a row's representation. The select list can be wider than the output (join columns needed for relations but
/// not visible).
public sealed class RowProjection
{
    private RowProjection(List<ColumnSchema> select, int[] output, List<RelationData> relations)
    {
        Select = select;
        Output = output;
        Relations = relations;
    }

    internal List<ColumnSchema> Select { get; }

    internal int[] Output { get; }

    internal List<RelationData> Relations { get; }

    /// <param name="visible">Columns the caller may see and asked for, in output order.</param>
    /// <param name="extra">Columns needed internally (join keys) that are not returned unless visible.</param>
    internal static RowProjection Create(IReadOnlyList<ColumnSchema> visible, IEnumerable<ColumnSchema> extra, List<RelationData> relations)
    {
        var select = new List<ColumnSchema>(visible);
        foreach (var c in extra)
        {
            if (!select.Contains(c))
            {
                select.Add(c);
            }
        }

        return new RowProjection(select, Enumerable.Range(0, visible.Count).ToArray(), relations);
    }

    internal int IndexOf(ColumnSchema column) => Select.IndexOf(column);

    /// The row as a JSON object: its visible columns, then each relation's rows; <paramref name="requestId"/>, when
    /// given, is added last under <paramref name="requestIdKey"/>.
    public void WriteRow(Utf8JsonWriter w, object?[] row, string? requestIdKey = null, string? requestId = null)
    {
        w.WriteStartObject();
        foreach (var i in Output)
        {
            w.WritePropertyName(Select[i].Field);
            JsonValues.Write(w, row[i]);
        }

        foreach (var relation in Relations)
        {
            w.WriteStartArray(relation.Name);
            if (relation.Rows is not null && RowChange.Format(row[relation.ParentKeyIndex]) is { } key
                && relation.Rows.TryGetValue(key, out var children))
            {
                foreach (var child in children)
                {
                    relation.Projection.WriteRow(w, child);
                }
            }

            w.WriteEndArray();
        }

        if (requestId is not null)
        {
            w.WriteString(requestIdKey!, requestId);
        }

        w.WriteEndObject();
    }
}

/// One attached relation: its projection, the parent column index it joins on, and the fetched rows by key
/// (null when the caller may not read the related table: it is returned as `[]`).
internal sealed class RelationData(string name, RelationSchema relation, TableSchema target, RowProjection projection, int parentKeyIndex)
{
    public string Name { get; } = name;

    public RelationSchema Relation { get; } = relation;

    public TableSchema Target { get; } = target;

    public RowProjection Projection { get; } = projection;

    public int ParentKeyIndex { get; } = parentKeyIndex;

    public Dictionary<string, List<object?[]>>? Rows { get; set; }

    /// The caller's own-records rule on the related table, applied to the relation query.
    public Auth.OwnerRestriction? Owner { get; init; }
}
