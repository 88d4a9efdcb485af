using System.Globalization;
using System.Text;
using Llana.Data.Schema;

namespace Llana.Data.Dialects;

/// Brings provider values to one set of CLR shapes, driven by the column's Llana type, so every
/// database produces the same JSON (SQLite stores dates as text and booleans as integers, MySQL
/// returns tinyint(1) as bool, PostgreSQL json as string…).
public static class ValueNormalizer
{
    public static object? Normalize(object value, ColumnSchema column) => column.Type switch
    {
        ColumnType.Number => ToNumber(value),
        ColumnType.Boolean => ToBoolean(value),
        ColumnType.Date => ToDate(value),
        ColumnType.Json => value is string s ? new JsonText(s) : ToText(value),
        _ => ToText(value),
    };

    private static object ToNumber(object value) => value switch
    {
        long or decimal or double => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        sbyte sb => (long)sb,
        uint ui => (long)ui,
        ushort us => (long)us,
        ulong ul => ul <= long.MaxValue ? (long)ul : (decimal)ul,
        float f => (double)f,
        bool b => b ? 1L : 0L,
        string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
        string s when decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => ToText(value),
    };

    private static object ToBoolean(object value) => value switch
    {
        bool b => b,
        long or int or short or byte or sbyte or ulong or uint or ushort => Convert.ToInt64(value, CultureInfo.InvariantCulture) != 0,
        decimal d => d != 0,
        string s => s is "1" or "true" or "TRUE" or "True" or "t",
        _ => ToText(value),
    };

    private static object ToDate(object value) => value switch
    {
        DateTime dt => AsUtc(dt),
        DateTimeOffset dto => dto.UtcDateTime,
        DateOnly d => d.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
        string s when TryParseDate(s, out var dt) => dt,
        long unixMs => DateTime.UnixEpoch.AddMilliseconds(unixMs),
        _ => ToText(value),
    };

    public static DateTime AsUtc(DateTime dt) => dt.Kind switch
    {
        DateTimeKind.Utc => dt,
        DateTimeKind.Local => dt.ToUniversalTime(),
        _ => DateTime.SpecifyKind(dt, DateTimeKind.Utc),
    };

    /// ISO-8601 and the `YYYY-MM-DD HH:mm:ss[.fff]` form databases use; values without an offset are UTC.
    public static bool TryParseDate(string s, out DateTime result)
    {
        if (DateTime.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out result))
        {
            result = DateTime.SpecifyKind(result, DateTimeKind.Utc);
            return true;
        }

        return false;
    }

    private static object ToText(object value) => value switch
    {
        string s => s,
        byte[] bytes => Encoding.UTF8.GetString(bytes),
        bool or long or int or short or decimal or double => value,
        DateTime dt => AsUtc(dt),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
