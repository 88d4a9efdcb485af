using System.Text.Json;
using Llana.Data.Dialects;
using Llana.Data.Json;
using Llana.Data.Schema;

namespace Llana.Core.Changes;

/// A full row as a JSON object (column → value) and back, for messages between nodes.
public static class RowJson
{
    public static void Write(Utf8JsonWriter w, TableSchema table, object?[] row)
    {
        w.WriteStartObject();
        for (var i = 0; i < table.Columns.Count; i++)
        {
            w.WritePropertyName(table.Columns[i].Field);
            JsonValues.Write(w, row[i]);
        }

        w.WriteEndObject();
    }

    /// Reads values back into the normalised shapes the dialects produce, so a row from another node
    /// formats and compares exactly like a local one. Unknown properties are ignored; missing ones are null.
    public static object?[] Read(TableSchema table, JsonElement json)
    {
        var row = new object?[table.Columns.Count];
        for (var i = 0; i < row.Length; i++)
        {
            if (json.TryGetProperty(table.Columns[i].Field, out var value))
            {
                row[i] = ReadValue(table.Columns[i], value);
            }
        }

        return row;
    }

    /// A primary-key value as peers send it: Node Llana sends ids as strings, also for numeric keys.
    public static object? ReadKey(ColumnSchema pk, JsonElement id)
    {
        if (id.ValueKind == JsonValueKind.String && pk.Type == ColumnType.Number)
        {
            var text = id.GetString();
            return long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var l) ? l
                : decimal.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d
                : null;
        }

        return ReadValue(pk, id);
    }

    public static object? ReadValue(ColumnSchema column, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ when column.Type == ColumnType.Json => new JsonText(value.GetRawText()),
        JsonValueKind.Number when value.TryGetInt64(out var l) => l,
        JsonValueKind.Number when value.TryGetDecimal(out var d) => d,
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.String when column.Type == ColumnType.Date && ValueNormalizer.TryParseDate(value.GetString()!, out var date) => date,
        JsonValueKind.String => value.GetString(),
        _ => new JsonText(value.GetRawText()),
    };
}
