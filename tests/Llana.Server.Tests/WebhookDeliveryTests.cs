using System.Globalization;
using Llana.Data;
using Llana.Data.Demo;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Llana.Server.Tests;

/// Webhook delivery over time, on a manual clock (retry delays, Retry-After, timeouts), and the settings that guard it:
/// private networks in production, the log purge, rows left queued by a previous run. SQLite, a database per test.
public sealed class WebhookDeliveryTests
{
    private static string Unique() => Guid.NewGuid().ToString("N")[..8];

    private sealed class Setup : IAsyncDisposable
    {
        public required TestDatabase Database { get; init; }

        public required LlanaServer Server { get; init; }

        public required WebhookReceiver Receiver { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            await Receiver.DisposeAsync();
            await Database.DisposeAsync();
        }
    }

    private static async Task<Setup> StartAsync(Dictionary<string, string?> settings, TimeProvider? time = null, TestDatabase? database = null)
    {
        var db = database ?? await CreateDatabaseAsync();
        settings["AUTH_LOGIN_RATE_LIMIT"] = "0";
        settings.TryAdd("WEBHOOK_POLL_INTERVAL", "100ms");
        var server = await LlanaServer.StartAsync(db.Uri, settings, time is null ? null : s => s.AddSingleton(time));
        return new Setup { Database = db, Server = server, Receiver = await WebhookReceiver.StartAsync() };
    }

    private static async Task<TestDatabase> CreateDatabaseAsync()
    {
        var db = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        await using var connection = await db.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(connection, DatabaseKind.Sqlite, CancellationToken.None);
        return db;
    }

    private static async Task<long> WebhookAsync(Setup s, string url)
    {
        using var admin = s.Server.Admin();
        var r = await admin.Post("/webhook/", new { url, table = "Customer" });
        Assert.Equal(201, r.Status);
        var c = await admin.Post("/Customer/", new { companyName = "Clock " + Unique(), userId = 1 });
        Assert.Equal(201, c.Status);
        return r.Json.GetProperty("id").GetInt64();
    }

    private static async Task<System.Text.Json.JsonElement> LogRowAsync(Setup s, long webhook)
    {
        using var admin = s.Server.Admin();
        var r = await admin.Get($"/_llana_webhook_log/?webhook_id={webhook}");
        return Assert.Single(r.Json.GetProperty("data").EnumerateArray());
    }

    /// Moves the manual clock in small steps until the receiver has <paramref name="count"/> requests under
    /// <paramref name="path"/>; returns how far the clock moved.
    private static async Task<TimeSpan> AdvanceUntilAsync(FakeTimeProvider clock, WebhookReceiver receiver, string path, int count, TimeSpan step, TimeSpan limit)
    {
        var moved = TimeSpan.Zero;
        while (receiver.To(path).Count < count)
        {
            Assert.True(moved < limit, $"{path}: {receiver.To(path).Count} of {count} requests after {moved.TotalSeconds} s on the clock");
            clock.Advance(step);
            moved += step;
            await Task.Delay(20);
        }

        return moved;
    }

    [Fact]
    public async Task Retries_after_5xx_wait_exponentially_growing_delays_on_the_clock()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var s = await StartAsync(new() { ["WEBHOOK_RETRY_DELAY"] = "1s" }, clock);
        var path = "/status/500/" + Unique();
        var webhook = await WebhookAsync(s, s.Receiver.Url + path);
        await s.Receiver.WaitAsync(path, r => r.Count >= 1);

        // Polly's exponential backoff with jitter, 1 s base: the first wait is under 1.38 s, the first four add up to
        // at least 5.7 s (its formula's bounds); nothing is sent while the clock stands still.
        var step = TimeSpan.FromMilliseconds(25);
        var limit = TimeSpan.FromMinutes(2);
        var second = await AdvanceUntilAsync(clock, s.Receiver, path, 2, step, limit);
        var third = second + await AdvanceUntilAsync(clock, s.Receiver, path, 3, step, limit);
        var fourth = third + await AdvanceUntilAsync(clock, s.Receiver, path, 4, step, limit);
        var fifth = fourth + await AdvanceUntilAsync(clock, s.Receiver, path, 5, step, limit);
        Assert.InRange(second.TotalSeconds, 0, 2);
        Assert.True(fifth.TotalSeconds >= 5.7, $"4 retries after {fifth.TotalSeconds} s");
        Assert.True(fifth - third > second, $"waits {second}, {third}, {fourth}, {fifth}");

