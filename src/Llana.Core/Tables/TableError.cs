namespace Llana.Core.Tables;

/// A client-facing failure with Llana's status and text. <see cref="Json"/> selects the
/// `{"message","error"}` body (create, constraint violations) over the escaped plain-text body.
public sealed record TableError(int Status, string Message, string? Error = null, bool Json = false)
{
    /// Seconds a client should wait before retrying (`Retry-After`), for 503s.
    public int? RetryAfter { get; init; }

    /// The database is unreachable or overloaded (spec: a client mistake stays 4xx; this is not one).
    public static readonly TableError Unavailable = new(503, "DATABASE_UNAVAILABLE", "The database is unavailable; try again shortly", true) { RetryAfter = 5 };

    /// As <see cref="Unavailable"/>, for a write whose outcome the server could not learn: it may have been applied.
    public static readonly TableError WriteOutcomeUnknown = new(503, "DATABASE_UNAVAILABLE",
        "The database became unavailable during the write, which may or may not have been applied: read the record before retrying", true)
    { RetryAfter = 5 };

    public static TableError BadRequest(string message) => new(400, message);

    public static TableError NotFound(string table) => new(404, $"Error processing schema for {table}");

    public static TableError Unauthorized(string message) => new(401, message);
}

/// Thrown by the request parsers and caught once at the service boundary, where it becomes a response.
internal sealed class TableErrorException(TableError error) : Exception(error.Message)
{
    public TableError Error { get; } = error;
}
