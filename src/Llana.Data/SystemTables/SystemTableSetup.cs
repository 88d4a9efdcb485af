using System.Data.Common;
using System.Globalization;
using System.Text;
using static Llana.Data.Sql.Statements;

namespace Llana.Data.SystemTables;

public static class SystemTableNames
{
    /// Every table whose name starts with this is Llana's own (admin-only unless a rule names it).
    public const string Prefix = "_llana_";

    public const string PublicTables = "_llana_public_tables";
    public const string Role = "_llana_role";
    public const string Webhook = "_llana_webhook";
    public const string WebhookLog = "_llana_webhook_log";
}

/// What boot needs to know to create and seed Llana's tables (spec §7.6, §11).
public sealed record SystemTableSettings(
    string? SoftDeleteColumn,
    bool Seed,
    bool Webhooks,
    string UserTable,
    string ApiKeyTable,
    string ApiKeyIdentityColumn);

/// Creates the missing `_llana_*` tables at boot with Llana's names, columns, enum values and defaults, and seeds the
/// auth tables when it created them. Existing tables are never altered, so a database made by Node Llana works as is.
/// Two instances booting at once are serialised by a database lock (transactional DDL on PostgreSQL and SQLite).
public static class SystemTableSetup
{
    private static readonly string[] Levels = ["READ", "WRITE", "DELETE"];
    private static readonly string[] RoleLevels = ["NONE", "READ", "WRITE", "DELETE"];
    private static readonly string[] HttpMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    private static readonly string[] Events = ["INSERT", "UPDATE", "DELETE"];

    /// Returns the names of the tables it created. The connection must be open; it is left open.
    public static async Task<IReadOnlyList<string>> EnsureAsync(DbConnection connection, DatabaseKind kind, SystemTableSettings settings, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(settings);
        if (kind == DatabaseKind.MySql)
        {
            await ScalarAsync(connection, null, "SELECT GET_LOCK('llana_system_tables', 60)", ct);
            try
            {
                return await CreateAsync(connection, null, kind, settings, ct);
            }
            finally
            {
                await ScalarAsync(connection, null, "SELECT RELEASE_LOCK('llana_system_tables')", CancellationToken.None);
            }
        }

        await using var tx = await connection.BeginTransactionAsync(ct);
        if (kind == DatabaseKind.Postgres)
        {
            await ScalarAsync(connection, tx, "SELECT pg_advisory_xact_lock(hashtext('llana_system_tables'))", ct);
        }

        var created = await CreateAsync(connection, tx, kind, settings, ct);
        await tx.CommitAsync(ct);
        if (connection is Npgsql.NpgsqlConnection pg)
        {
            // The data source learnt the database's types on its first connection; enum types made since (ours, or
            // the demo's) must be loaded before rows using them can be read.
            await pg.ReloadTypesAsync(ct);
        }

        return created;
    }

