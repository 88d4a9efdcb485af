using System.Data.Common;
using System.Text.Json;
using Llana.Core.Auth;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Webhooks;
using Llana.Data;
using Llana.Data.Dialects;
using Llana.Data.Schema;
using Llana.Data.Sql;
using Microsoft.Extensions.Logging;

namespace Llana.Core.Tables;

/// The table use cases (spec §4): list, get, create, update, delete, schema. Each one resolves the table,
/// asks <see cref="IAccessPolicy"/> once, validates input against the schema, runs dialect SQL, publishes
/// committed writes to the change feed and returns what it found or did (<see cref="TableResult"/>); relations are
/// <see cref="RelationLoader"/>'s, and the HTTP envelopes are written by the server.
public sealed partial class TableService(
    Database database, SchemaCatalog catalog, IAccessPolicy access, IChangeFeed feed, IdentityWrites identity, WebhookQueue webhooks, LlanaOptions options,
    TimeProvider time, ILogger<TableService> logger)
{
    private const int MaxBulkItems = 1000;
    private readonly RelationLoader _relations = new(database, access, options);

    public IReadOnlySet<string> NonFilterParameters { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    public Task<TableResult> ListTablesAsync(TableRequest request, CancellationToken ct)
    {
        var names = catalog.Tables.Select(t => t.Table)
            .Where(n => !n.StartsWith("_llana_", StringComparison.Ordinal) && n != "atlas_schema_revisions")
            .Order(StringComparer.Ordinal).ToList();
        return Task.FromResult<TableResult>(new TableNamesResult(names, request.RequestId));
    }

    public Task<TableResult> SchemaAsync(string tableName, TableRequest request, CancellationToken ct) => Run(async () =>
    {
        var table = await FindTableAsync(tableName, ct);
        var decision = await DecideAsync(request.Caller, table, AccessLevel.Read, null, ct);
        var columns = table.Columns.Where(c => c.PrimaryKey || decision.AllowedFields?.Contains(c.Field) != false).ToList();
        return new SchemaResult(table, columns, request.RequestId);
    });

    public Task<TableResult> ListAsync(string tableName, TableRequest request, CancellationToken ct) => Run(async () =>
    {
        var table = await FindTableAsync(tableName, ct);
        var decision = await DecideAsync(request.Caller, table, AccessLevel.Read, null, ct);
        var query = QueryParser.Parse(table, request.Query, catalog.Find, options.DefaultLimit, options.MaxLimit, withFilters: true, NonFilterParameters);
        var projection = await ProjectAsync(table, query, decision, request.Caller, ct);
        var filters = ReadFilters(table, query.Filters, decision);
        var (total, rows) = await database.SelectPageAsync(
            new SelectQuery(table, projection.Select, filters, query.Sort, query.Limit, query.Offset), ct);
        await _relations.FetchAsync(projection, rows, ct);
        return new PageResult(projection, rows, query.Limit, query.Offset, total, request.RequestId);
    });

    public Task<TableResult> GetAsync(string tableName, string id, TableRequest request, CancellationToken ct) => Run(async () =>
    {
        var table = await FindTableAsync(tableName, ct);
        var decision = await DecideAsync(request.Caller, table, AccessLevel.Read, null, ct);
        var pk = PrimaryKey(table);
        var key = ValueParser.FromText(pk, id);
        var query = QueryParser.Parse(table, request.Query, catalog.Find, options.DefaultLimit, options.MaxLimit, withFilters: false, NonFilterParameters);
        var projection = await ProjectAsync(table, query, decision, request.Caller, ct);
        var filters = ReadFilters(table, [new Filter(pk, FilterOperator.Equals, key)], decision);
        var rows = await database.SelectAsync(table, projection.Select, filters, [], ct);
        if (rows.Count == 0)
        {
            return new EmptyResult(204);
        }

        await _relations.FetchAsync(projection, rows, ct);
        return new RowResult(200, projection, rows[0], "_x_request_id", request.RequestId);
    });

    public Task<TableResult> CreateAsync(string tableName, JsonElement body, TableRequest request, CancellationToken ct) => Run(async () =>
    {
        var table = await FindTableAsync(tableName, ct);
        if (body.ValueKind == JsonValueKind.Array)
        {
            var items = BulkItems(body);
            var bulk = new BulkOutcome(items.Count);
            for (var i = 0; i < items.Count; i++)
            {
                var outcome = await CreateOneAsync(table, items[i], request.Caller, ct);
                bulk.Add(i, outcome);
            }

            return new BulkWriteResult(201, bulk);
        }

        if (body.ValueKind != JsonValueKind.Object)
        {
            return Json(400, "Body must be an object or an array of objects");
        }

        var one = await CreateOneAsync(table, body, request.Caller, ct);
        return one.Error is { } error
            ? new ErrorResult(error.Status == 401 ? error : error with { Json = true })
            : new RowResult(201, one.Projection!, one.Values!, "x_request_id", request.RequestId);
    });

    public Task<TableResult> UpdateAsync(string tableName, string? id, JsonElement body, TableRequest request, CancellationToken ct) => Run(async () =>
    {
        var table = await FindTableAsync(tableName, ct);
        var pk = PrimaryKey(table);
        if (id is null)
        {
            if (body.ValueKind != JsonValueKind.Array)
            {
                return Text(400, "Body must be an array");
            }

            var items = BulkItems(body);
            var bulk = new BulkOutcome(items.Count);
            for (var i = 0; i < items.Count; i++)
            {
                var item = items[i];
                var outcome = item.ValueKind == JsonValueKind.Object && item.TryGetProperty(pk.Field, out var keyJson)
                    ? await UpdateOneAsync(table, KeyFromJson(pk, keyJson), item, request.Caller, ct)
                    : Outcome.Fail(TableError.BadRequest($"{pk.Field} is required to update a record"));
                bulk.Add(i, outcome);
            }

            return new BulkWriteResult(200, bulk);
        }

        if (body.ValueKind != JsonValueKind.Object)
        {
            return Text(400, "Body must be an object");
        }

        var one = await UpdateOneAsync(table, ValueParser.FromText(pk, id), body, request.Caller, ct);
        return one.Error is { } error ? new ErrorResult(error) : new RowResult(200, one.Projection!, one.Values!, "_x_request_id", request.RequestId);
    });

    public Task<TableResult> DeleteAsync(string tableName, string? id, JsonElement body, TableRequest request, CancellationToken ct) => Run(async () =>
    {
        var table = await FindTableAsync(tableName, ct);
        var pk = PrimaryKey(table);
        var hard = request.QueryValue("hard") is { } h && h is not ("false" or "0");
        if (id is not null)
        {
            var one = await DeleteOneAsync(table, ValueParser.FromText(pk, id), hard, request.Caller, ct);
            return one.Error is { } error ? new ErrorResult(error) : new DeleteResult(null, request.RequestId);
        }

        if (body.ValueKind != JsonValueKind.Array)
        {
            return Text(400, "Body must be an array");
        }

        // Keys are validated up front: one bad key rejects the request before anything is deleted.
        var items = BulkItems(body);
        var keys = new object?[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            keys[i] = items[i].ValueKind == JsonValueKind.Object && items[i].TryGetProperty(pk.Field, out var k)
                ? KeyFromJson(pk, k)
                : throw new TableErrorException(TableError.BadRequest($"{pk.Field} is required to delete a record"));
        }

        var bulk = new BulkOutcome(items.Count);
        for (var i = 0; i < keys.Length; i++)
        {
            bulk.Add(i, await DeleteOneAsync(table, keys[i], hard, request.Caller, ct));
        }

        return new DeleteResult(bulk, request.RequestId);
    });

    private async Task<Outcome> CreateOneAsync(TableSchema table, JsonElement item, Caller caller, CancellationToken ct)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            return Outcome.Fail(TableError.BadRequest("Each item must be an object"));
        }

        var values = BodyValues(table, item, out var invalid);
        if ((invalid ?? (WebhookQueue.Invalid(table, values) is { } problem ? TableError.BadRequest(problem) : null)) is { } error)
        {
            return Outcome.Fail(error);
        }

        var decision = await access.DecideAsync(caller, table, AccessLevel.Write, ItemLookup(values), ct);
        if (!decision.Allowed)
        {
            return Outcome.Fail(TableError.Unauthorized(decision.Denial!));
        }

        if (identity.Prepare(table, values, decision) is { } identityDenial)
        {
            return Outcome.Fail(TableError.Unauthorized(identityDenial));
        }

        WriteHook? hook;
        object?[] row;
        try
        {
            hook = await webhooks.ForWriteAsync(table, ChangeKind.Insert, caller, ct);
            row = await database.InsertAsync(table, values, ct, hook);
        }
        catch (DbException e)
        {
            return Outcome.Fail(MapWriteError(e, "Error creating record", "inserting"));
        }

        Committed(table, ChangeKind.Insert, row, hook);
        return Outcome.Row(FullRow(table, decision), row);
    }

    private async Task<Outcome> UpdateOneAsync(TableSchema table, object? key, JsonElement item, Caller caller, CancellationToken ct)
    {
        var pk = table.PrimaryKeyColumn!;
        var values = BodyValues(table, item, out var invalid);
        if ((invalid ?? (WebhookQueue.Invalid(table, values) is { } problem ? TableError.BadRequest(problem) : null)) is { } error)
        {
            return Outcome.Fail(error);
        }

        var decision = await access.DecideAsync(caller, table, AccessLevel.Write, null, ct);
        if (!decision.Allowed)
        {
            return Outcome.Fail(TableError.Unauthorized(decision.Denial!));
        }

        // An own-records rule holds for the new values too: a row cannot be handed to someone else.
        if (decision.Owner is { } owner && values.Exists(v => v.Column == owner.Column) && !owner.Matches(ItemLookup(values)))
        {
            var denied = await access.DecideAsync(caller, table, AccessLevel.Write, ItemLookup(values), ct);
            return Outcome.Fail(TableError.Unauthorized(denied.Denial ?? "Permission denied"));
        }

        if (identity.Prepare(table, values, decision) is { } identityDenial)
        {
            return Outcome.Fail(TableError.Unauthorized(identityDenial));
        }

        var where = WriteFilters(pk, key, decision);
        WriteHook? hook = null;
        object?[]? row;
        try
        {
            hook = values.Count == 0 ? null : await webhooks.ForWriteAsync(table, ChangeKind.Update, caller, ct);
            row = values.Count == 0
                ? (await database.SelectAsync(table, table.Columns, where, [], ct)).FirstOrDefault()
                : await database.UpdateAsync(table, where, values, ct, hook);
        }
        catch (DbException e)
        {
            return Outcome.Fail(MapWriteError(e, "Error updating record", "updating"));
        }

        if (row is null)
        {
            return Outcome.Fail(await MissOrDeniedAsync(table, pk, key, decision, caller, AccessLevel.Write, ct));
        }

        if (values.Count > 0)
        {
            Committed(table, ChangeKind.Update, row, hook);
        }

        return Outcome.Row(FullRow(table, decision), row);
    }

    private async Task<Outcome> DeleteOneAsync(TableSchema table, object? key, bool hard, Caller caller, CancellationToken ct)
    {
        var pk = table.PrimaryKeyColumn!;
        var decision = await access.DecideAsync(caller, table, AccessLevel.Delete, null, ct);
        if (!decision.Allowed)
        {
            return Outcome.Fail(TableError.Unauthorized(decision.Denial!));
        }

        var where = WriteFilters(pk, key, decision);
        var soft = hard ? null : options.SoftDeleteColumnOf(table);
        WriteHook? hook;
        object?[]? row;
        try
        {
            hook = await webhooks.ForWriteAsync(table, ChangeKind.Delete, caller, ct);
            row = soft is null
                ? await database.DeleteAsync(table, where, ct, hook)
                : await database.UpdateAsync(table, where, [(soft, database.Dialect.SoftDeleteNow(soft, time.GetUtcNow().UtcDateTime))], ct, hook);
        }
        catch (DbException e)
        {
            return Outcome.Fail(MapWriteError(e, "Error deleting record", "deleting"));
        }

        if (row is null)
        {
            return Outcome.Fail(await MissOrDeniedAsync(table, pk, key, decision, caller, AccessLevel.Delete, ct));
        }

        Committed(table, ChangeKind.Delete, row, hook);
        return Outcome.Row(null, row);
    }

    /// A write committed: it enters the change log, and queued webhook deliveries are sent promptly.
    private void Committed(TableSchema table, ChangeKind kind, object?[] row, WriteHook? webhookHook)
    {
        // With the database as the source the change arrives from its stream; caches must still see it now.
        if (options.RealtimeSource == RealtimeSource.Api)
        {
            feed.Publish(table, kind, row);
        }
        else
        {
            feed.Observe(table, kind, row);
        }

        if (webhookHook is not null)
        {
            webhooks.Notify();
        }
    }

    /// A write matched no row: either the record does not exist (400) or an own-records rule hid it (401).
    private async Task<TableError> MissOrDeniedAsync(
        TableSchema table, ColumnSchema pk, object? key, AccessDecision decision, Caller caller, AccessLevel level, CancellationToken ct)
    {
        var notFound = TableError.BadRequest($"Record with id {RowChange.Format(key)} not found");
        if (decision.Owner is null)
        {
            return notFound;
        }

        var existing = await database.FindByKeyAsync(table, pk, key, ct);
        if (existing is null)
        {
            return notFound;
        }

        var denied = await access.DecideAsync(caller, table, level, RowLookup(table, existing), ct);
        return TableError.Unauthorized(denied.Denial ?? "Permission denied");
    }

    /// The columns a read returns (the caller's allowed fields of those asked for) and the relations to attach.
    private async Task<RowProjection> ProjectAsync(TableSchema table, ParsedQuery query, AccessDecision decision, Caller caller, CancellationToken ct)
    {
        var requested = query.Fields ?? (IReadOnlyList<ColumnSchema>)table.Columns;
        var visible = requested.Where(decision.Shows).ToList();
        var (joinColumns, attached) = await _relations.PlanAsync(table, query, decision, caller, ct);
        return RelationLoader.Attach(table, RowProjection.Create(visible, joinColumns, attached));
    }

    private List<Filter> ReadFilters(TableSchema table, List<Filter> filters, AccessDecision decision)
    {
        options.ExcludingDeleted(table, filters);
        if (decision.Owner is { } owner)
        {
            filters.Add(owner.Filter);
        }

        return filters;
    }

    private static List<Filter> WriteFilters(ColumnSchema pk, object? key, AccessDecision decision)
    {
        var where = new List<Filter> { new(pk, FilterOperator.Equals, key) };
        if (decision.Owner is { } owner)
        {
            where.Add(owner.Filter);
        }

        return where;
    }

    private static RowProjection FullRow(TableSchema table, AccessDecision decision) =>
        RowProjection.Create(table.Columns.Where(decision.Shows).ToList(), [], []);

    private static List<(ColumnSchema Column, object? Value)> BodyValues(TableSchema table, JsonElement item, out TableError? error)
    {
        error = null;
        var values = new List<(ColumnSchema, object?)>();
        List<string>? problems = null;
        foreach (var property in item.EnumerateObject())
        {
            if (table.Column(property.Name) is not { } column)
            {
                error = TableError.BadRequest($"Unknown column: {property.Name}");
                return values;
            }

            var value = ValueParser.FromJson(column, property.Value, out var problem);
            if (problem is not null)
            {
                (problems ??= []).Add(problem);
            }

            values.RemoveAll(v => v.Item1 == column);
            values.Add((column, value));
        }

        if (problems is not null)
        {
            error = TableError.BadRequest(string.Join(", ", problems));
        }

        return values;
    }

    private static object? KeyFromJson(ColumnSchema pk, JsonElement value) =>
        ValueParser.FromJson(pk, value, out var problem) is { } key && problem is null
            ? key
            : throw new TableErrorException(TableError.BadRequest(problem ?? $"{pk.Field} must not be null"));

    private static List<JsonElement> BulkItems(JsonElement array)
    {
        var count = array.GetArrayLength();
        return count > MaxBulkItems
            ? throw new TableErrorException(TableError.BadRequest($"Too many items: at most {MaxBulkItems} per request"))
            : array.EnumerateArray().ToList();
    }

    private static Func<string, object?> ItemLookup(List<(ColumnSchema Column, object? Value)> values) =>
        name => values.Find(v => v.Column.Field == name).Value;

    /// Column → value over a full row of <paramref name="table"/>.
    internal static Func<string, object?> RowLookup(TableSchema table, object?[] row) =>
        name => table.IndexOf(name) is >= 0 and var i ? row[i] : null;

    private TableError MapWriteError(DbException e, string generic, string verb)
    {
        var type = database.Dialect.Classify(e);
        LogWriteFailed(logger, type?.ToString() ?? "unclassified", DatabaseErrorText.Message(e), DatabaseErrorText.State(e));
        return type switch
        {
            DatabaseErrorType.DuplicateRecord => new TableError(400, "DUPLICATE_RECORD", $"Error {verb} record as a duplicate already exists", true),
            DatabaseErrorType.ForeignKeyViolation => new TableError(400, "FOREIGN_KEY_VIOLATION", "Foreign key constraint violation", true),
            DatabaseErrorType.NotNullViolation => new TableError(400, "NOT_NULL_VIOLATION", "Cannot insert null value into required field", true),
            DatabaseErrorType.CheckConstraintViolation => new TableError(400, "CHECK_CONSTRAINT_VIOLATION", "Check constraint violation", true),
            DatabaseErrorType.InvalidValue => new TableError(400, "INVALID_VALUE", "A value does not fit its column (type, length or range)", true),
            DatabaseErrorType.Unavailable => e is DatabaseUnavailableException ? TableError.Unavailable : TableError.WriteOutcomeUnknown,
            _ => TableError.BadRequest(generic),
        };
    }

    private async ValueTask<TableSchema> FindTableAsync(string name, CancellationToken ct) =>
        await catalog.FindAsync(name, ct) ?? throw new TableErrorException(TableError.NotFound(name));

    private async ValueTask<AccessDecision> DecideAsync(Caller caller, TableSchema table, AccessLevel level, Func<string, object?>? row, CancellationToken ct)
    {
        var decision = await access.DecideAsync(caller, table, level, row, ct);
        return decision.Allowed ? decision : throw new TableErrorException(TableError.Unauthorized(decision.Denial!));
    }

    private static ColumnSchema PrimaryKey(TableSchema table) =>
        table.PrimaryKeyColumn ?? throw new TableErrorException(TableError.BadRequest($"No primary key found for table {table.Table}"));

    private async Task<TableResult> Run(Func<Task<TableResult>> operation)
    {
        try
        {
            return await operation();
        }
        catch (TableErrorException e)
        {
            return new ErrorResult(e.Error);
        }
        catch (DbException e)
        {
            LogReadFailed(logger, DatabaseErrorText.Message(e), DatabaseErrorText.State(e));
            return new ErrorResult(database.Dialect.Classify(e) switch
            {
                DatabaseErrorType.InvalidValue => TableError.BadRequest("Invalid value for the column type"),
                DatabaseErrorType.Unavailable => TableError.Unavailable,
                _ => TableError.BadRequest("Error finding records"),
            });
        }
    }

    private static ErrorResult Json(int status, string message) => new(new TableError(status, message, Json: true));

    private static ErrorResult Text(int status, string message) => new(new TableError(status, message));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Write failed ({Type}): {Error} (SQL state {SqlState})")]
    private static partial void LogWriteFailed(ILogger logger, string type, string error, string sqlState);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Read failed: {Error} (SQL state {SqlState})")]
    private static partial void LogReadFailed(ILogger logger, string error, string sqlState);
}
