using System.Text.Json;
using Llana.Core.Auth;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Data;
using Llana.Data.Schema;
using Llana.Data.SystemTables;
using Llana.Data.Webhooks;

namespace Llana.Core.Webhooks;

/// Decides which webhooks fire for a write (spec §9.2, with its recommendations) and queues them in the write's own
/// transaction, so a queued delivery exists exactly when the write committed. Definitions stay in memory; a write to
/// `_llana_webhook` seen on the change feed (this node's or, in a cluster, another's) drops them at once.
public sealed class WebhookQueue : IDisposable
{
    private readonly Database _database;
    private readonly SchemaCatalog _catalog;
    private readonly IAccessPolicy _access;
    private readonly WebhookOptions _options;
    private readonly LlanaOptions _llana;
    private readonly TimeProvider _time;
    private readonly IDisposable _subscription;
    private readonly SemaphoreSlim _loading = new(1, 1);
    private readonly Doorbell _doorbell = new();
    private volatile Definitions? _definitions;
    private WebhookStore? _store;
    private long _generation;

    public WebhookQueue(
        Database database, SchemaCatalog catalog, IAccessPolicy access, IChangeFeed feed, WebhookOptions options, LlanaOptions llana, TimeProvider time)
    {
        _database = database;
        _catalog = catalog;
        _access = access;
        _options = options;
        _llana = llana;
        _time = time;
        _subscription = feed.Subscribe(change =>
        {
            if (change.TableName == SystemTableNames.Webhook)
            {
                Interlocked.Increment(ref _generation);
                _definitions = null;
            }
        });
    }

    public WebhookOptions Options => _options;

    /// The store over the webhook tables, or null when there are none (`DISABLE_WEBHOOKS`).
    public WebhookStore? Store
    {
        get
        {
            if (_options.Disabled || _catalog.Find(SystemTableNames.Webhook) is not { } webhooks || _catalog.Find(SystemTableNames.WebhookLog) is not { } log)
            {
                return null;
            }

            var store = _store;
            if (store is null || !ReferenceEquals(store.Webhooks, webhooks) || !ReferenceEquals(store.Log, log))
            {
                _store = store = new WebhookStore(_database, webhooks, log, _llana.SoftDeleteColumn);
            }

            return store;
        }
    }

    /// The work that queues this write's deliveries inside its transaction, or null when no webhook can fire for it
    /// (then the write runs exactly as without webhooks). With `REALTIME_SOURCE=database` the change stream queues
    /// them (<see cref="ForCapturedAsync"/>), for API writes too: one source, so nothing is queued twice.
    public ValueTask<WriteHook?> ForWriteAsync(TableSchema table, ChangeKind kind, Caller caller, CancellationToken ct) =>
        _llana.RealtimeSource == RealtimeSource.Api ? HookAsync(table, kind, caller.UserId, anyWriter: false, ct) : ValueTask.FromResult<WriteHook?>(null);

    /// The work that queues the deliveries of a change read from the database's stream, in the transaction that records
    /// it as read. The writer is not known: a user's webhook fires for the changes of rows its owner may read.
    public ValueTask<WriteHook?> ForCapturedAsync(TableSchema table, ChangeKind kind, CancellationToken ct) =>
        HookAsync(table, kind, null, anyWriter: true, ct);

    private async ValueTask<WriteHook?> HookAsync(TableSchema table, ChangeKind kind, string? writer, bool anyWriter, CancellationToken ct)
    {
        if (Store is not { } store || table.PrimaryKeyColumn is not { } pk)
        {
            return null;
        }

        var candidates = (await DefinitionsAsync(store, ct)).For(table.Table)
            .Where(w => kind switch
            {
                ChangeKind.Insert => w.OnCreate,
                ChangeKind.Update => w.OnUpdate,
                _ => w.OnDelete,
            })
            .Where(w => anyWriter || w.UserIdentifier is null || w.UserIdentifier == writer)
            .ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var type = kind switch
        {
            ChangeKind.Insert => "INSERT",
            ChangeKind.Update => "UPDATE",
            _ => "DELETE",
        };
        var keyIndex = table.IndexOf(pk.Field);
        string RecordId(object?[] row) => RowChange.Format(row[keyIndex]) ?? string.Empty;

        // Each owner is decided once, before the write; an own-records rule is then checked on the written row.
        var chosen = new List<QueuedWebhook>();
        foreach (var webhook in candidates)
        {
            Func<object?[], bool>? fires = null;
            if (webhook.UserIdentifier is { } owner)
            {
                var decision = await _access.DecideAsync(Caller.User(owner), table, AccessLevel.Read, null, ct);
                if (!decision.Allowed)
                {
                    continue;
                }

                if (decision.Owner is { } restriction)
                {
                    fires = row => restriction.Matches(TableService.RowLookup(table, row));
                }
            }

            chosen.Add(new QueuedWebhook(webhook.Id, webhook.Url, fires));
        }

        return chosen.Count == 0 ? null : store.QueueFor(chosen, type, pk, RecordId, _time.GetUtcNow().UtcDateTime);
    }

