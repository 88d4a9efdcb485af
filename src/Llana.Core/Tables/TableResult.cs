using System.Text.Json;

namespace Llana.Core.Tables;

/// What a table operation answers; the HTTP layer only maps it to a response.
public abstract record TableResult(int Status);

public sealed record ErrorResult(TableError Error) : TableResult(Error.Status);

/// A JSON body written straight to the response stream.
public sealed record JsonResult(int Status, Action<Utf8JsonWriter> Write) : TableResult(Status);

public sealed record EmptyResult(int Status) : TableResult(Status);

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
