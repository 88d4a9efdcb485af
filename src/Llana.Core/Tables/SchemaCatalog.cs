using Llana.Core.Options;
using Llana.Data;
using Llana.Data.Schema;
using Microsoft.Extensions.Logging;

namespace Llana.Core.Tables;

/// The introspected schema, loaded at boot and kept in memory. It is re-read in the background when older than
/// `CACHE_TABLE_SCHEMA_TTL`, and at most every few seconds when a request names a table it does not know
/// (so a table created after boot appears without a restart, and random names cannot hammer the database).
public sealed partial class SchemaCatalog(Database database, LlanaOptions options, TimeProvider time, ILogger<SchemaCatalog> logger)
{
    private static readonly TimeSpan MissRefreshInterval = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile Snapshot _snapshot = new(new Dictionary<string, TableSchema>(), DateTime.MinValue);

    public IReadOnlyCollection<TableSchema> Tables => _snapshot.Tables.Values;

    /// Readiness: the schema has been read at least once.
    public bool IsLoaded => _snapshot.LoadedAt != DateTime.MinValue;

    public async Task LoadAsync(CancellationToken ct)
    {
        var tables = await database.ReadSchemaAsync(ct);
        _snapshot = new Snapshot(tables.Select(MarkWriteOnly).ToDictionary(t => t.Table, StringComparer.Ordinal), time.GetUtcNow().UtcDateTime);
    }

    /// The password column is write-only everywhere (responses, relations, realtime rows, profile), whatever the rules.
    private TableSchema MarkWriteOnly(TableSchema table) =>
        table.Table == options.Auth.UserTable && table.Columns.Any(c => c.Field == options.Auth.PasswordField)
            ? table with { Columns = table.Columns.Select(c => c.Field == options.Auth.PasswordField ? c with { WriteOnly = true } : c).ToList() }
            : table;

    /// The table named in a URL (`webhook` is Llana's alias for `_llana_webhook`), or null.
    public async ValueTask<TableSchema?> FindAsync(string name, CancellationToken ct)
    {
        if (name == "webhook")
        {
            name = "_llana_webhook";
        }

        var snapshot = _snapshot;
        var age = time.GetUtcNow().UtcDateTime - snapshot.LoadedAt;
        if (snapshot.Tables.TryGetValue(name, out var table))
        {
            if (age > options.SchemaCacheTtl)
            {
                _ = RefreshAsync(snapshot);
            }

            return table;
        }

        if (age > MissRefreshInterval)
        {
            await RefreshAsync(snapshot);
            return _snapshot.Tables.GetValueOrDefault(name);
        }

        return null;
    }

    public TableSchema? Find(string name) => _snapshot.Tables.GetValueOrDefault(name);

    private async Task RefreshAsync(Snapshot seen)
    {
        if (!await _reload.WaitAsync(0))
        {
            return;
        }

        try
        {
            if (ReferenceEquals(seen, _snapshot))
            {
                await LoadAsync(CancellationToken.None);
            }
        }
        catch (Exception e)
        {
            // Keep serving the schema we have; the next refresh will try again.
            LogRefreshFailed(logger, e.GetType().Name);
            _snapshot = seen with { LoadedAt = time.GetUtcNow().UtcDateTime };
        }
        finally
        {
            _reload.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schema refresh failed ({Error}); keeping the previous schema")]
    private static partial void LogRefreshFailed(ILogger logger, string error);

    private sealed record Snapshot(Dictionary<string, TableSchema> Tables, DateTime LoadedAt);
}
