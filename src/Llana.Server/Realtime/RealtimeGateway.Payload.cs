using Llana.Core.Changes;
using Llana.Data.Json;
using Llana.SocketIO;

namespace Llana.Server.Realtime;

/// The event payload of a change.
internal sealed partial class RealtimeGateway
{
    /// Written straight into the event's packet, once per distinct payload (the same bytes then go to every socket).
    private static JsonArgument Payload(RowChange change, bool withRow, IReadOnlySet<string>? fields) => new(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", change.Kind switch { ChangeKind.Insert => "INSERT", ChangeKind.Update => "UPDATE", _ => "DELETE" });
        if (change.PrimaryKey is { } pk)
        {
            w.WriteString(pk, change.Id);
        }

        // A partial change knows its key only (a key-only delete, a large value the update left alone, a peer that
        // sends ids): no `row` rather than a row of made-up nulls; the client fetches it if it needs it.
        if (withRow && !change.Partial)
        {
            w.WriteStartObject("row");
            for (var i = 0; i < change.Table.Columns.Count; i++)
            {
                var column = change.Table.Columns[i];
                if (!column.WriteOnly && fields?.Contains(column.Field) != false)
                {
                    w.WritePropertyName(column.Field);
                    JsonValues.Write(w, change.Row[i]);
                }
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    });
}

