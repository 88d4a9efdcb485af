using System.Data.Common;
using System.Text.RegularExpressions;

namespace Llana.Data.Schema;

/// Reads the tables and views of `DATABASE()` from `information_schema` in one batch (columns, indexes,
/// foreign keys, and on MariaDB the `json_valid` checks that mark JSON columns, which MariaDB stores as longtext).
public sealed partial class MySqlSchemaReader : ISchemaReader
{
    private const string Sql = """
        SELECT c.TABLE_NAME, t.TABLE_TYPE, c.COLUMN_NAME, c.COLUMN_TYPE, c.DATA_TYPE, c.IS_NULLABLE, c.COLUMN_DEFAULT, c.EXTRA
        FROM information_schema.COLUMNS c
        JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
        WHERE c.TABLE_SCHEMA = DATABASE()
        ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION;
        SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME
        FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0
        ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX;
        SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME,
               CASE WHEN REFERENCED_TABLE_SCHEMA = DATABASE() THEN REFERENCED_TABLE_NAME END, REFERENCED_COLUMN_NAME
        FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL
        ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION;
        """;

    private const string MariaDbJsonSql = """

        SELECT TABLE_NAME, CHECK_CLAUSE
        FROM information_schema.CHECK_CONSTRAINTS
        WHERE CONSTRAINT_SCHEMA = DATABASE() AND CHECK_CLAUSE LIKE 'json_valid(%';
        """;

    public async Task<IReadOnlyList<TableSchema>> ReadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var columns = new List<(string Table, bool IsView, ColumnDraft Column)>();
        var indexes = new List<(string Table, string Index, string? Column)>();
        var foreignKeys = new List<(string Table, string Constraint, string Column, string? RefTable, string RefColumn)>();
        var jsonColumns = new HashSet<(string, string)>();

        // MariaDB's JSON is an alias for longtext plus a json_valid check; MySQL has a real json type.
        await SchemaReaders.ReadBatchAsync(connection, c => IsMariaDb(c) ? Sql + MariaDbJsonSql : Sql, async (r, set) =>
        {
            while (await r.ReadAsync(cancellationToken))
            {
                switch (set)
                {
                    case 0:
                        {
                            var columnType = r.GetString(3);
                            var (type, isInteger) = MapType(r.GetString(4), columnType);
                            var extra = SchemaReaders.NullableString(r, 7) ?? "";
                            columns.Add((
                                r.GetString(0),
                                r.GetString(1).Contains("VIEW", StringComparison.OrdinalIgnoreCase),
                                new ColumnDraft(
                                    r.GetString(2),
                                    type,
                                    columnType,
                                    Nullable: r.GetString(5) == "YES",
                                    AutoIncrement: extra.Contains("auto_increment", StringComparison.OrdinalIgnoreCase),
                                    SchemaAssembler.NormalizeDefault(SchemaReaders.NullableString(r, 6)),
                                    type == ColumnType.Enum ? ParseEnum(columnType) : null,
                                    isInteger)));
                            break;
                        }

                    case 1:
                        indexes.Add((r.GetString(0), r.GetString(1), SchemaReaders.NullableString(r, 2)));
                        break;
                    case 2:
                        foreignKeys.Add((r.GetString(0), r.GetString(1), r.GetString(2), SchemaReaders.NullableString(r, 3), r.GetString(4)));
                        break;
                    case 3:
                        if (JsonValid().Match(r.GetString(1)) is { Success: true } m)
                        {
                            jsonColumns.Add((r.GetString(0), m.Groups[1].Value));
                        }

                        break;
                }
            }
        }, cancellationToken);

        var assembler = new SchemaAssembler();
        foreach (var (table, isView, column) in columns)
        {
            var c = column.Type == ColumnType.String && jsonColumns.Contains((table, column.Field))
                ? column with { Type = ColumnType.Json }
                : column;
            assembler.AddColumn(table, isView, c);
        }

        foreach (var index in indexes.GroupBy(i => (i.Table, i.Index)))
        {
            // Functional index parts (MySQL 8) have no column name.
            if (index.Any(i => i.Column is null))
            {
                continue;
            }

            IReadOnlyList<string> keyColumns = [.. index.Select(i => i.Column!)];
            if (index.Key.Index == "PRIMARY")
            {
                assembler.SetPrimaryKey(index.Key.Table, keyColumns);
            }
            else
            {
                assembler.AddUnique(index.Key.Table, keyColumns);
            }
        }

        // A table in another database is not addressable: the column is still flagged, without a relation.
        foreach (var fk in foreignKeys.GroupBy(f => (f.Table, f.Constraint)))
        {
            assembler.AddForeignKey(fk.Key.Table, [.. fk.Select(f => f.Column)], fk.First().RefTable, [.. fk.Select(f => f.RefColumn)]);
        }

        return assembler.Build();
    }

    /// <paramref name="dataType"/> is DATA_TYPE (`int`), <paramref name="columnType"/> is COLUMN_TYPE (`int(11) unsigned`).
    internal static (ColumnType Type, bool IsInteger) MapType(string dataType, string columnType)
    {
        var ct = columnType.ToLowerInvariant();
        return dataType.ToLowerInvariant() switch
        {
            "tinyint" when ct.StartsWith("tinyint(1)", StringComparison.Ordinal) => (ColumnType.Boolean, false),
            "bit" when ct is "bit(1)" or "bit" => (ColumnType.Boolean, false),
            "bool" or "boolean" => (ColumnType.Boolean, false),
            "tinyint" or "smallint" or "mediumint" or "int" or "integer" or "bigint" or "year" => (ColumnType.Number, true),
            "decimal" or "numeric" or "float" or "double" or "real" or "double precision" => (ColumnType.Number, false),
            "char" or "varchar" or "tinytext" or "text" or "mediumtext" or "longtext" or "uuid" or "inet4" or "inet6"
                or "binary" or "varbinary" or "tinyblob" or "blob" or "mediumblob" or "longblob" => (ColumnType.String, false),
            "date" or "datetime" or "timestamp" or "time" => (ColumnType.Date, false),
            "json" => (ColumnType.Json, false),
            "enum" => (ColumnType.Enum, false),
            _ => (ColumnType.Unknown, false),
        };
    }

    /// `enum('ADMIN','USER')` → [ADMIN, USER].
    internal static IReadOnlyList<string>? ParseEnum(string columnType)
    {
        var open = columnType.IndexOf('(', StringComparison.Ordinal);
        var close = columnType.LastIndexOf(')');
        return open < 0 || close <= open ? null : SchemaAssembler.ParseQuotedList(columnType[(open + 1)..close]);
    }

    private static bool IsMariaDb(DbConnection connection) =>
        connection.ServerVersion.Contains("MariaDB", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"^json_valid\(\s*`?([^`)]+)`?\s*\)$", RegexOptions.IgnoreCase)]
    private static partial Regex JsonValid();
}
