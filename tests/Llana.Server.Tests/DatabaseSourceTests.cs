using System.Globalization;
using System.Text.RegularExpressions;
using Llana.Data;
using Llana.Server.Capture;
using Llana.Server.Tests.Infrastructure;

namespace Llana.Server.Tests;

/// `REALTIME_SOURCE=database` on PostgreSQL (issue: change capture): writes made by any connection, not only through
/// the API, reach socket.io clients once, in commit order, a transaction at a time.
public sealed partial class DatabaseSourceTests() : CaptureTests(DatabaseKind.Postgres)
{
    // Slots are named per PostgreSQL server, not per database: each test database gets its own.
    private string Slot => "llana_" + NonName().Replace(Database.Name.ToLowerInvariant(), "_")[..Math.Min(40, Database.Name.Length)];

    [GeneratedRegex("[^a-z0-9_]")]
    private static partial Regex NonName();

    protected override IEnumerable<KeyValuePair<string, string?>> SourceSettings => [new("REALTIME_SLOT", Slot)];

    protected override async Task<bool> ReaderHeldAsync() =>
        Convert.ToInt64(await Database.ScalarAsync($"SELECT COUNT(*) FROM pg_replication_slots WHERE slot_name = '{Slot}' AND active"), CultureInfo.InvariantCulture) > 0;

    /// Two nodes joined by Redis: A reads the stream, B stands by with a socket on `Customer`.
    private async Task<TwoNodes> TwoNodesAsync()
    {
        var redis = new RedisProcess();
        await redis.StartAsync();
        var clustered = new Dictionary<string, string?>(redis.Settings);
        var a = await StartAsync(clustered);
        var b = await StartStandbyAsync(clustered);
        return new TwoNodes(redis, a, b, await SubscribeAsync(b, "Customer"));
    }