        clock.Advance(TimeSpan.FromMinutes(10));
        await Task.Delay(500);
        Assert.Equal(5, s.Receiver.To(path).Count);
        var row = await LogRowAsync(s, webhook);
        Assert.Equal(5, row.GetProperty("attempt").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, row.GetProperty("next_attempt_at").ValueKind);
    }

    [Fact]
    public async Task A_429_is_retried_after_its_Retry_After()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var s = await StartAsync(new() { ["WEBHOOK_RETRY_DELAY"] = "1s" }, clock);
        var path = "/retry-after/30/" + Unique();
        var webhook = await WebhookAsync(s, s.Receiver.Url + path);
        await s.Receiver.WaitAsync(path, r => r.Count >= 1);

        var waited = await AdvanceUntilAsync(clock, s.Receiver, path, 2, TimeSpan.FromMilliseconds(250), TimeSpan.FromMinutes(2));
        Assert.InRange(waited.TotalSeconds, 30, 32);
        await s.Receiver.WaitAsync(path, r => r.Count == 2);
        await Poll.UntilAsync(
            async () => (await LogRowAsync(s, webhook)).GetProperty("response_status").GetInt32() == 200, TimeSpan.FromSeconds(10), "the retry was not recorded as delivered");

        Assert.Equal(2, (await LogRowAsync(s, webhook)).GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task An_attempt_without_an_answer_times_out_and_is_retried()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var s = await StartAsync(new() { ["WEBHOOK_RETRY_DELAY"] = "1s", ["WEBHOOK_TIMEOUT"] = "10s" }, clock);
        var path = "/hang/" + Unique();
        var webhook = await WebhookAsync(s, s.Receiver.Url + path);
        await s.Receiver.WaitAsync(path, r => r.Count >= 1);

        clock.Advance(TimeSpan.FromSeconds(9));
        await Task.Delay(300);
        Assert.Single(s.Receiver.To(path));
        var waited = await AdvanceUntilAsync(clock, s.Receiver, path, 2, TimeSpan.FromMilliseconds(25), TimeSpan.FromMinutes(1));
        Assert.InRange(waited.TotalSeconds, 1, 3);
        var row = await LogRowAsync(s, webhook);
        Assert.Equal(2, row.GetProperty("attempt").GetInt32());
        Assert.Contains("No response within 10 s", row.GetProperty("response_message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_killed_mid_delivery_leaves_the_row_to_another_after_its_lease()
    {
        var db = await CreateDatabaseAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        try
        {
            using var node = await ServerProcess.StartAsync(new Dictionary<string, string>
            {
                ["DATABASE_URI"] = db.Uri,
                ["SKIP_AUTH"] = "true",
                ["WEBHOOK_TIMEOUT"] = "2s",
                ["WEBHOOK_POLL_INTERVAL"] = "100ms",
            });
            var path = "/hang/" + Unique();
            Assert.Equal(201, (await node.Http.Post("/webhook/", new { url = receiver.Url + path, table = "Customer" })).Status);
            Assert.Equal(201, (await node.Http.Post("/Customer/", new { companyName = "Killed", userId = 1 })).Status);
            var first = (await receiver.WaitAsync(path, r => r.Count >= 1))[0];
            await node.KillAsync();
            var killedAt = DateTime.UtcNow;

            // The row stays the dead node's for its lease (2 × WEBHOOK_TIMEOUT + 30 s), then another node takes it.
            await using var other = await LlanaServer.StartAsync(db.Uri, new Dictionary<string, string?>
            {
                ["SKIP_AUTH"] = "true",
                ["WEBHOOK_POLL_INTERVAL"] = "100ms",
                ["WEBHOOK_TIMEOUT"] = "2s",
            });
            var again = await receiver.WaitAsync(path, r => r.Count >= 2, seconds: 90);
            Assert.Equal(first.Id, again[1].Id);
            Assert.True(DateTime.UtcNow - killedAt > TimeSpan.FromSeconds(20), "taken again before the lease ended");
        }
        finally
        {
            await db.DisposeAsync();
        }
    }

    /// A node that stops lets the attempt under way finish and records it: handed back unrecorded, the next start
    /// would send the receiver a change it already has.
    [Fact]
    public async Task A_node_that_stops_mid_attempt_finishes_and_records_it_and_the_next_start_does_not_send_it_again()
    {
        var db = await CreateDatabaseAsync();
        await using var receiver = await WebhookReceiver.StartAsync();
        var settings = new Dictionary<string, string?> { ["SKIP_AUTH"] = "true", ["WEBHOOK_POLL_INTERVAL"] = "100ms" };
        var path = "/slow/1000/" + Unique();
        try
        {
            await using (var server = await LlanaServer.StartAsync(db.Uri, settings))
            {
                Assert.Equal(201, (await server.Http.Post("/webhook/", new { url = receiver.Url + path, table = "Customer" })).Status);
                Assert.Equal(201, (await server.Http.Post("/Customer/", new { companyName = "Stopping", userId = 1 })).Status);
                await receiver.WaitAsync(path, r => r.Count >= 1);
            }

            Assert.Equal(1L, Convert.ToInt64(await db.ScalarAsync("SELECT COUNT(*) FROM \"_llana_webhook_log\" WHERE \"delivered\" = 1"), CultureInfo.InvariantCulture));
            await using (await LlanaServer.StartAsync(db.Uri, settings))
            {
                await Task.Delay(1000);
            }

            Assert.Single(receiver.To(path));
        }
        finally
        {
            await db.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_receiver_that_hangs_does_not_hold_up_the_others()
    {
        await using var s = await StartAsync(new() { ["WEBHOOK_CONCURRENCY"] = "4", ["WEBHOOK_TIMEOUT"] = "60s" });
        using var admin = s.Server.Admin();
        var hang = "/hang/" + Unique();
        var ok = "/ok/" + Unique();
        Assert.Equal(201, (await admin.Post("/webhook/", new { url = s.Receiver.Url + hang, table = "Customer" })).Status);
        Assert.Equal(201, (await admin.Post("/webhook/", new { url = s.Receiver.Url + ok, table = "Customer" })).Status);
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(201, (await admin.Post("/Customer/", new { companyName = "Busy " + i, userId = 1 })).Status);
        }

        await s.Receiver.WaitAsync(ok, r => r.Count == 12, seconds: 10);
        Assert.Single(s.Receiver.To(hang));
        Assert.Equal(200, (await admin.Get("/Customer/?limit=1")).Status);
    }

    [Fact]
    public async Task Production_refuses_private_addresses_unless_allowed()
    {
        await using (var s = await StartAsync(AuthHelpers.Production()))
        {
            var path = "/ok/" + Unique();
            var webhook = await WebhookAsync(s, s.Receiver.Url + path);
            System.Text.Json.JsonElement row = default;
            await Poll.UntilAsync(
                async () => (row = await LogRowAsync(s, webhook)).GetProperty("next_attempt_at").ValueKind == System.Text.Json.JsonValueKind.Null,
                TimeSpan.FromSeconds(20), "the refused delivery was not settled");

            Assert.Contains("WEBHOOK_ALLOW_PRIVATE_NETWORKS", row.GetProperty("response_message").GetString(), StringComparison.Ordinal);
            Assert.Equal(1, row.GetProperty("attempt").GetInt32());
            Assert.Empty(s.Receiver.To(path));
        }

        await using (var s = await StartAsync(AuthHelpers.Production(("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"))))
        {
            var path = "/ok/" + Unique();
            await WebhookAsync(s, s.Receiver.Url + path);
            await s.Receiver.WaitAsync(path, r => r.Count == 1);
        }
    }

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.16.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("93.184.216.34", true)]
    [InlineData("2606:2800:220:1:248:1893:25c8:1946", true)]
    public void Addresses_are_told_public_or_not(string address, bool isPublic) =>
        Assert.Equal(isPublic, Webhooks.WebhookSender.IsPublic(System.Net.IPAddress.Parse(address)));

    [Fact]
    public async Task A_start_delivers_what_a_previous_run_left_queued_and_purges_old_log_rows()
    {
        var db = await CreateDatabaseAsync();
        await using (await LlanaServer.StartAsync(db.Uri, new Dictionary<string, string?> { ["AUTH_LOGIN_RATE_LIMIT"] = "0" }))
        {
        }

        await using var receiver = await WebhookReceiver.StartAsync();
        var path = "/ok/" + Unique();
        var old = DateTime.UtcNow.AddDays(-3).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var recent = DateTime.UtcNow.AddMinutes(-5).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        await db.ExecuteAsync($"INSERT INTO \"_llana_webhook\" (\"type\", \"url\", \"table\") VALUES ('POST', '{receiver.Url}{path}', 'Customer')");
        const string Columns = "\"webhook_id\", \"type\", \"url\", \"record_key\", \"record_id\", \"attempt\", \"delivered\", \"created_at\", \"next_attempt_at\"";
        await db.ExecuteAsync($"INSERT INTO \"_llana_webhook_log\" ({Columns}) VALUES (1, 'INSERT', '{receiver.Url}{path}', 'custId', '1', 1, 1, '{old}', NULL)");
        await db.ExecuteAsync($"INSERT INTO \"_llana_webhook_log\" ({Columns}) VALUES (1, 'UPDATE', '{receiver.Url}{path}', 'custId', '2', 2, 0, '{recent}', '{recent}')");

        await using var server = await LlanaServer.StartAsync(db.Uri, new Dictionary<string, string?> { ["AUTH_LOGIN_RATE_LIMIT"] = "0" });
        var got = await receiver.WaitAsync(path, r => r.Count >= 1);
        Assert.Equal("2", got[0].Json.GetProperty("custId").GetString());
        Assert.Equal("UPDATE", got[0].Json.GetProperty("type").GetString());
        await Poll.UntilAsync(
            async () => Convert.ToInt64(await db.ScalarAsync("SELECT COUNT(*) FROM \"_llana_webhook_log\" WHERE \"delivered\" = 1"), CultureInfo.InvariantCulture) == 1,
            TimeSpan.FromSeconds(10), "the queued row was not recorded as delivered");

        Assert.Equal(1L, Convert.ToInt64(await db.ScalarAsync("SELECT COUNT(*) FROM \"_llana_webhook_log\""), CultureInfo.InvariantCulture));
        await server.DisposeAsync();
        await db.DisposeAsync();
    }
}
