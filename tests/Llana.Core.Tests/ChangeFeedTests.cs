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
        var feed = new ChangeLog();
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
    public async Task Each_reader_reads_every_change_in_order_at_its_own_pace()
    {
        var log = new ChangeLog();
        using var fast = log.Read();
        using var slow = log.Read();
        var read = new List<long>();
        var consumer = Task.Run(async () =>
        {
            while (read.Count < 8000 && await fast.WaitToReadAsync(CancellationToken.None))
            {
                while (fast.TryRead(out var change))
                {
                    read.Add(change.Offset);
                }
            }
        });
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                log.Publish(Table, ChangeKind.Insert, [(long)i, "x"]);
            }
        })));
        await consumer.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Enumerable.Range(1, 8000).Select(i => (long)i), read);

        // The other reader has not read anything yet: all of it waits for it, nothing was lost.
        Assert.Equal(8000, slow.Backlog);
        Assert.True(slow.TryRead(out var first));
        Assert.Equal(1, first.Offset);
        Assert.Equal(0, slow.Skipped);
    }

    [Fact]
    public void A_reader_that_falls_out_of_the_window_skips_and_is_told_how_much()
    {
        var log = new ChangeLog(window: 16);
        using var reader = log.Read();
        for (var i = 0; i < 40; i++)
        {
            log.Publish(Table, i % 2 == 0 ? ChangeKind.Insert : ChangeKind.Update, [(long)i, "x"], remote: i % 2 == 1);
        }

        Assert.True(reader.TryRead(out var change));
        Assert.Equal(25, change.Offset); // the oldest of the last 16
        Assert.Equal(24, reader.Skipped);

        // Local changes are numbered without gaps, remote ones not at all: a consumer that shares local changes can
        // still show receivers where it skipped.
        Assert.Equal(13, change.LocalSequence);
        Assert.True(reader.TryRead(out var remote));
        Assert.Equal(0, remote.LocalSequence);
    }

    [Fact]
    public void A_change_names_its_key_as_a_string_and_unsubscribing_stops_delivery()
    {
        var feed = new ChangeLog();
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
