using System.Text.Json;
using Llana.Core.Tables;

namespace Llana.Server.Http;

/// Llana's envelopes around what a table operation returns (spec §4): the list page with its `pagination`, the bulk
/// `{total, successful, errored, errors, data}`, the delete counts, the request id, and the status code.
internal sealed class TableResponse(TableResult result) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext) => result switch
    {
        ErrorResult error => HttpErrors.WriteErrorAsync(httpContext, error.Error),
        EmptyResult empty => Empty(httpContext, empty.Status),
        _ => HttpErrors.WriteJsonBodyAsync(httpContext, result.Status, w => Write(w, result)),
    };

    private static Task Empty(HttpContext context, int status)
    {
        context.Response.StatusCode = status;
        return Task.CompletedTask;
    }

    private static void Write(Utf8JsonWriter w, TableResult result)
    {
        switch (result)
        {
            case RowResult row:
                row.Projection.WriteRow(w, row.Row, row.RequestIdKey, row.RequestId);
                break;
            case PageResult page:
                w.WriteStartObject();
                w.WriteNumber("limit", page.Limit);
                w.WriteNumber("offset", page.Offset);
                w.WriteNumber("total", page.Total);
                w.WriteStartObject("pagination");
                w.WriteNumber("total", page.Rows.Count);
                WritePage(w, page.Limit, page.Offset, page.Total);
                w.WriteEndObject();
                w.WriteStartArray("data");
                foreach (var values in page.Rows)
                {
                    page.Projection.WriteRow(w, values);
                }

                w.WriteEndArray();
                WriteRequestId(w, page.RequestId);
                w.WriteEndObject();
                break;
            case BulkWriteResult bulk:
                w.WriteStartObject();
                w.WriteNumber("total", bulk.Outcome.Total);
                w.WriteNumber("successful", bulk.Outcome.Successful);
                w.WriteNumber("errored", bulk.Outcome.Errored);
                WriteErrors(w, bulk.Outcome);
                w.WriteStartArray("data");
                foreach (var (projection, values) in bulk.Outcome.Rows)
                {
                    projection!.WriteRow(w, values);
                }

                w.WriteEndArray();
                w.WriteEndObject();
                break;
            case DeleteResult { Outcome: null } one:
                w.WriteStartObject();
                w.WriteNumber("deleted", 1);
                WriteRequestId(w, one.RequestId);
                w.WriteEndObject();
                break;
            case DeleteResult { Outcome: { } outcome } many:
                w.WriteStartObject();
                w.WriteNumber("total", outcome.Total);
                w.WriteNumber("deleted", outcome.Successful);
                w.WriteNumber("errored", outcome.Errored);
                WriteErrors(w, outcome);
                WriteRequestId(w, many.RequestId);
                w.WriteEndObject();
                break;
            case TableNamesResult names:
                w.WriteStartObject();
                w.WriteStartArray("tables");
                foreach (var name in names.Names)
                {
                    w.WriteStringValue(name);
                }

                w.WriteEndArray();
                WriteRequestId(w, names.RequestId);
                w.WriteEndObject();
                break;
            case SchemaResult schema:
                SchemaWriter.Write(w, schema.Table, schema.Columns, schema.RequestId);
                break;
            default:
                throw new InvalidOperationException("No envelope for " + result.GetType().Name);
        }
    }

    private static void WriteErrors(Utf8JsonWriter w, BulkOutcome outcome)
    {
        w.WriteStartArray("errors");
        foreach (var (item, error) in outcome.Errors)
        {
            w.WriteStartObject();
            w.WriteNumber("item", item);
            w.WriteString("message", error.Message);
            if (error.Error is not null)
            {
                w.WriteString("error", error.Error);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    /// The envelope's `pagination.page` tokens, as the original computes them.
    private static void WritePage(Utf8JsonWriter w, int limit, int offset, long total)
    {
        w.WriteStartObject("page");
        w.WriteString("current", Pagination.Token(limit, offset));
        if (offset - limit < 0)
        {
            w.WriteNull("prev");
        }
        else
        {
            w.WriteString("prev", Pagination.Token(limit, offset - limit));
        }

        if (offset + limit >= total)
        {
            w.WriteNull("next");
        }
        else
        {
            w.WriteString("next", Pagination.Token(limit, offset + limit));
        }

        w.WriteString("first", Pagination.Token(limit, 0));
        w.WriteString("last", Pagination.Token(limit, total > limit ? total - limit : 0));
        w.WriteEndObject();
    }

    /// Llana's `_x_request_id`, echoed from the `x-request-id` header when one came.
    internal static void WriteRequestId(Utf8JsonWriter w, string? requestId)
    {
        if (requestId is not null)
        {
            w.WriteString("_x_request_id", requestId);
        }
    }
}
