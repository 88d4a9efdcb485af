using System.Collections.Concurrent;
using System.Diagnostics;
using Llana.Core.Changes;
using Llana.Data;
using Llana.Data.Demo;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;
using StackExchange.Redis;

namespace Llana.Server.Tests;

/// Several instances over one database and one Redis: every change reaches every node's feed exactly once.
public sealed class ClusterTests : IAsyncLifetime
{
    private readonly RedisProcess _redis = new();
    private TestDatabase _database = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        await using var connection = await _database.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(connection, DatabaseKind.Sqlite, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _database.DisposeAsync();
    }

    private Task<LlanaServer> StartNodeAsync() => LlanaServer.StartAsync(_database.Uri, new Dictionary<string, string?>(_redis.Settings) { ["SKIP_AUTH"] = "true" });

    [Fact]
    public async Task A_write_on_one_node_reaches_the_other_once_with_its_row_and_is_not_echoed_back()
    {
        await _redis.StartAsync();
        await using var a = await StartNodeAsync();
        await using var b = await StartNodeAsync();
        using var onA = new FeedRecorder(a);
        using var onB = new FeedRecorder(b);

        var created = await a.Http.Post("/Customer/", new { companyName = "Cluster Co", userId = 1, city = "Oslo" });
        Assert.Equal(201, created.Status);
        var id = created.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var remote = await onB.WaitForAsync(c => c.Id == id);
        Assert.True(remote.Remote);
        Assert.False(remote.Partial);
        Assert.Equal(ChangeKind.Insert, remote.Kind);
        Assert.Equal("Cluster Co", remote["companyName"]);
        Assert.Equal(1L, remote["userId"]);

        // One more write, then A must still have seen exactly one change per write (its own, local).
        await b.Http.Put($"/Customer/{id}", new { city = "Bergen" });
        var update = await onA.WaitForAsync(c => c.Id == id && c.Kind == ChangeKind.Update);
        Assert.True(update.Remote);
        Assert.Equal("Bergen", update["city"]);
        Assert.Single(onA.All, c => c.Id == id && c.Kind == ChangeKind.Insert);
        Assert.Single(onB.All, c => c.Id == id && c.Kind == ChangeKind.Update);
    }