    private static async Task<IReadOnlyList<string>> CreateAsync(DbConnection c, DbTransaction? tx, DatabaseKind kind, SystemTableSettings s, CancellationToken ct)
    {
        var created = new List<string>();
        var d = new Ddl(kind);
        if (!await ExistsAsync(c, tx, kind, SystemTableNames.PublicTables, ct))
        {
            await CreateTableAsync(c, tx, d, SystemTableNames.PublicTables, s.SoftDeleteColumn, ct,
                d.Column("table", d.VarChar(255), notNull: true),
                d.Column("access_level", d.Enum(SystemTableNames.PublicTables, "access_level", Levels), notNull: true),
                d.Column("allowed_fields", d.VarChar(1020), notNull: false));
            created.Add(SystemTableNames.PublicTables);
            if (s.Seed)
            {
                await ExecuteAsync(c, tx, $"INSERT INTO {d.Q(SystemTableNames.PublicTables)} ({d.Q("table")}, {d.Q("access_level")}) VALUES (@table, 'READ')", ct, ("table", "Employee"));
            }
        }

        if (!await ExistsAsync(c, tx, kind, SystemTableNames.Role, ct))
        {
            await CreateTableAsync(c, tx, d, SystemTableNames.Role, s.SoftDeleteColumn, ct,
                d.Column("custom", d.Boolean, notNull: true),
                d.Column("table", d.VarChar(255), notNull: false),
                d.Column("identity_column", d.VarChar(255), notNull: false),
                d.Column("role", d.VarChar(255), notNull: true),
                d.Column("records", d.Enum(SystemTableNames.Role, "records", RoleLevels), notNull: true),
                d.Column("own_records", d.Enum(SystemTableNames.Role, "own_records", RoleLevels), notNull: false),
                d.Column("allowed_fields", d.VarChar(1020), notNull: false));
            created.Add(SystemTableNames.Role);
            if (s.Seed)
            {
                var insert = $"INSERT INTO {d.Q(SystemTableNames.Role)} ({d.Q("custom")}, {d.Q("table")}, {d.Q("identity_column")}, {d.Q("role")}, {d.Q("records")}, {d.Q("own_records")}) VALUES ";
                await ExecuteAsync(c, tx, insert + "(@custom, NULL, NULL, 'ADMIN', 'DELETE', NULL)", ct, ("custom", false));
                await ExecuteAsync(c, tx, insert + "(@custom, NULL, NULL, 'USER', 'READ', NULL)", ct, ("custom", false));
                await ExecuteAsync(c, tx, insert + "(@custom, @table, NULL, 'USER', 'NONE', 'WRITE')", ct, ("custom", true), ("table", s.UserTable));
                await ExecuteAsync(c, tx, insert + "(@custom, @table, @column, 'USER', 'NONE', 'WRITE')", ct, ("custom", true), ("table", s.ApiKeyTable), ("column", s.ApiKeyIdentityColumn));
            }
        }

        if (!s.Webhooks)
        {
            return created;
        }

        if (!await ExistsAsync(c, tx, kind, SystemTableNames.Webhook, ct))
        {
            await CreateTableAsync(c, tx, d, SystemTableNames.Webhook, s.SoftDeleteColumn, ct,
                d.Column("type", d.Enum(SystemTableNames.Webhook, "type", HttpMethods), notNull: true, "'POST'"),
                d.Column("url", d.VarChar(255), notNull: true),
                d.Column("table", d.VarChar(255), notNull: true),
                d.Column("user_identifier", d.VarChar(255), notNull: false),
                d.Column("on_create", d.Boolean, notNull: true, d.True),
                d.Column("on_update", d.Boolean, notNull: true, d.True),
                d.Column("on_delete", d.Boolean, notNull: true, d.True));
            created.Add(SystemTableNames.Webhook);
        }

        if (!await ExistsAsync(c, tx, kind, SystemTableNames.WebhookLog, ct))
        {
            // The log is not soft-deleted (spec §11): old rows are purged instead.
            await CreateTableAsync(c, tx, d, SystemTableNames.WebhookLog, null, ct,
                d.Column("webhook_id", "INT", notNull: true),
                d.Column("type", d.Enum(SystemTableNames.WebhookLog, "type", Events), notNull: true),
                d.Column("url", d.VarChar(255), notNull: true),
                d.Column("record_key", d.VarChar(255), notNull: true),
                d.Column("record_id", d.VarChar(255), notNull: true),
                d.Column("attempt", "INT", notNull: true, "1"),
                d.Column("delivered", d.Boolean, notNull: true, d.False),
                d.Column("response_status", "INT", notNull: false),
                d.Column("response_message", d.VarChar(1020), notNull: false),
                d.Column("created_at", d.DateTime, notNull: true, "CURRENT_TIMESTAMP"),
                d.Column("next_attempt_at", d.DateTime, notNull: false, "CURRENT_TIMESTAMP"),
                d.Column("delivered_at", d.DateTime, notNull: false),
                d.ForeignKey("webhook_id", SystemTableNames.Webhook, "id"));

            // Every node looks for due deliveries every second.
            await ExecuteAsync(c, tx, $"CREATE INDEX {d.Q("_llana_webhook_log_due")} ON {d.Q(SystemTableNames.WebhookLog)} ({d.Q("delivered")}, {d.Q("next_attempt_at")})", ct);
            created.Add(SystemTableNames.WebhookLog);
        }

        return created;
    }

