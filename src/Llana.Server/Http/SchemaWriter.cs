using System.Text.Json;
using Llana.Data.Schema;

namespace Llana.Server.Http;

/// `GET /{table}/schema` in Llana's shape (spec §4.3).
internal static class SchemaWriter
{
    public static void Write(Utf8JsonWriter w, TableSchema table, IReadOnlyList<ColumnSchema> columns, string? requestId)
    {
        w.WriteStartObject();
        w.WriteString("table", table.Table);
        w.WriteStartArray("columns");
        foreach (var c in columns)
        {
            w.WriteStartObject();
            w.WriteString("field", c.Field);
            w.WriteString("type", c.Type.ToString().ToLowerInvariant());
            w.WriteBoolean("nullable", c.Nullable);
            w.WriteBoolean("required", c.Required);
            w.WriteBoolean("primary_key", c.PrimaryKey);
            w.WriteBoolean("unique_key", c.UniqueKey);
            w.WriteBoolean("foreign_key", c.ForeignKey);
            if (c.Default is null)
            {
                w.WriteNull("default");
            }
            else
            {
                w.WriteString("default", c.Default);
            }

            w.WriteString("extra", c.AutoIncrement ? "auto_increment" : string.Empty);
            if (c.Type == ColumnType.Enum && c.Enums is not null)
            {
                w.WriteStartArray("enums");
                foreach (var e in c.Enums)
                {
                    w.WriteStringValue(e);
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (table.PrimaryKey is null)
        {
            w.WriteNull("primary_key");
        }
        else
        {
            w.WriteString("primary_key", table.PrimaryKey);
        }

        w.WriteStartArray("relations");
        foreach (var r in table.Relations)
        {
            w.WriteStartObject();
            w.WriteString("table", r.Table);
            w.WriteString("column", r.Column);
            w.WriteString("org_table", r.OrgTable);
            w.WriteString("org_column", r.OrgColumn);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        TableResponse.WriteRequestId(w, requestId);
        w.WriteEndObject();
    }
}