    private sealed record TwoNodes(RedisProcess Redis, LlanaServer A, LlanaServer B, NodeSubscriber OnB) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await OnB.DisposeAsync();
            await B.DisposeAsync();
            await A.DisposeAsync();
            await Redis.DisposeAsync();
        }
    }

    /// What an operator does to drop a slot in use: cut its reader off, then drop it before the reader comes back.
    private async Task DropSlotAsOperatorAsync()
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            await Database.ExecuteAsync($"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{Slot}' AND active_pid IS NOT NULL");
            try
            {
                await Database.ExecuteAsync($"SELECT pg_drop_replication_slot('{Slot}')");
                return;
            }
            catch (Npgsql.PostgresException e) when (e.SqlState == "55006" && DateTime.UtcNow < until)
            {
                await Task.Delay(20);
            }
        }
    }

    protected override async Task<string> InsertAsync(string name)
    {
        await using var connection = await Database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO \"Customer\" (\"companyName\", \"userId\") VALUES ('{name}', 1) RETURNING \"custId\"";
        return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture)!;
    }

    [Fact]
    public async Task Writes_from_any_connection_reach_subscribers_once_in_commit_order_and_a_transaction_whole()
    {
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer");

        // A write made outside the API.
        var outside = await InsertAsync("Outside the API");
        Assert.Equal($"{{\"type\":\"INSERT\",\"custId\":\"{outside}\"}}", (await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == outside)).GetRawText());

        // One transaction of three rows, then an update and a delete, all by another connection.
        string[] ids;
        await using (var connection = await Database.OpenAsync())
        {
            await using var transaction = await connection.BeginTransactionAsync();
            ids = new string[3];
            for (var i = 0; i < 3; i++)
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = $"INSERT INTO \"Customer\" (\"companyName\", \"userId\") VALUES ('Batch {i}', 1) RETURNING \"custId\"";
                ids[i] = Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture)!;
            }

            await transaction.CommitAsync();
        }

        await Database.ExecuteAsync($"UPDATE \"Customer\" SET \"city\" = 'Oslo' WHERE \"custId\" = {ids[0]}");
        await Database.ExecuteAsync($"DELETE FROM \"Customer\" WHERE \"custId\" = {ids[1]}");

        // Through the API: exactly once (the API does not publish it a second time).
        var created = await server.Http.Post("/Customer/", new { companyName = "Through the API", userId = 1 });
        Assert.Equal(201, created.Status);
        var viaApi = created.Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture);

        var sentinel = await InsertAsync("Sentinel");
        await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == sentinel);
        var events = socket.Events.Where(e => e.Name == "Customer").Select(e => (Type: e.Payload.GetProperty("type").GetString(), Id: e.Payload.GetProperty("custId").GetString())).ToList();
        Assert.Equal(
            [("INSERT", outside), ("INSERT", ids[0]), ("INSERT", ids[1]), ("INSERT", ids[2]), ("UPDATE", ids[0]), ("DELETE", ids[1]), ("INSERT", viaApi), ("INSERT", sentinel)],
            events);
    }

    [Fact]
    public async Task Changes_made_while_no_node_reads_are_delivered_when_one_starts_again()
    {
        await using (await StartAsync())
        {
        }

        // The slot keeps its place while nobody reads: these are replayed to the next reader.
        var whileDown = await InsertAsync("While no node reads");
        await using var server = await StartAsync();
        using var onServer = new FeedProbe(server);
        var change = await onServer.WaitForAsync(c => c.TableName == "Customer" && c.Id == whileDown);
        Assert.Equal("While no node reads", change["companyName"]);
    }

    [Fact]
    public async Task A_second_node_stands_by_and_takes_over_when_the_reader_stops()
    {
        var a = await StartAsync();
        var b = await StartStandbyAsync();
        await using var _ = b;
        await Task.Delay(500);
        Assert.False(b.Get<ChangeCapture>().Reading);

        await a.DisposeAsync();
        await Poll.UntilAsync(() => b.Get<ChangeCapture>().Reading, TimeSpan.FromSeconds(30), "the standby did not take over within 30 s");

        using var onB = new FeedProbe(b);
        var id = await InsertAsync("After the takeover");
        await onB.WaitForAsync(c => c.TableName == "Customer" && c.Id == id);
    }

    [Fact]
    public async Task Captured_changes_are_judged_per_socket_like_api_writes()
    {
        await using var server = await StartAsync(new() { ["SKIP_AUTH"] = null, ["AUTH_LOGIN_RATE_LIMIT"] = "0" });
        // Users read their own customers only (a rule written through the API applies at once, from the stream or not).
        await server.OwnCustomersOnlyAsync("READ");
        await using var user = await server.UserSocketAsync("Customer");

        string Insert(long owner) => $"INSERT INTO \"Customer\" (\"companyName\", \"userId\") VALUES ('Owned', {owner}) RETURNING \"custId\"";
        var others = Convert.ToString(await Database.ScalarAsync(Insert(1)), CultureInfo.InvariantCulture);
        var own = Convert.ToString(await Database.ScalarAsync(Insert(2)), CultureInfo.InvariantCulture);
        await user.EventAsync("Customer", p => p.GetProperty("custId").GetString() == own);
        Assert.DoesNotContain(user.Events, e => e.Payload.GetProperty("custId").GetString() == others);
    }

    [Fact]
    public async Task In_a_cluster_the_reader_shares_captured_changes_with_the_other_nodes_once()
    {
        await using var cluster = await TwoNodesAsync();
        var (a, b, onB) = (cluster.A, cluster.B, cluster.OnB);

        var outside = await InsertAsync("Read by A, seen on B");
        var viaB = (await b.Http.Post("/Customer/", new { companyName = "Written through B", userId = 1 })).Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture);
        var sentinel = await InsertAsync("Sentinel");
        await onB.EventAsync("Customer", p => p.GetProperty("custId").GetString() == sentinel);
        Assert.Equal([outside, viaB, sentinel], onB.Events.Where(e => e.Name == "Customer").Select(e => e.Payload.GetProperty("custId").GetString()));
        Assert.False(b.Get<ChangeCapture>().Reading);
    }

    [Fact]
    public async Task A_stream_read_again_after_its_reader_was_cut_off_delivers_nothing_twice()
    {
        await using var cluster = await TwoNodesAsync();
        var (a, b, onB) = (cluster.A, cluster.B, cluster.OnB);

        // Twenty transactions in a burst: the reader confirms at most every 100 ms, so most are not confirmed when its
        // connection is killed. Whichever node reads next gets them again and must recognise them.
        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            ids.Add(await InsertAsync("Burst " + i));
        }

        await onB.EventAsync("Customer", p => p.GetProperty("custId").GetString() == ids[^1]);
        await Database.ExecuteAsync($"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{Slot}'");
        await Poll.UntilAsync(
            async () => (a.Get<ChangeCapture>().Reading || b.Get<ChangeCapture>().Reading) && Convert.ToInt64(await Database.ScalarAsync(
                $"SELECT COUNT(*) FROM pg_replication_slots WHERE slot_name = '{Slot}' AND active"), CultureInfo.InvariantCulture) > 0,
            TimeSpan.FromSeconds(30), "no node read the stream again within 30 s");

        var sentinel = await InsertAsync("Sentinel");
        await onB.EventAsync("Customer", p => p.GetProperty("custId").GetString() == sentinel);
        var got = onB.Events.Where(e => e.Name == "Customer").Select(e => e.Payload.GetProperty("custId").GetString()).ToList();
        Assert.Equal([.. ids, sentinel], got);
        var repeats = ((Core.Changes.ChangeLog)a.Get<Core.Changes.IChangeFeed>()).Repeats + ((Core.Changes.ChangeLog)b.Get<Core.Changes.IChangeFeed>()).Repeats;
        Assert.True(repeats > 0, "the stream was not read again: the test proved nothing");
    }

    [Fact]
    public async Task Webhooks_fire_once_per_streamed_change_even_when_the_stream_is_read_again()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var server = await StartAsync(new() { ["SKIP_AUTH"] = null, ["AUTH_LOGIN_RATE_LIMIT"] = "0" });
        using var admin = server.Admin();
        Assert.Equal(201, (await admin.Post("/webhook/", new { url = receiver.Url + "/stream", table = "Customer" })).Status);

        // Through the API and from outside it; then the reader is cut off before it confirmed the burst, and reads it again.
        var ids = new List<string> { (await admin.Post("/Customer/", new { companyName = "Through the API", userId = 1 })).Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture) };
        for (var i = 0; i < 20; i++)
        {
            ids.Add(await InsertAsync("Burst " + i));
        }

        // Cut off as soon as the burst is in the log: it confirms at most every 100 ms, so part of it is read again.
        using (var probe = new FeedProbe(server))
        {
            await probe.WaitForAsync(c => c.Id == ids[^1]);
        }

        await Database.ExecuteAsync($"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{Slot}'");
        await Poll.UntilAsync(
            async () => Convert.ToInt64(await Database.ScalarAsync($"SELECT COUNT(*) FROM pg_replication_slots WHERE slot_name = '{Slot}' AND active"), CultureInfo.InvariantCulture) > 0,
            TimeSpan.FromSeconds(30), "the stream was not read again within 30 s");
        ids.Add(await InsertAsync("Sentinel"));
        await receiver.WaitAsync("/stream", got => got.Any(r => r.Json.GetProperty("custId").GetString() == ids[^1]));
        await Task.Delay(1000);
        // Deliveries run concurrently: each id once, in any order.
        Assert.Equal(ids.Order(), receiver.To("/stream").Select(r => r.Json.GetProperty("custId").GetString()).Order());
        Assert.True(((Core.Changes.ChangeLog)server.Get<Core.Changes.IChangeFeed>()).Repeats > 0, "the stream was not read again: the test proved nothing");
    }

    [Fact]
    public async Task In_a_cluster_a_change_is_confirmed_to_PostgreSQL_only_once_it_is_in_the_Redis_log()
    {
        await using var redis = new RedisProcess();
        await redis.StartAsync();
        await using var a = await StartAsync(new Dictionary<string, string?>(redis.Settings));
        using var onA = new FeedProbe(a);

        async Task<ulong> ConfirmedAsync() => Convert.ToUInt64(await Database.ScalarAsync(
            $"SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{Slot}'"), CultureInfo.InvariantCulture);
        async Task<ulong> CurrentAsync() => Convert.ToUInt64(await Database.ScalarAsync("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"), CultureInfo.InvariantCulture);
        Task ConfirmedPastAsync(ulong lsn) => Poll.UntilAsync(async () => await ConfirmedAsync() >= lsn, TimeSpan.FromSeconds(30), "not confirmed within 30 s");

        var first = await InsertAsync("Shared");
        await ConfirmedPastAsync(await CurrentAsync());

        // Redis down: the change reaches this node's log (and its sockets) but cannot be shared, so it is not confirmed:
        // a node taking over now would read it again.
        await redis.StopAsync();
        var before = await ConfirmedAsync();
        var second = await InsertAsync("Not shared yet");
        var after = await CurrentAsync();
        await onA.WaitForAsync(c => c.TableName == "Customer" && c.Id == second);
        await Task.Delay(1000);
        Assert.Equal(before, await ConfirmedAsync());

        await redis.StartAsync();
        await ConfirmedPastAsync(after);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task A_table_created_while_running_streams_and_one_without_a_key_stays_writable()
    {
        await using var server = await StartAsync();
        await Database.ExecuteAsync("CREATE TABLE \"Gadget\" (\"gadgetId\" SERIAL PRIMARY KEY, \"name\" TEXT)");
        await Database.ExecuteAsync("CREATE TABLE \"Keyless\" (\"name\" TEXT)");
        await Poll.UntilAsync(
            async () => Convert.ToInt64(await Database.ScalarAsync("SELECT COUNT(*) FROM pg_publication_tables WHERE tablename = 'Gadget'"), CultureInfo.InvariantCulture) > 0,
            TimeSpan.FromSeconds(30), "Gadget did not join the publication within 30 s");

        await using var socket = await SubscribeAsync(server, "Gadget");
        var id = Convert.ToString(await Database.ScalarAsync("INSERT INTO \"Gadget\" (\"name\") VALUES ('new') RETURNING \"gadgetId\""), CultureInfo.InvariantCulture);
        await socket.EventAsync("Gadget", p => p.GetProperty("gadgetId").GetString() == id);

        // Publishing a table without a key would make PostgreSQL refuse its updates and deletes.
        await Database.ExecuteAsync("INSERT INTO \"Keyless\" VALUES ('a')");
        await Database.ExecuteAsync("UPDATE \"Keyless\" SET \"name\" = 'b'");
        await Database.ExecuteAsync("DELETE FROM \"Keyless\"");
        Assert.Equal(0L, Convert.ToInt64(await Database.ScalarAsync("SELECT COUNT(*) FROM pg_publication_tables WHERE tablename = 'Keyless'"), CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_transaction_of_100000_rows_arrives_whole_or_the_socket_is_told()
    {
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer");
        await Database.ExecuteAsync("INSERT INTO \"Customer\" (\"companyName\", \"userId\") SELECT 'Bulk ' || g, 1 FROM generate_series(1, 100000) g");
        var sentinel = await InsertAsync("After the bulk");

        await AssertAllOrToldAsync(socket, sentinel, 100_001);

        Assert.Equal(200, (await server.Http.Get("/Customer/?limit=1")).Status);
    }

    [Fact]
    public async Task The_slot_is_dropped_on_request_once_no_server_reads_it()
    {
        var settings = new Dictionary<string, string?> { ["DATABASE_URI"] = Database.Uri, ["REALTIME_SLOT"] = Slot };
        async Task<long> SlotsAsync() => Convert.ToInt64(await Database.ScalarAsync($"SELECT COUNT(*) FROM pg_replication_slots WHERE slot_name = '{Slot}'"), CultureInfo.InvariantCulture);
        await using (var server = await StartAsync())
        {
            var refused = new StringWriter();
            Assert.Equal(1, await LlanaHost.DropRealtimeCaptureAsync(settings, TextWriter.Null, refused));
            Assert.Contains("stop every server using it first", refused.ToString(), StringComparison.Ordinal);
            Assert.Equal(1, await SlotsAsync());
        }

        var output = new StringWriter();
        Assert.Equal(0, await LlanaHost.DropRealtimeCaptureAsync(settings, output, TextWriter.Null));
        Assert.Contains($"Dropped replication slot {Slot} and publication llana", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, await SlotsAsync());
        Assert.Equal(0L, Convert.ToInt64(await Database.ScalarAsync("SELECT COUNT(*) FROM pg_publication WHERE pubname = 'llana'"), CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_slot_dropped_by_an_operator_is_made_again_and_sockets_are_told_to_refetch()
    {
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer");
        var before = await InsertAsync("Before the drop");
        await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == before);

        await DropSlotAsOperatorAsync();

        var lost = await InsertAsync("Lost with the slot");
        var disconnect = await socket.WaitForAsync(l => NodeSubscriber.Is(l, "disconnect"), "a disconnect", TimeSpan.FromSeconds(30));
        Assert.Equal("io server disconnect", disconnect.GetProperty("reason").GetString());
        Assert.DoesNotContain(socket.Events, e => e.Payload.GetProperty("custId").GetString() == lost);

        // Made again, the stream goes on for new clients.
        await using var again = await SubscribeAsync(server, "Customer");
        var after = await InsertAsync("After the drop");
        await again.EventAsync("Customer", p => p.GetProperty("custId").GetString() == after);
    }

    [Fact]
    public async Task In_a_cluster_a_dropped_slot_makes_every_nodes_sockets_refetch()
    {
        await using var cluster = await TwoNodesAsync();
        var (a, b, onB) = (cluster.A, cluster.B, cluster.OnB);
        var before = await InsertAsync("Before the drop");
        await onB.EventAsync("Customer", p => p.GetProperty("custId").GetString() == before);

        await DropSlotAsOperatorAsync();

        // Whichever node makes the slot again tells the other over Redis.
        var disconnect = await onB.WaitForAsync(l => NodeSubscriber.Is(l, "disconnect"), "a disconnect", TimeSpan.FromSeconds(30));
        Assert.Equal("io server disconnect", disconnect.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_publication_dropped_by_an_operator_is_survived_and_sockets_are_told()
    {
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer");
        var before = await InsertAsync("Before the drop");
        await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == before);

        await Database.ExecuteAsync("DROP PUBLICATION llana");
        await InsertAsync("While there is no publication");
        var disconnect = await socket.WaitForAsync(l => NodeSubscriber.Is(l, "disconnect"), "a disconnect", TimeSpan.FromSeconds(30));
        Assert.Equal("io server disconnect", disconnect.GetProperty("reason").GetString());

        await using var again = await SubscribeAsync(server, "Customer");
        var after = await InsertAsync("After the drop");
        await again.EventAsync("Customer", p => p.GetProperty("custId").GetString() == after);
    }

    [Fact]
    public async Task A_row_over_1_MB_and_an_update_that_leaves_it_untouched_arrive()
    {
        await Database.ExecuteAsync("CREATE TABLE \"Document\" (\"documentId\" SERIAL PRIMARY KEY, \"title\" TEXT, \"body\" TEXT)");
        await using var server = await StartAsync();
        await using var ids = NodeSubscriber.Start(server.Address, new { auth = new Dictionary<string, string> { ["x-llana-table"] = "Document" } });
        await using var rows = NodeSubscriber.Start(server.Address, new { auth = new Dictionary<string, object> { ["x-llana-table"] = "Document", ["x-llana-rows"] = true } });
        await ids.ConnectedAsync();
        await rows.ConnectedAsync();

        var id = Convert.ToString(await Database.ScalarAsync(
            "INSERT INTO \"Document\" (\"title\", \"body\") VALUES ('big', repeat(md5(random()::text), 40000)) RETURNING \"documentId\""), CultureInfo.InvariantCulture);
        await ids.EventAsync("Document", p => p.GetProperty("documentId").GetString() == id);
        var inserted = await rows.EventAsync("Document", p => p.GetProperty("documentId").GetString() == id);
        Assert.Equal(1_280_000, inserted.GetProperty("row").GetProperty("body").GetString()!.Length);

        // The large value is stored out of line and not in the stream when an update leaves it alone.
        await Database.ExecuteAsync($"UPDATE \"Document\" SET \"title\" = 'renamed' WHERE \"documentId\" = {id}");
        await ids.EventAsync("Document", p => p.GetProperty("type").GetString() == "UPDATE");
        var updated = await rows.EventAsync("Document", p => p.GetProperty("type").GetString() == "UPDATE");
        Assert.False(updated.TryGetProperty("row", out _), "a row whose large value is unknown must not be sent with it as null");
        Assert.Equal(200, (await server.Http.Get("/Document/?limit=1&fields=documentId")).Status);
    }

    [Fact]
    public async Task Start_up_names_the_fix_when_the_role_may_not_replicate()
    {
        var role = "llana_norepl_" + Guid.NewGuid().ToString("N")[..8];
        await Database.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD 'pw' NOREPLICATION");
        try
        {
            var uri = new UriBuilder(Database.Uri) { UserName = role, Password = "pw" }.Uri.ToString();
            var e = await Assert.ThrowsAsync<StartupException>(() => LlanaServer.StartAsync(uri, new Dictionary<string, string?> { ["SKIP_AUTH"] = "true", ["REALTIME_SOURCE"] = "database" }));
            Assert.Contains($"ALTER ROLE \"{role}\" REPLICATION", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            await Database.ExecuteAsync($"DROP ROLE {role}");
        }
    }
}
