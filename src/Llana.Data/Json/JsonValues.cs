using System.Globalization;
using System.Text.Json;
using Llana.Data.Dialects;

namespace Llana.Data.Json;

/// Writes normalised values (see <see cref="SqlDialect.ReadValue"/>) as Llana's JSON: numbers as numbers,
/// dates as ISO-8601 UTC with milliseconds, json columns as JSON.
public static class JsonValues
{
    public static void Write(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case decimal d:
                writer.WriteNumberValue(d);
                break;
            case double db when double.IsFinite(db):
                writer.WriteNumberValue(db);
                break;
            case double:
                writer.WriteNullValue();
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case DateTime dt:
                Span<char> buffer = stackalloc char[24];
                dt.TryFormat(buffer, out var written, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                writer.WriteStringValue(buffer[..written]);
                break;
            case JsonText json:
                WriteJsonText(writer, json.Value);
                break;
            default:
                writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static void WriteJsonText(Utf8JsonWriter writer, string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            doc.RootElement.WriteTo(writer);
        }
        catch (JsonException)
        {
            // Not valid JSON (possible in SQLite, which does not enforce it): return it as a string.
            writer.WriteStringValue(text);
        }
    }
}
