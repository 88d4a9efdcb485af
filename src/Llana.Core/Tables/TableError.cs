namespace Llana.Core.Tables;

/// A client-facing failure with Llana's status and text. <see cref="Json"/> selects the
/// `{"message","error"}` body (create, constraint violations) over the escaped plain-text body.
public sealed record TableError(int Status, string Message, string? Error = null, bool Json = false)
{
    public static TableError BadRequest(string message) => new(400, message);

    public static TableError NotFound(string table) => new(404, $"Error processing schema for {table}");

    public static TableError Unauthorized(string message) => new(401, message);
}

/// Thrown by the request parsers and caught once at the service boundary, where it becomes a response.
internal sealed class TableErrorException(TableError error) : Exception(error.Message)
{
    public TableError Error { get; } = error;
}