    /// Why a write to `_llana_webhook` cannot be accepted (its `url` is not an absolute http or https URL), or null.
    public static string? Invalid(TableSchema table, IReadOnlyList<(ColumnSchema Column, object? Value)> values)
    {
        if (table.Table != SystemTableNames.Webhook)
        {
            return null;
        }

        foreach (var (column, value) in values)
        {
            if (column.Field == "url" && value is string url
                && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0))
            {
                return "url must be an absolute http or https URL";
            }
        }

        return null;
    }

    /// Wakes this node's delivery loop: a write queued deliveries (called after it committed).
    public void Notify() => _doorbell.Ring();

    /// Waits until <see cref="Notify"/>, <paramref name="timeout"/> or <paramref name="ct"/> (never throws).
    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => _doorbell.WaitAsync(timeout, ct);

    /// The webhook's HTTP method (POST when the webhook is gone or says nothing else).
    public async ValueTask<string> MethodAsync(long webhookId, CancellationToken ct) =>
        Store is { } store && (await DefinitionsAsync(store, ct)).ById.GetValueOrDefault(webhookId) is { } w ? w.Method : "POST";

    /// Llana's body (`{"webhook_id": delivery id, "type", "key": "id"}`), plus `row` with `WEBHOOK_INCLUDE_ROW`.
    public async Task<byte[]> BodyAsync(QueuedDelivery delivery, CancellationToken ct)
    {
        var row = _options.IncludeRow && delivery.Type != "DELETE" ? await RowAsync(delivery, ct) : null;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("webhook_id", delivery.Id);
            w.WriteString("type", delivery.Type);
            w.WriteString(delivery.RecordKey, delivery.RecordId);
            if (row is { } r)
            {
                w.WritePropertyName("row");
                r.Projection.WriteRow(w, r.Values);
            }

            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private async Task<(RowProjection Projection, object?[] Values)?> RowAsync(QueuedDelivery delivery, CancellationToken ct)
    {
        if (Store is not { } store || (await DefinitionsAsync(store, ct)).ById.GetValueOrDefault(delivery.WebhookId) is not { } webhook
            || _catalog.Find(webhook.Table) is not { } table || table.Column(delivery.RecordKey) is not { } key)
        {
            return null;
        }

        var owner = webhook.UserIdentifier;
        var decision = owner is null ? AccessDecision.AllowAll : await _access.DecideAsync(Caller.User(owner), table, AccessLevel.Read, null, ct);
        if (!decision.Allowed)
        {
            return null;
        }

        var row = await _database.FindByKeyAsync(table, key, ValueParser.FromText(key, delivery.RecordId), ct);
        if (row is null || (decision.Owner is { } restriction && !restriction.Matches(TableService.RowLookup(table, row))))
        {
            return null;
        }

        return (RowProjection.Create(table.Columns.Where(decision.Shows).ToList(), [], []), row);
    }

    private async ValueTask<Definitions> DefinitionsAsync(WebhookStore store, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        if (_definitions is { } cached && now - cached.LoadedAt < _options.CacheTtl)
        {
            return cached;
        }

        await _loading.WaitAsync(ct);
        try
        {
            if (_definitions is { } fresh && now - fresh.LoadedAt < _options.CacheTtl)
            {
                return fresh;
            }

            // A change seen while loading may not be in what was read: then the result serves this caller only.
            var generation = Interlocked.Read(ref _generation);
            var loaded = new Definitions(await store.LoadAsync(ct), now);
            if (Interlocked.Read(ref _generation) == generation)
            {
                _definitions = loaded;
            }

            return loaded;
        }
        finally
        {
            _loading.Release();
        }
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _loading.Dispose();
    }

    private sealed class Definitions(List<WebhookDefinition> all, DateTimeOffset loadedAt)
    {
        private readonly ILookup<string, WebhookDefinition> _byTable = all.ToLookup(w => w.Table, StringComparer.Ordinal);

        public DateTimeOffset LoadedAt { get; } = loadedAt;

        public Dictionary<long, WebhookDefinition> ById { get; } = all.ToDictionary(w => w.Id);

        public IEnumerable<WebhookDefinition> For(string table) => _byTable[table];
    }
}
