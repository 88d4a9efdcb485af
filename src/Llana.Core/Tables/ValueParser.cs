using System.Globalization;
using System.Text.Json;
using Llana.Data.Schema;

namespace Llana.Core.Tables;

/// Turns client input (query text or JSON body values) into typed values for a column, with Llana's messages.
internal static class ValueParser
{
    /// From query-string text (filters, ids).
    public static object? FromText(ColumnSchema column, string text)
    {
        switch (column.Type)
        {
            case ColumnType.Number:
                return ParseNumber(column, text) ?? throw Invalid($"{column.Field} must be a number");
            case ColumnType.Date:
                return Data.Dialects.ValueNormalizer.TryParseDate(text, out var date)
                    ? date
                    : throw Invalid($"{column.Field} must be a valid ISO 8601 date string");
            case ColumnType.Boolean:
                return text.ToLowerInvariant() switch
                {
                    "true" or "1" => true,
                    "false" or "0" => false,
                    _ => throw Invalid($"{column.Field} must be a boolean value"),
                };
            case ColumnType.Enum:
                return column.Enums is { Count: > 0 } values && !values.Contains(text)
                    ? throw Invalid($"{column.Field} must be one of the following values: {string.Join(", ", values)}")
                    : text;
            default:
                return text;
        }
    }

    /// From a JSON body value; returns an error message instead of throwing so all errors of an item can be joined.
    public static object? FromJson(ColumnSchema column, JsonElement value, out string? error)
    {
        error = null;
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        switch (column.Type)
        {
            case ColumnType.Number:
                var n = value.ValueKind switch
                {
                    JsonValueKind.Number => ParseNumber(column, value.GetRawText()),
                    JsonValueKind.String => ParseNumber(column, value.GetString()!),
                    JsonValueKind.True => 1L,
                    JsonValueKind.False => 0L,
                    _ => null,
                };
                error = n is null ? $"{column.Field} must be a number" : null;
                return n;
            case ColumnType.Boolean:
                object? b = value.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    JsonValueKind.Number when value.TryGetInt64(out var i) && i is 0 or 1 => i == 1,
                    JsonValueKind.String when value.GetString() is "true" or "false" => value.GetString() == "true",
                    _ => null,
                };
                error = b is null ? $"{column.Field} must be a boolean value" : null;
                return b;
            case ColumnType.Date:
                if (value.ValueKind == JsonValueKind.String && Data.Dialects.ValueNormalizer.TryParseDate(value.GetString()!, out var date))
                {
                    return date;
                }

                error = $"{column.Field} must be a valid ISO 8601 date string";
                return null;
            case ColumnType.Json:
                return value.GetRawText();
            case ColumnType.Enum:
                if (value.ValueKind == JsonValueKind.String && (column.Enums is not { Count: > 0 } || column.Enums.Contains(value.GetString()!)))
                {
                    return value.GetString();
                }

                error = column.Enums is { Count: > 0 }
                    ? $"{column.Field} must be one of the following values: {string.Join(", ", column.Enums)}"
                    : $"{column.Field} must be a string";
                return null;
            case ColumnType.String:
                if (value.ValueKind == JsonValueKind.String)
                {
                    return value.GetString();
                }

                error = $"{column.Field} must be a string";
                return null;
            default:
                return value.ValueKind switch
                {
                    JsonValueKind.String => value.GetString(),
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    JsonValueKind.Number => ParseNumber(column, value.GetRawText()),
                    _ => value.GetRawText(),
                };
        }
    }

    private static object? ParseNumber(ColumnSchema column, string text)
    {
        text = text.Trim();
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return l;
        }

        if (column.IsInteger)
        {
            // 5.0 is an integer; 5.5 is not.
            return decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var whole) && whole == decimal.Truncate(whole)
                && whole is >= long.MinValue and <= long.MaxValue
                ? (long)whole
                : null;
        }

        if (decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return d;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && double.IsFinite(f) ? f : null;
    }

    private static TableErrorException Invalid(string message) => new(TableError.BadRequest(message));
}
