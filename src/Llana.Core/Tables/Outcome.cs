namespace Llana.Core.Tables;

/// The result of one item of a write: an error, or the row (and how to show it).
internal sealed record Outcome(TableError? Error, RowProjection? Projection, object?[]? Values)
{
    public static Outcome Fail(TableError error) => new(error, null, null);

    public static Outcome Row(RowProjection? projection, object?[] values) => new(null, projection, values);
}

/// Per-item results of a bulk write: the failed items (by index in the request) and the rows written.
public sealed class BulkOutcome(int total)
{
    private readonly List<(int Item, TableError Error)> _errors = [];
    private readonly List<(RowProjection? Projection, object?[] Row)> _rows = [];

    public int Total { get; } = total;

    public int Successful => _rows.Count;

    public int Errored => _errors.Count;

    public IReadOnlyList<(int Item, TableError Error)> Errors => _errors;

    /// The rows written, with how to show each (none for a delete).
    public IReadOnlyList<(RowProjection? Projection, object?[] Row)> Rows => _rows;

    internal void Add(int item, Outcome outcome)
    {
        if (outcome.Error is { } error)
        {
            _errors.Add((item, error));
        }
        else
        {
            _rows.Add((outcome.Projection, outcome.Values!));
        }
    }
}
