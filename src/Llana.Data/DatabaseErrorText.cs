using System.Data.Common;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using MySqlConnector;
using Npgsql;

namespace Llana.Data;

/// A database error as an operator's log line needs it: the driver's message and the SQL state, without row values.
public static partial class DatabaseErrorText
{
    /// The driver's message (first line), with the offending value (and its quotes) replaced by `…` where drivers quote it:
    /// MySQL/MariaDB "Duplicate entry 'a@b.c' for key …", "Incorrect integer value: 'x' for column …",
    /// PostgreSQL `invalid input syntax for type integer: "x"`. PostgreSQL keeps row values in its Detail, left out.
    public static string Message(DbException e)
    {
        var text = e is PostgresException pg ? pg.MessageText : e.Message;
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        return QuotedValue().Replace(end >= 0 ? text[..end] : text, "${p}…");
    }

    /// The SQLSTATE (PostgreSQL, MySQL/MariaDB), else the SQLite extended result code (SQLite has no SQLSTATE).
    public static string State(DbException e) => e switch
    {
        { SqlState: { Length: > 0 } state } => e is MySqlException my ? $"{state} ({my.Number})" : state,
        SqliteException sqlite => "SQLite " + sqlite.SqliteExtendedErrorCode.ToString(CultureInfo.InvariantCulture),
        _ => e.ErrorCode.ToString(CultureInfo.InvariantCulture),
    };

    // Greedy up to the quote that ends the value, so a value holding quotes is still hidden whole.
    [GeneratedRegex("""(?<p>entry )'.*'(?= for key )|(?<p>value: )'.*'(?= for column |$)|(?<p>for type [^:"]+: )".*"$""")]
    private static partial Regex QuotedValue();
}
