using Llana.Core.Changes;
using Llana.Data.Schema;

namespace Llana.Core.Tests;

public sealed class ChangeFeedTests
{
    private static readonly TableSchema Table = new(
        "T",
        [
            new ColumnSchema("id", ColumnType.Number, "int", false, true, false, false, true, null) { IsInteger = true },
            new ColumnSchema("name", ColumnType.String, "text", true, false, false, false, false, null),
        ],
        "id",
        []);

    [Fact]
    public async Task Concurrent_publishers_get_distinct_increasing_offsets_seen_in_order()
    {
        var feed = new InMemoryChangeFeed();
        var seen = new List<long>();
        using var subscription = feed.Subscribe(c => seen.Add(c.Offset));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                feed.Publish(Table, ChangeKind.Insert, [(long)i, "x"]);
            }
        })));
        Assert.Equal(8000, seen.Count);
        Assert.Equal(Enumerable.Range(1, 8000).Select(i => (long)i), seen);
    }

    [Fact]
    public void A_change_names_its_key_as_a_string_and_unsubscribing_stops_delivery()
    {
        var feed = new InMemoryChangeFeed();
        var count = 0;
        var subscription = feed.Subscribe(_ => count++);
        var change = feed.Publish(Table, ChangeKind.Update, [101L, "Acme"]);
        Assert.Equal("101", change.Id);
        Assert.Equal("id", change.PrimaryKey);
        Assert.Equal("Acme", change["name"]);
        subscription.Dispose();
        feed.Publish(Table, ChangeKind.Delete, [101L, "Acme"]);
        Assert.Equal(1, count);
    }

    [Fact]
    public void Rows_cross_nodes_as_json_unchanged()
    {
        var table = new TableSchema(
            "T",
            [
                new ColumnSchema("id", ColumnType.Number, "int", false, true, false, false, true, null) { IsInteger = true },
                new ColumnSchema("price", ColumnType.Number, "decimal(10,2)", true, false, false, false, false, null),
                new ColumnSchema("at", ColumnType.Date, "timestamp", true, false, false, false, false, null),
                new ColumnSchema("ok", ColumnType.Boolean, "boolean", true, false, false, false, false, null),
                new ColumnSchema("doc", ColumnType.Json, "jsonb", true, false, false, false, false, null),
                new ColumnSchema("note", ColumnType.String, "text", true, false, false, false, false, null),
            ],
            "id",
            []);
        object?[] row = [5L, 10.01m, new DateTime(2025, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc), true, new Llana.Data.Dialects.JsonText("{\"a\":[1,2]}"), null];
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            RowJson.Write(w, table, row);
        }

        using var doc = System.Text.Json.JsonDocument.Parse(buffer.WrittenMemory);
        var back = RowJson.Read(table, doc.RootElement);
        Assert.Equal(row, back);
        Assert.Equal("{\"id\":5,\"price\":10.01,\"at\":\"2025-01-02T03:04:05.678Z\",\"ok\":true,\"doc\":{\"a\":[1,2]},\"note\":null}", System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