    [Fact]
    public async Task A_webhook_created_or_changed_on_one_node_applies_at_once_on_the_other()
    {
        await _redis.StartAsync();
        await using var receiver = await WebhookReceiver.StartAsync();

        // Definitions are kept for an hour: only the change arriving over Redis can make the other node see them.
        var settings = new Dictionary<string, string?>(_redis.Settings) { ["SKIP_AUTH"] = "true", ["CACHE_WEBHOOKS_TTL"] = "1h", ["WEBHOOK_POLL_INTERVAL"] = "100ms" };
        await using var a = await LlanaServer.StartAsync(_database.Uri, settings);
        await using var b = await LlanaServer.StartAsync(_database.Uri, settings);
        using var onB = new FeedRecorder(b);
        Assert.Equal(201, (await b.Http.Post("/Customer/", new { companyName = "Before any webhook", userId = 1 })).Status);

        var created = await a.Http.Post("/webhook/", new { url = receiver.Url + "/ok/cluster", table = "Customer" });
        Assert.Equal(201, created.Status);
        var webhook = created.Json.GetProperty("id").GetInt64();
        await onB.WaitForAsync(c => c.TableName == "_llana_webhook" && c.Kind == ChangeKind.Insert);
        var first = await b.Http.Post("/Customer/", new { companyName = "After the webhook", userId = 1 });
        var firstId = first.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var got = await receiver.WaitAsync("/ok/cluster", r => r.Count >= 1);
        Assert.Equal(firstId, got[0].Json.GetProperty("custId").GetString());

        Assert.Equal(200, (await a.Http.Put($"/webhook/{webhook}", new { on_create = false })).Status);
        await onB.WaitForAsync(c => c.TableName == "_llana_webhook" && c.Kind == ChangeKind.Update);
        Assert.Equal(201, (await b.Http.Post("/Customer/", new { companyName = "Creates no longer fire", userId = 1 })).Status);
        var updated = await b.Http.Put($"/Customer/{firstId}", new { city = "Oslo" });
        Assert.Equal(200, updated.Status);
        got = await receiver.WaitAsync("/ok/cluster", r => r.Count >= 2);
        await Task.Delay(300);
        Assert.Equal(["INSERT", "UPDATE"], receiver.To("/ok/cluster").Select(r => r.Json.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task A_socket_on_one_node_gets_exactly_one_event_for_a_write_on_another_even_across_a_redis_restart()
    {
        await _redis.StartAsync();
        await using var a = await StartNodeAsync();
        await using var b = await StartNodeAsync();
        await using var onA = NodeSubscriber.Start(a.Address, new { auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer" } });
        await onA.ConnectedAsync();

        var first = await b.Http.Post("/Customer/", new { companyName = "Written on B", userId = 1 });
        var id = first.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal($"{{\"type\":\"INSERT\",\"custId\":\"{id}\"}}", (await onA.EventAsync("Customer")).GetRawText());

        await _redis.StopAsync();
        var local = await a.Http.Post("/Customer/", new { companyName = "Written on A during the outage", userId = 1 });
        var localId = local.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        await onA.EventAsync("Customer", p => p.GetProperty("custId").GetString() == localId);
        await _redis.StartAsync();
        using var onANode = new FeedRecorder(a);
        await ResumesAsync(b, onANode, "Back");

        // Every change the socket got, it got once.
        var ids = onA.Events.Where(e => e.Name == "Customer").Select(e => e.Payload.GetProperty("custId").GetString()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public async Task Changes_made_while_redis_is_down_reach_the_other_node_once_when_it_returns()
    {
        await _redis.StartAsync();
        await using var a = await StartNodeAsync();
        await using var b = await StartNodeAsync();
        await using var onB = NodeSubscriber.Start(b.Address, new { auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer" } });
        await onB.ConnectedAsync();
        var before = await a.Http.Post("/Customer/", new { companyName = "Before the outage", userId = 1 });
        var beforeId = before.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        await onB.EventAsync("Customer", p => p.GetProperty("custId").GetString() == beforeId);

        await _redis.StopAsync();
        var written = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            var r = await a.Http.Post("/Customer/", new { companyName = $"During the outage {i}", userId = 1 });
            Assert.Equal(201, r.Status);
            written.Add(r.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        await _redis.StartAsync();
        await onB.EventAsync("Customer", p => p.GetProperty("custId").GetString() == written[^1]);
        var received = onB.Events.Where(e => e.Name == "Customer").Select(e => e.Payload.GetProperty("custId").GetString()!).ToList();
        Assert.Equal([beforeId, .. written], received);
        Assert.Equal(0, onB.Count(l => NodeSubscriber.Is(l, "disconnect")));
    }

    [Fact]
    public async Task Sockets_are_told_to_refetch_when_changes_from_another_node_are_lost_for_good()
    {
        await _redis.StartAsync();
        await using var link = new TcpProxy { Target = new Uri($"http://127.0.0.1:{_redis.Port}") };
        await using var a = await StartNodeAsync();
        var viaLink = new Dictionary<string, string?>(_redis.Settings) { ["SKIP_AUTH"] = "true", ["REDIS_PORT"] = link.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        await using var b = await LlanaServer.StartAsync(_database.Uri, viaLink);
        await using var onB = NodeSubscriber.Start(b.Address, new { auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer" } });
        await onB.ConnectedAsync();
        using var onBNode = new FeedRecorder(b);
        await ResumesAsync(a, onBNode, "Linked");

        // B is cut off while A writes; then Redis loses its log (a restart without persistence) before B is back.
        link.Target = null;
        link.Cut();
        await a.Http.Post("/Customer/", new { companyName = "Missed by B", userId = 1 });
        await a.Http.Post("/Customer/", new { companyName = "Missed by B too", userId = 1 });
        await using (var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redis.Port},allowAdmin=true"))
        {
            await admin.GetServer("127.0.0.1", _redis.Port).FlushAllDatabasesAsync();
        }

        link.Target = new Uri($"http://127.0.0.1:{_redis.Port}");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (onB.Count(l => NodeSubscriber.Is(l, "disconnect")) == 0)
        {
            // The next change from A shows B the hole in A's numbering.
            Assert.True(DateTime.UtcNow < deadline, "the socket was never told");
            await a.Http.Post("/Customer/", new { companyName = "After", userId = 1 });
            await Task.Delay(300);
        }

        var disconnect = await onB.WaitForAsync(l => NodeSubscriber.Is(l, "disconnect"), "disconnect");
        Assert.Equal("io server disconnect", disconnect.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_client_whose_node_dies_resumes_on_another_and_gets_what_it_missed_once()
    {
        await _redis.StartAsync();
        var a = await StartNodeAsync();
        await using var b = await StartNodeAsync();
        await using var balancer = new TcpProxy { Target = a.Address };
        await using var client = NodeSubscriber.Start(balancer.Address, new
        {
            auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer" },
            transports = new[] { "websocket" },
            reconnectionDelay = 300,
            reconnectionDelayMax = 300,
        });
        await client.ConnectedAsync();
        var seen = await a.Http.Post("/Customer/", new { companyName = "Seen on A", userId = 1 });
        var seenId = seen.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        await client.EventAsync("Customer", p => p.GetProperty("custId").GetString() == seenId);

        // Node A dies: its connections drop and nothing reaches it any more.
        balancer.Target = null;
        balancer.Cut();
        await a.DisposeAsync();
        await client.WaitForAsync(l => NodeSubscriber.Is(l, "disconnect"), "disconnect");

        var missed = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var r = await b.Http.Post("/Customer/", new { companyName = $"Missed {i}", userId = 1 });
            missed.Add(r.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        balancer.Target = b.Address;
        await client.WaitForAsync(l => NodeSubscriber.Is(l, "connect"), "reconnect to B", TimeSpan.FromSeconds(15), skip: 1);
        var after = await b.Http.Post("/Customer/", new { companyName = "After", userId = 1 });
        var afterId = after.Json.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var id in missed.Append(afterId))
        {
            await client.EventAsync("Customer", p => p.GetProperty("custId").GetString() == id);
        }

        var ids = client.Events.Where(e => e.Name == "Customer").Select(e => e.Payload.GetProperty("custId").GetString()).ToList();
        Assert.Equal([seenId, .. missed, afterId], ids);
    }

    [Fact]
    public async Task A_message_from_node_llana_is_delivered_reading_the_row_it_lacks()
    {
        await _redis.StartAsync();
        await using var a = await StartNodeAsync();
        using var onA = new FeedRecorder(a);
        await using var redis = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_redis.Port}");
        var publisher = redis.GetSubscriber();
        await publisher.PublishAsync(RedisChannel.Literal("websockets"), "{\"tableName\":\"Customer\",\"publishType\":\"UPDATE\",\"primaryKey\":\"custId\",\"id\":\"2\"}");
        var update = await onA.WaitForAsync(c => c.Id == "2");
        Assert.True(update.Remote);
        Assert.False(update.Partial);
        Assert.NotNull(update["companyName"]);

        await publisher.PublishAsync(RedisChannel.Literal("websockets"), "{\"tableName\":\"Customer\",\"publishType\":\"DELETE\",\"primaryKey\":\"custId\",\"id\":\"999\"}");
        var delete = await onA.WaitForAsync(c => c.Id == "999");
        Assert.Equal(ChangeKind.Delete, delete.Kind);
        Assert.True(delete.Partial);

        await publisher.PublishAsync(RedisChannel.Literal("websockets"), "{not json");
        await publisher.PublishAsync(RedisChannel.Literal("websockets"), "{\"tableName\":\"Nope\",\"publishType\":\"INSERT\",\"primaryKey\":\"id\",\"id\":\"1\"}");
        await publisher.PublishAsync(RedisChannel.Literal("websockets"), "{\"tableName\":\"Customer\",\"publishType\":\"INSERT\",\"primaryKey\":\"custId\",\"id\":\"3\"}");
        await onA.WaitForAsync(c => c.Id == "3");
        Assert.DoesNotContain(onA.All, c => c.TableName == "Nope");
    }

    [Fact]
    public async Task Without_redis_writes_stay_prompt_and_cross_node_delivery_resumes_when_it_returns()
    {
        await using var a = await StartNodeAsync();
        await using var b = await StartNodeAsync();
        using var onA = new FeedRecorder(a);
        using var onB = new FeedRecorder(b);

        var clock = Stopwatch.StartNew();
        var created = await a.Http.Post("/Customer/", new { companyName = "No Redis", userId = 1 });
        Assert.Equal(201, created.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"write took {clock.Elapsed}");
        await onA.WaitForAsync(c => c["companyName"] as string == "No Redis");

        await _redis.StartAsync();
        await ResumesAsync(a, onB, "After start");

        await _redis.StopAsync();
        var during = await a.Http.Post("/Customer/", new { companyName = "During outage", userId = 1 });
        Assert.Equal(201, during.Status);
        await _redis.StartAsync();
        await ResumesAsync(a, onB, "After restart");
    }

    // Writes on `a` until one reaches `b` (reconnection takes a few retries).
    private static async Task ResumesAsync(LlanaServer a, FeedRecorder onB, string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        for (var i = 0; DateTime.UtcNow < deadline; i++)
        {
            var companyName = $"{name} {i}";
            await a.Http.Post("/Customer/", new { companyName, userId = 1 });
            if (await onB.TryWaitForAsync(c => c["companyName"] as string == companyName, TimeSpan.FromMilliseconds(500)) is not null)
            {
                return;
            }
        }

        Assert.Fail($"{name}: cross-node delivery did not resume within 30 s");
    }

    private sealed class FeedRecorder : IDisposable
    {
        private readonly ConcurrentQueue<RowChange> _changes = new();
        private readonly IDisposable _subscription;
        private readonly SemaphoreSlim _signal = new(0);

        public FeedRecorder(LlanaServer server) => _subscription = server.Get<IChangeFeed>().Subscribe(c =>
        {
            _changes.Enqueue(c);
            _signal.Release();
        });

        public IReadOnlyList<RowChange> All => _changes.ToArray();

        public async Task<RowChange> WaitForAsync(Func<RowChange, bool> match) =>
            await TryWaitForAsync(match, TimeSpan.FromSeconds(10)) ?? throw new TimeoutException("no matching change");

        public async Task<RowChange?> TryWaitForAsync(Func<RowChange, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                if (_changes.FirstOrDefault(match) is { } found)
                {
                    return found;
                }

                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !await _signal.WaitAsync(left))
                {
                    return _changes.FirstOrDefault(match);
                }
            }
        }

        public void Dispose() => _subscription.Dispose();
    }
}
