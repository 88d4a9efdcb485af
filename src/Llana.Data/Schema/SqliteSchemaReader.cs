using System.Data.Common;
using System.Text.RegularExpressions;

namespace Llana.Data.Schema;

/// Reads tables and views from `sqlite_master` (internal `sqlite_*` tables excluded) with the pragma
/// table-valued functions, all in one batch. Types follow the declared type name, like SQLite's affinity rules.
public sealed partial class SqliteSchemaReader : ISchemaReader
{
    private const string Sql = """
        SELECT m.name, m.type, m.sql, p.name, p.type, p."notnull", p.dflt_value, p.pk
        FROM sqlite_master m JOIN pragma_table_info(m.name) p
        WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
        ORDER BY m.name, p.cid;
        SELECT m.name, il.name, ii.seqno, ii.name
        FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND il."unique" = 1 AND il.partial = 0
        ORDER BY m.name, il.name, ii.seqno;
        SELECT m.name, f.id, f.seq, f."table", f."from", f."to"
        FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
        ORDER BY m.name, f.id, f.seq;
        """;

    public async Task<IReadOnlyList<TableSchema>> ReadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var assembler = new SchemaAssembler();
        var primaryKeys = new Dictionary<string, SortedList<long, string>>(StringComparer.Ordinal);
        var indexes = new List<(string Table, string Index, string? Column)>();
        var foreignKeys = new List<(string Table, long Id, string RefTable, string From, string? To)>();
        var columns = new List<(string Table, bool IsView, ColumnDraft Column, bool RowIdCandidate)>();

        await SchemaReaders.ReadBatchAsync(connection, _ => Sql, async (r, set) =>
        {
            string? currentTable = null;
            Dictionary<string, IReadOnlyList<string>>? checkEnums = null;
            var rowIdTable = false;
            while (await r.ReadAsync(cancellationToken))
            {
                switch (set)
                {
                    case 0:
                        {
                            var table = r.GetString(0);
                            if (table != currentTable)
                            {
                                currentTable = table;
                                var createSql = SchemaReaders.NullableString(r, 2) ?? "";
                                checkEnums = ParseCheckEnums(createSql);
                                rowIdTable = r.GetString(1) == "table" && !WithoutRowId().IsMatch(createSql);
                            }

                            var name = r.GetString(3);
                            var declared = SchemaReaders.NullableString(r, 4) ?? "";
                            var pk = SchemaReaders.Int(r, 7);
                            if (pk > 0)
                            {
                                if (!primaryKeys.TryGetValue(table, out var list))
                                {
                                    primaryKeys[table] = list = [];
                                }

                                list.Add(pk, name);
                            }

                            var (type, isInteger) = MapType(declared);
                            IReadOnlyList<string>? enums = null;
                            if (type is ColumnType.String or ColumnType.Unknown && checkEnums!.TryGetValue(name, out var values))
                            {
                                type = ColumnType.Enum;
                                enums = values;
                            }

                            columns.Add((
                                table,
                                r.GetString(1) == "view",
                                new ColumnDraft(
                                    name,
                                    type,
                                    declared,
                                    Nullable: SchemaReaders.Int(r, 5) == 0 && pk == 0,
                                    AutoIncrement: false,
                                    SchemaAssembler.NormalizeDefault(SchemaReaders.NullableString(r, 6)),
                                    enums,
                                    isInteger),
                                rowIdTable && pk == 1 && declared.Equals("INTEGER", StringComparison.OrdinalIgnoreCase)));
                            break;
                        }

                    case 1:
                        indexes.Add((r.GetString(0), r.GetString(1), SchemaReaders.NullableString(r, 3)));
                        break;
                    case 2:
                        foreignKeys.Add((r.GetString(0), SchemaReaders.Int(r, 1), r.GetString(3), r.GetString(4), SchemaReaders.NullableString(r, 5)));
                        break;
                }
            }
        }, cancellationToken);

