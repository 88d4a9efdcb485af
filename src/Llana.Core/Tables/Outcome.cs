using System.Text.Json;

namespace Llana.Core.Tables;

/// The result of one item of a write: an error, or the row (and how to show it).
internal sealed record Outcome(TableError? Error, RowProjection? Projection, object?[]? Values)
{
    public static Outcome Fail(TableError error) => new(error, null, null);

    public static Outcome Row(RowProjection? projection, object?[] values) => new(null, projection, values);

    public Action<Utf8JsonWriter, string, string?>? Write =>
        Projection is null ? null : (w, key, requestId) => Projection.WriteRow(w, Values!, key, requestId);
}

/// Per-item results of a bulk write, in Llana's `{total, successful, errored, errors, data}` shape.
internal sealed class BulkOutcome(int total)
{
    private readonly List<(int Item, TableError Error)> _errors = [];
    private readonly List<Outcome> _rows = [];

    public int Total { get; } = total;

    public int Successful => _rows.Count;

    public int Errored => _errors.Count;

    public void Add(int item, Outcome outcome)
    {
        if (outcome.Error is { } error)
        {
            _errors.Add((item, error));
        }
        else
        {
            _rows.Add(outcome);
        }
    }

    public void WriteWrites(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("total", Total);
        w.WriteNumber("successful", Successful);
        w.WriteNumber("errored", Errored);
        WriteErrors(w);
        w.WriteStartArray("data");
        foreach (var row in _rows)
        {
            row.Projection!.WriteRow(w, row.Values!);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    public void WriteErrors(Utf8JsonWriter w)
    {
        w.WriteStartArray("errors");
        foreach (var (item, error) in _errors)
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
}
