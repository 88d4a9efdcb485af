using Llana.Data.Schema;

namespace Llana.Core.Tables;

/// What a table operation found or did, as data; `Llana.Server/Http` writes Llana's envelopes and status codes.
public abstract record TableResult(int Status);

public sealed record ErrorResult(TableError Error) : TableResult(Error.Status);

/// No body (204: no such record).
public sealed record EmptyResult(int Status) : TableResult(Status);

/// The names of the tables the API exposes (`GET /tables`).
public sealed record TableNamesResult(IReadOnlyList<string> Names, string? RequestId) : TableResult(200);

/// A table's columns as the caller may see them (`GET /{table}/schema`).
public sealed record SchemaResult(TableSchema Table, IReadOnlyList<ColumnSchema> Columns, string? RequestId) : TableResult(200);

/// One page of a list: the rows, and where the page is among <see cref="Total"/> matching rows.
public sealed record PageResult(RowProjection Projection, IReadOnlyList<object?[]> Rows, int Limit, int Offset, long Total, string? RequestId)
    : TableResult(200);

/// One row (read, created or updated). Llana names the request id `x_request_id` after a create and `_x_request_id`
/// everywhere else.
public sealed record RowResult(int Status, RowProjection Projection, object?[] Row, string RequestIdKey, string? RequestId) : TableResult(Status);

/// A bulk create or update: each item's error or row.
public sealed record BulkWriteResult(int Status, BulkOutcome Outcome) : TableResult(Status);

/// A delete: of one row (<see cref="Outcome"/> null), or a bulk delete's per-item outcomes.
public sealed record DeleteResult(BulkOutcome? Outcome, string? RequestId) : TableResult(200);

/// The request facts a table operation needs: who asks, the query parameters in order, and `x-request-id`.
public sealed record TableRequest(Auth.Caller Caller, IReadOnlyList<KeyValuePair<string, string>> Query, string? RequestId)
{
    public string? QueryValue(string name) => LastValue(Query, name);

    /// The last value of a query parameter (a repeated single-valued parameter: the last one wins).
    public static string? LastValue(IReadOnlyList<KeyValuePair<string, string>> query, string name)
    {
        string? value = null;
        foreach (var (k, v) in query)
        {
            if (k == name)
            {
                value = v;
            }
        }

        return value;
    }
}