    private static async Task CreateTableAsync(DbConnection c, DbTransaction? tx, Ddl d, string table, string? softDelete, CancellationToken ct, params string[] columns)
    {
        foreach (var statement in d.TakeTypeStatements())
        {
            await ExecuteAsync(c, tx, statement, ct);
        }

        var parts = new List<string> { d.IdColumn() };
        var definitions = columns.Where(col => !col.StartsWith("FOREIGN KEY", StringComparison.Ordinal)).ToList();
        parts.AddRange(definitions);

        // A configured soft-delete column that clashes with one of Llana's own columns is not added twice.
        if (softDelete is not null && !definitions.Exists(def => def.StartsWith(d.Q(softDelete) + " ", StringComparison.Ordinal)) && softDelete != "id")
        {
            parts.Add(d.Column(softDelete, d.VarChar(255), notNull: false));
        }

        parts.AddRange(columns.Where(col => col.StartsWith("FOREIGN KEY", StringComparison.Ordinal)));
        var sql = new StringBuilder("CREATE TABLE ").Append(d.Q(table)).Append(" (\n  ").AppendJoin(",\n  ", parts).Append("\n)");
        await ExecuteAsync(c, tx, sql.ToString(), ct);
    }

    private static async Task<bool> ExistsAsync(DbConnection c, DbTransaction? tx, DatabaseKind kind, string table, CancellationToken ct)
    {
        var sql = kind switch
        {
            DatabaseKind.Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = @table",
            DatabaseKind.Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = @table",
            _ => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = @table",
        };
        return Convert.ToInt64(await ScalarAsync(c, tx, sql, ct, ("table", table)), CultureInfo.InvariantCulture) > 0;
    }

    /// Column types and clauses per dialect, as Llana's boot DDL writes them (spec §11).
    private sealed class Ddl(DatabaseKind kind)
    {
        private readonly List<string> _types = [];

        public string Boolean => "BOOLEAN";

        public string True => kind == DatabaseKind.Postgres ? "true" : "1";

        public string False => kind == DatabaseKind.Postgres ? "false" : "0";

        public string DateTime => kind switch
        {
            DatabaseKind.Postgres => "TIMESTAMP",
            _ => "DATETIME",
        };

        public string Q(string identifier) => kind == DatabaseKind.MySql
            ? "`" + identifier.Replace("`", "``", StringComparison.Ordinal) + "`"
            : "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

        public string VarChar(int length) => "VARCHAR(" + length.ToString(CultureInfo.InvariantCulture) + ")";

        public string IdColumn() => kind switch
        {
            DatabaseKind.Sqlite => Q("id") + " INTEGER PRIMARY KEY AUTOINCREMENT",
            DatabaseKind.Postgres => Q("id") + " INT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            _ => Q("id") + " INT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        };

        /// MySQL: `ENUM(...)`; PostgreSQL: a `table_field_enum` type; SQLite: text with a CHECK the schema reader
        /// reads back as an enum. The CHECK needs the column name, so SQLite returns a marker completed by Column.
        public string Enum(string table, string field, string[] values)
        {
            var list = string.Join(",", values.Select(v => "'" + v + "'"));
            switch (kind)
            {
                case DatabaseKind.MySql:
                    return "ENUM(" + list + ")";
                case DatabaseKind.Postgres:
                    var type = Q($"{table}_{field}_enum");
                    _types.Add($"DO $$ BEGIN CREATE TYPE {type} AS ENUM ({list}); EXCEPTION WHEN duplicate_object THEN NULL; END $$");
                    return type;
                default:
                    return "VARCHAR(255) CHECK (" + Q(field) + " IN (" + list + "))";
            }
        }

        public IReadOnlyList<string> TakeTypeStatements()
        {
            var statements = _types.ToList();
            _types.Clear();
            return statements;
        }

        public string Column(string name, string type, bool notNull, string? defaultSql = null)
        {
            // SQLite's CHECK goes after NOT NULL/DEFAULT to keep the plain `col IN (...)` form.
            var check = "";
            var i = type.IndexOf(" CHECK ", StringComparison.Ordinal);
            if (i >= 0)
            {
                check = type[i..];
                type = type[..i];
            }

            var sb = new StringBuilder(Q(name)).Append(' ').Append(type).Append(notNull ? " NOT NULL" : " NULL");
            if (defaultSql is not null)
            {
                sb.Append(" DEFAULT ").Append(defaultSql);
            }

            return sb.Append(check).ToString();
        }

        public string ForeignKey(string column, string table, string referenced) =>
            $"FOREIGN KEY ({Q(column)}) REFERENCES {Q(table)} ({Q(referenced)})";
    }
}
