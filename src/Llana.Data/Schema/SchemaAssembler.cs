using System.Text;
using System.Text.RegularExpressions;

namespace Llana.Data.Schema;

/// One column as a dialect reader found it, before keys and relations are known.
internal sealed record ColumnDraft(
    string Field,
    ColumnType Type,
    string DbType,
    bool Nullable,
    bool AutoIncrement,
    string? Default,
    IReadOnlyList<string>? Enums,
    bool IsInteger);

/// Collects what the dialect readers find (columns, keys, foreign keys) and turns it into
/// <see cref="TableSchema"/> records, so the key, uniqueness and relation rules live in one place.
internal sealed partial class SchemaAssembler
{
    private readonly Dictionary<string, TableDraft> _tables = new(StringComparer.Ordinal);
    private readonly List<ForeignKeyDraft> _foreignKeys = [];

    public void AddColumn(string table, bool isView, ColumnDraft column)
    {
        if (!_tables.TryGetValue(table, out var draft))
        {
            draft = new TableDraft(table, isView);
            _tables.Add(table, draft);
        }

        draft.Columns.Add(column);
    }

    public void SetPrimaryKey(string table, IReadOnlyList<string> columns)
    {
        if (Find(table) is { } t && columns.Count > 0)
        {
            t.PrimaryKey = columns;
        }
    }

    /// A unique constraint or unique index; only single-column ones mark a column as unique.
    public void AddUnique(string table, IReadOnlyList<string> columns)
    {
        if (columns.Count == 1 && Find(table) is { } t)
        {
            t.Unique.Add(columns[0]);
        }
    }

    /// <paramref name="referencedTable"/> is null when the target is outside the schema being read.
    public void AddForeignKey(string table, IReadOnlyList<string> columns, string? referencedTable, IReadOnlyList<string> referencedColumns) =>
        _foreignKeys.Add(new ForeignKeyDraft(table, columns, referencedTable, referencedColumns));

    public IReadOnlyList<string>? PrimaryKeyOf(string table) => Find(table)?.PrimaryKey;

    public IReadOnlyList<TableSchema> Build()
    {
        var relations = _tables.Keys.ToDictionary(k => k, _ => new HashSet<RelationSchema>(), StringComparer.Ordinal);
        var foreignKeyColumns = _tables.Keys.ToDictionary(k => k, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);

        foreach (var fk in _foreignKeys)
        {
            if (Find(fk.Table) is not { } source)
            {
                continue;
            }

            var sourceColumns = fk.Columns.Select(c => ColumnName(source, c)).ToList();
            foreach (var c in sourceColumns)
            {
                foreignKeyColumns[source.Name].Add(c);
            }

            // Llana joins on one column, so only single-column foreign keys become relations.
            if (sourceColumns.Count != 1 || fk.ReferencedColumns.Count != 1 || fk.ReferencedTable is null || Find(fk.ReferencedTable) is not { } target)
            {
                continue;
            }

            var from = sourceColumns[0];
            var to = ColumnName(target, fk.ReferencedColumns[0]);
            relations[source.Name].Add(new RelationSchema(target.Name, to, source.Name, from));
            relations[target.Name].Add(new RelationSchema(source.Name, from, target.Name, to));
        }

        var result = new List<TableSchema>(_tables.Count);
        foreach (var t in _tables.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var pkColumns = t.PrimaryKey is null ? [] : new HashSet<string>(t.PrimaryKey.Select(c => ColumnName(t, c)), StringComparer.Ordinal);
            var singlePk = pkColumns.Count == 1 ? pkColumns.First() : null;
            var fkColumns = foreignKeyColumns[t.Name];
            var unique = new HashSet<string>(t.Unique.Select(c => ColumnName(t, c)), StringComparer.Ordinal);

            var columns = t.Columns
                .Select(c => new ColumnSchema(
                    c.Field,
                    c.Type,
                    c.DbType,
                    c.Nullable,
                    PrimaryKey: pkColumns.Contains(c.Field),
                    UniqueKey: unique.Contains(c.Field) && c.Field != singlePk,
                    ForeignKey: fkColumns.Contains(c.Field),
                    c.AutoIncrement,
                    c.Default,
                    c.Enums)
                {
                    IsInteger = c.IsInteger,
                })
                .ToList();

            var rels = relations[t.Name]
                .OrderBy(r => r.Table, StringComparer.Ordinal)
                .ThenBy(r => r.Column, StringComparer.Ordinal)
                .ThenBy(r => r.OrgColumn, StringComparer.Ordinal)
                .ToList();

            result.Add(new TableSchema(t.Name, columns, singlePk, rels) { IsView = t.IsView });
        }

        return result;
    }