        foreach (var (table, isView, column, rowIdCandidate) in columns)
        {
            // Only a column declared exactly `INTEGER` and alone in the PK aliases the rowid (and so auto-increments).
            var autoIncrement = rowIdCandidate && primaryKeys[table].Count == 1;
            assembler.AddColumn(table, isView, autoIncrement ? column with { AutoIncrement = true } : column);
        }

        foreach (var (table, keyColumns) in primaryKeys)
        {
            assembler.SetPrimaryKey(table, [.. keyColumns.Values]);
        }

        foreach (var index in indexes.GroupBy(i => (i.Table, i.Index)))
        {
            // Expression columns have no name: such an index does not make a column unique.
            if (index.All(i => i.Column is not null))
            {
                assembler.AddUnique(index.Key.Table, [.. index.Select(i => i.Column!)]);
            }
        }

        // Rows are grouped after the primary keys are known: `REFERENCES t` without a column means t's PK.
        foreach (var fk in foreignKeys.GroupBy(f => (f.Table, f.Id)))
        {
            var refTable = fk.First().RefTable;
            var to = fk.All(f => f.To is not null)
                ? fk.Select(f => f.To!).ToList()
                : assembler.PrimaryKeyOf(refTable)?.ToList() ?? [];
            assembler.AddForeignKey(fk.Key.Table, [.. fk.Select(f => f.From)], refTable, to);
        }

        return assembler.Build();
    }

    internal static (ColumnType Type, bool IsInteger) MapType(string declared)
    {
        var t = declared.ToUpperInvariant();
        if (t.Length == 0)
        {
            return (ColumnType.Unknown, false);
        }

        if (t.Contains("BOOL", StringComparison.Ordinal) || t.StartsWith("TINYINT(1)", StringComparison.Ordinal) || t == "BIT" || t.StartsWith("BIT(1)", StringComparison.Ordinal))
        {
            return (ColumnType.Boolean, false);
        }

        if (t.Contains("JSON", StringComparison.Ordinal))
        {
            return (ColumnType.Json, false);
        }

        if (t.Contains("DATE", StringComparison.Ordinal) || t.Contains("TIME", StringComparison.Ordinal))
        {
            return (ColumnType.Date, false);
        }

        if (t.Contains("INT", StringComparison.Ordinal))
        {
            return (ColumnType.Number, true);
        }

        if (t.Contains("CHAR", StringComparison.Ordinal) || t.Contains("CLOB", StringComparison.Ordinal) || t.Contains("TEXT", StringComparison.Ordinal)
            || t.Contains("UUID", StringComparison.Ordinal) || t.Contains("BLOB", StringComparison.Ordinal) || t.Contains("BINARY", StringComparison.Ordinal))
        {
            return (ColumnType.String, false);
        }

        if (t.Contains("REAL", StringComparison.Ordinal) || t.Contains("FLOA", StringComparison.Ordinal) || t.Contains("DOUB", StringComparison.Ordinal)
            || t.Contains("DEC", StringComparison.Ordinal) || t.Contains("NUMERIC", StringComparison.Ordinal))
        {
            return (ColumnType.Number, false);
        }

        return (ColumnType.Unknown, false);
    }

    /// `CHECK (role IN ('ADMIN','USER'))` → role: [ADMIN, USER]. Only this plain form is recognised.
    internal static Dictionary<string, IReadOnlyList<string>> ParseCheckEnums(string createSql)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (Match m in CheckIn().Matches(createSql))
        {
            var column = m.Groups["col"].Value;
            if (SchemaAssembler.ParseQuotedList(m.Groups["list"].Value) is { Count: > 0 } values)
            {
                result.TryAdd(column, values);
            }
        }

        return result;
    }

    [GeneratedRegex("""CHECK\s*\(\s*["`\[]?(?<col>\w+)["`\]]?\s+IN\s*\((?<list>\s*'(?:[^']|'')*'(?:\s*,\s*'(?:[^']|'')*')*\s*)\)\s*\)""", RegexOptions.IgnoreCase)]
    private static partial Regex CheckIn();

    [GeneratedRegex(@"\)\s*WITHOUT\s+ROWID", RegexOptions.IgnoreCase)]
    private static partial Regex WithoutRowId();
}
