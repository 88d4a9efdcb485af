using System.Data.Common;

namespace Llana.Data.Schema;

/// Reads the tables, views and materialized views of `current_schema()` (normally `public`) from
/// `pg_catalog` in one batch: columns (with enum labels), indexes (primary and unique keys), foreign keys.
/// DbType is `format_type` (`character varying(255)`, `timestamp with time zone`), except for enums, where it is
/// the bare type name (`userrole`, `UserRole`) so the dialect can quote it for casts.
public sealed class PostgresSchemaReader : ISchemaReader
{
    private const string Sql = """
        SELECT c.relname, c.relkind::text, a.attname,
               CASE WHEN bt.typtype = 'e' THEN t.typname::text ELSE format_type(a.atttypid, a.atttypmod) END,
               bt.typname, bt.typtype::text, bt.typcategory::text, a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity::text,
               CASE WHEN bt.typtype = 'e'
                    THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = bt.oid ORDER BY e.enumsortorder)
               END
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_type t ON t.oid = a.atttypid
        JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
        LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
        ORDER BY c.relname, a.attnum;
        SELECT c.relname, i.indisprimary,
               ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num ORDER BY k.ord),
               i.indnkeyatts
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND (i.indisprimary OR i.indisunique)
          AND i.indpred IS NULL AND i.indexprs IS NULL
        ORDER BY c.relname, i.indexrelid;
        SELECT c.relname,
               ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord),
               CASE WHEN fn.nspname = current_schema() THEN fc.relname END,
               ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_class fc ON fc.oid = con.confrelid
        JOIN pg_namespace fn ON fn.oid = fc.relnamespace
        WHERE con.contype = 'f' AND n.nspname = current_schema()
        ORDER BY c.relname, con.conname;
        """;

    public async Task<IReadOnlyList<TableSchema>> ReadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var assembler = new SchemaAssembler();
        await SchemaReaders.ReadBatchAsync(connection, _ => Sql, async (r, set) =>
        {
            while (await r.ReadAsync(cancellationToken))
            {
                switch (set)
                {
                    case 0:
                        {
                            var dbType = r.GetString(3);
                            var (type, isInteger) = MapType(r.GetString(4), r.GetString(5), r.GetString(6));
                            var rawDefault = SchemaReaders.NullableString(r, 8);
                            var identity = SchemaReaders.NullableString(r, 9) ?? "";
                            var serial = rawDefault is not null && rawDefault.StartsWith("nextval(", StringComparison.OrdinalIgnoreCase);
                            var enums = r.IsDBNull(10) ? null : (IReadOnlyList<string>)r.GetFieldValue<string[]>(10);
                            assembler.AddColumn(
                                r.GetString(0),
                                r.GetString(1) is "v" or "m",
                                new ColumnDraft(
                                    r.GetString(2),
                                    type,
                                    dbType,
                                    Nullable: !r.GetBoolean(7),
                                    AutoIncrement: serial || identity.Length > 0,
                                    // The sequence is reported through AutoIncrement, as MySQL reports auto_increment.
                                    serial ? null : SchemaAssembler.NormalizeDefault(rawDefault),
                                    type == ColumnType.Enum ? enums : null,
                                    isInteger));
                            break;
                        }

                    case 1:
                        {
                            var columns = r.GetFieldValue<string[]>(2);
                            // INCLUDE columns are part of indkey but not of the key.
                            var keyCount = (int)Math.Min(SchemaReaders.Int(r, 3), columns.Length);
                            if (r.GetBoolean(1))
                            {
                                assembler.SetPrimaryKey(r.GetString(0), columns[..keyCount]);
                            }
                            else
                            {
                                assembler.AddUnique(r.GetString(0), columns[..keyCount]);
                            }

                            break;
                        }

                    case 2:
                        // A table in another schema is not addressable: the column is still flagged, without a relation.
                        assembler.AddForeignKey(r.GetString(0), r.GetFieldValue<string[]>(1), SchemaReaders.NullableString(r, 2), r.GetFieldValue<string[]>(3));
                        break;
                }
            }
        }, cancellationToken);

        return assembler.Build();
    }

    /// Maps the base type (domains are resolved to their base type by the query).
    internal static (ColumnType Type, bool IsInteger) MapType(string typeName, string typeType, string category)
    {
        if (typeType == "e")
        {
            return (ColumnType.Enum, false);
        }

        if (category == "A")
        {
            return (ColumnType.Unknown, false);
        }

        return typeName switch
        {
            "int2" or "int4" or "int8" => (ColumnType.Number, true),
            "numeric" or "float4" or "float8" => (ColumnType.Number, false),
            "varchar" or "bpchar" or "text" or "char" or "name" or "uuid" or "citext" or "bytea" => (ColumnType.String, false),
            "timestamp" or "timestamptz" or "date" or "time" or "timetz" => (ColumnType.Date, false),
            "bool" => (ColumnType.Boolean, false),
            "json" or "jsonb" => (ColumnType.Json, false),
            _ => (ColumnType.Unknown, false),
        };
    }
}