    /// Turns a default expression as stored by the database into the value users expect to see:
    /// `'USER'::userrole` → `USER`, `'it''s'` → `it's`, `NULL` / `NULL::text` → null, `(-1)` → `-1`.
    /// Anything else (functions, `CURRENT_TIMESTAMP`, numbers) is returned trimmed, as written.
    public static string? NormalizeDefault(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        var value = raw.Trim();
        var cast = CastedLiteral().Match(value);
        if (cast.Success)
        {
            value = cast.Groups[1].Value;
        }

        var paren = ParenthesisedNumber().Match(value);
        if (paren.Success)
        {
            value = paren.Groups[1].Value;
        }

        if (value.Equals("NULL", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'')
        {
            return value[1..^1].Replace("''", "'", StringComparison.Ordinal);
        }

        return value;
    }

    /// Parses `'a','b,c','it''s'` (the inside of a MySQL `enum(...)` or an SQL `IN (...)` list).
    /// Returns null when the text is not a plain list of string literals.
    public static IReadOnlyList<string>? ParseQuotedList(string text)
    {
        var values = new List<string>();
        var i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i >= text.Length || text[i] != '\'')
            {
                return null;
            }

            var sb = new StringBuilder();
            i++;
            while (true)
            {
                if (i >= text.Length)
                {
                    return null;
                }

                if (text[i] == '\'')
                {
                    if (i + 1 < text.Length && text[i + 1] == '\'')
                    {
                        sb.Append('\'');
                        i += 2;
                        continue;
                    }

                    i++;
                    break;
                }

                if (text[i] == '\\' && i + 1 < text.Length)
                {
                    // MySQL may escape with a backslash in COLUMN_TYPE.
                    sb.Append(text[i + 1]);
                    i += 2;
                    continue;
                }

                sb.Append(text[i]);
                i++;
            }

            values.Add(sb.ToString());
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i >= text.Length)
            {
                return values;
            }

            if (text[i] != ',')
            {
                return null;
            }

            i++;
        }
    }

    private TableDraft? Find(string table) =>
        _tables.TryGetValue(table, out var t)
            ? t
            : _tables.Values.FirstOrDefault(x => string.Equals(x.Name, table, StringComparison.OrdinalIgnoreCase));

    // SQLite matches identifiers case-insensitively, so a foreign key may spell a name differently.
    private static string ColumnName(TableDraft table, string column) =>
        table.Columns.Any(c => c.Field == column)
            ? column
            : table.Columns.FirstOrDefault(c => string.Equals(c.Field, column, StringComparison.OrdinalIgnoreCase))?.Field ?? column;

    [GeneratedRegex(@"^('(?:[^']|'')*'|NULL|-?\d+(?:\.\d+)?|\(-?\d+(?:\.\d+)?\))::\S.*$", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex CastedLiteral();

    [GeneratedRegex(@"^\((-?\d+(?:\.\d+)?)\)$")]
    private static partial Regex ParenthesisedNumber();

    private sealed class TableDraft(string name, bool isView)
    {
        public string Name { get; } = name;

        public bool IsView { get; } = isView;

        public List<ColumnDraft> Columns { get; } = [];

        public IReadOnlyList<string>? PrimaryKey { get; set; }

        public HashSet<string> Unique { get; } = new(StringComparer.Ordinal);
    }

    private sealed record ForeignKeyDraft(string Table, IReadOnlyList<string> Columns, string? ReferencedTable, IReadOnlyList<string> ReferencedColumns);
}
