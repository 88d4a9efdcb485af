using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Llana.Data;
using Llana.Server.Tests.Infrastructure;

namespace Llana.Server.Tests;

/// Webhooks (spec §9 with its recommendations; issue: durable, retried, signed, once per cluster) against real local
/// receivers. Each test watches `Customer` through webhooks of its own, at receiver paths of its own.
public abstract class WebhookSpec(WebhookDemo fixture)
{
    public const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    private LlanaServer Server => fixture.Server;

    private static string Unique() => Guid.NewGuid().ToString("N")[..8];

    private static async Task<long> CreateWebhookAsync(HttpClient admin, string url, object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["url"] = url, ["table"] = "Customer" };
        foreach (var p in extra?.GetType().GetProperties() ?? [])
        {
            body[p.Name] = p.GetValue(extra);
        }

        var r = await admin.Post("/webhook/", body);
        Assert.Equal(201, r.Status);
        return r.Json.GetProperty("id").GetInt64();
    }

    private static async Task<string> CreateCustomerAsync(HttpClient client, long owner)
    {
        var r = await client.Post("/Customer/", new { companyName = "Wh " + Unique(), userId = owner });
        Assert.Equal(201, r.Status);
        return r.Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture);
    }

    /// The queue rows of one webhook, as an admin reads them through the API.
    private async Task<List<System.Text.Json.JsonElement>> LogAsync(long webhookId)
    {
        using var admin = Server.Admin();
        var r = await admin.Get($"/_llana_webhook_log/?webhook_id={webhookId}&sort=id.asc&limit=1000");
        Assert.Equal(200, r.Status);
        return r.Json.GetProperty("data").EnumerateArray().ToList();
    }

    private async Task<System.Text.Json.JsonElement> SettledLogAsync(long webhookId, int rows)
    {
        var log = new List<System.Text.Json.JsonElement>();
        await Poll.UntilAsync(
            async () => (log = await LogAsync(webhookId)).Count == rows
                && log.All(r => r.GetProperty("next_attempt_at").ValueKind == System.Text.Json.JsonValueKind.Null),
            TimeSpan.FromSeconds(30), $"webhook {webhookId}: not {rows} settled rows");
        return log[^1];
    }

    [Fact]
    public async Task Each_kind_fires_once_per_row_and_the_on_flags_are_honoured()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var admin = Server.Admin();
        var path = "/ok/" + Unique();
        var all = await CreateWebhookAsync(admin, receiver.Url + path + "/all");
        var createsOnly = await CreateWebhookAsync(admin, receiver.Url + path + "/creates", new { on_update = false, on_delete = false });

        var id = await CreateCustomerAsync(admin, 1);
        Assert.Equal(200, (await admin.Put($"/Customer/{id}", new { contactName = "changed" })).Status);
        Assert.Equal(200, (await admin.Delete($"/Customer/{id}")).Status);
        var bulk = await admin.Post("/Customer/", new[] { new { companyName = "B1", userId = 1 }, new { companyName = "B2", userId = 1 } });
        Assert.Equal(201, bulk.Status);
        var bulkIds = bulk.Json.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture)).ToList();

        var got = await receiver.WaitAsync(path + "/all", r => r.Count >= 5);
        await receiver.WaitAsync(path + "/creates", r => r.Count >= 3);
        await Task.Delay(300);
        got = receiver.To(path + "/all");
        Assert.Equal(5, got.Count);
        Assert.Equal(["INSERT", "UPDATE", "DELETE"], got.Where(r => r.Json.GetProperty("custId").GetString() == id).OrderBy(r => r.Json.GetProperty("webhook_id").GetInt64()).Select(r => r.Json.GetProperty("type").GetString()));
        Assert.All(got, r => Assert.Equal("POST", r.Method));
        Assert.Equal(bulkIds.Order(), got.Where(r => r.Json.GetProperty("type").GetString() == "INSERT" && r.Json.GetProperty("custId").GetString() != id).Select(r => r.Json.GetProperty("custId").GetString()!).Order());

        var creates = receiver.To(path + "/creates");
        Assert.Equal(3, creates.Count);
        Assert.All(creates, r => Assert.Equal("INSERT", r.Json.GetProperty("type").GetString()));

        // Llana's body: the delivery's id, the event, the key and its value as text; nothing else by default.
        var first = got.First(r => r.Json.GetProperty("type").GetString() == "UPDATE").Json;
        Assert.Equal(["webhook_id", "type", "custId"], first.EnumerateObject().Select(p => p.Name));
        var last = await SettledLogAsync(all, 5);
        Assert.True(last.GetProperty("delivered").ValueKind is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.Number);
        Assert.Equal(200, last.GetProperty("response_status").GetInt32());
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, last.GetProperty("delivered_at").ValueKind);
        Assert.Equal(3, (await LogAsync(createsOnly)).Count);
    }

    [Fact]
    public async Task A_users_webhook_fires_for_that_users_writes_and_a_global_one_for_everyones()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var admin = Server.Admin();
        using var user = Server.User();

        // Users may read and write their own customers only: the user's webhook is judged on each row (the same rule twice
        // is harmless: each test of the class adds it).
        await Server.OwnCustomersOnlyAsync("WRITE");
        var path = "/ok/" + Unique();
        await CreateWebhookAsync(admin, receiver.Url + path + "/user", new { user_identifier = "2" });
        await CreateWebhookAsync(admin, receiver.Url + path + "/global");

        var byAdmin = await CreateCustomerAsync(admin, 2);
        var byUser = await CreateCustomerAsync(user, 2);

        await receiver.WaitAsync(path + "/global", r => r.Count >= 2);
        var users = await receiver.WaitAsync(path + "/user", r => r.Count >= 1);
        await Task.Delay(300);
        Assert.Equal([byUser], receiver.To(path + "/user").Select(r => r.Json.GetProperty("custId").GetString()));
        Assert.Equal(new[] { byAdmin, byUser }.Order(), receiver.To(path + "/global").Select(r => r.Json.GetProperty("custId").GetString()!).Order());
        Assert.Single(users);
    }

    [Fact]
    public async Task Requests_are_signed_and_keep_their_id_across_retries()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var admin = Server.Admin();
        var path = "/flaky/2/" + Unique();
        var webhook = await CreateWebhookAsync(admin, receiver.Url + path, new { type = "PUT" });
        await CreateCustomerAsync(admin, 1);

        var got = await receiver.WaitAsync(path, r => r.Count >= 3);
        Assert.Single(got.Select(r => r.Id).Distinct());
        Assert.StartsWith("msg_", got[0].Id, StringComparison.Ordinal);
        Assert.All(got, r => Assert.Equal("PUT", r.Method));
        var key = Convert.FromBase64String(Secret["whsec_".Length..]);
        foreach (var r in got)
        {
            var signed = Encoding.UTF8.GetBytes(r.Id + "." + r.Headers["webhook-timestamp"] + ".").Concat(r.Body).ToArray();
            Assert.Equal("v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed)), r.Headers["webhook-signature"]);
            Assert.InRange(long.Parse(r.Headers["webhook-timestamp"], CultureInfo.InvariantCulture), AuthHelpers.Now - 60, AuthHelpers.Now + 5);
        }

        var row = await SettledLogAsync(webhook, 1);
        Assert.Equal(3, row.GetProperty("attempt").GetInt32());
        Assert.Equal(200, row.GetProperty("response_status").GetInt32());
        Assert.Equal(3, receiver.To(path).Count);
    }

    [Fact]
    public async Task A_4xx_answer_is_final_and_five_failures_give_up()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var admin = Server.Admin();
        var path = "/status/" + Unique();
        var notFound = await CreateWebhookAsync(admin, receiver.Url + "/status/404" + path);
        var broken = await CreateWebhookAsync(admin, receiver.Url + "/status/503" + path);
        await CreateCustomerAsync(admin, 1);

        var gone = await SettledLogAsync(notFound, 1);
        Assert.Equal(1, gone.GetProperty("attempt").GetInt32());
        Assert.Equal(404, gone.GetProperty("response_status").GetInt32());
        Assert.Contains("receiver says 404", gone.GetProperty("response_message").GetString(), StringComparison.Ordinal);
        Assert.Single(receiver.To("/status/404" + path));

        var failed = await SettledLogAsync(broken, 1);
        Assert.Equal(5, failed.GetProperty("attempt").GetInt32());
        Assert.Equal(503, failed.GetProperty("response_status").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, failed.GetProperty("delivered_at").ValueKind);
        Assert.Equal(5, receiver.To("/status/503" + path).Count);
    }

    [Fact]
    public async Task A_webhook_url_must_be_an_absolute_http_url()
    {
        using var admin = Server.Admin();
        foreach (var url in new[] { "not a url", "/relative", "ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)" })
        {
            var r = await admin.Post("/webhook/", new { url, table = "Customer" });
            Assert.Equal(400, r.Status);
            Assert.Contains("url must be an absolute http or https URL", r.Text, StringComparison.Ordinal);
        }

        var ok = await admin.Post("/webhook/", new { url = "https://example.com/hook", table = "Customer", on_create = false, on_update = false, on_delete = false });
        Assert.Equal(201, ok.Status);
        Assert.Equal(400, (await admin.Patch($"/webhook/{ok.Json.GetProperty("id").GetInt64()}", new { url = "gopher://x" })).Status);
    }

    [Fact]
    public async Task A_failed_write_queues_nothing()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var admin = Server.Admin();
        var webhook = await CreateWebhookAsync(admin, receiver.Url + "/ok/" + Unique());
        var r = await admin.Post("/Customer/", new { companyName = "No owner" });
        Assert.Equal(400, r.Status);
        Assert.Equal(400, (await admin.Put("/Customer/99999999", new { contactName = "x" })).Status);
        await Task.Delay(500);
        Assert.Empty(await LogAsync(webhook));
    }

    [Fact]
    public async Task Two_nodes_on_one_database_deliver_each_change_exactly_once()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var second = await fixture.StartServerAsync(new Dictionary<string, string?>());
        using var admin = Server.Admin();
        using var admin2 = second.Admin();
        var path = "/ok/" + Unique();
        var webhook = await CreateWebhookAsync(admin, receiver.Url + path);

        // Writes through both nodes; both nodes deliver (each row claimed by one of them).
        var writes = Enumerable.Range(0, 60).Select(i => CreateCustomerAsync(i % 2 == 0 ? admin : admin2, 1)).ToList();
        var ids = await Task.WhenAll(writes);
        var got = await receiver.WaitAsync(path, r => r.Count >= ids.Length);
        await Task.Delay(1000);
        got = receiver.To(path);
        Assert.Equal(ids.Length, got.Count);
        Assert.Equal(ids.Length, got.Select(r => r.Id).Distinct().Count());
        Assert.Equal(ids.Order(), got.Select(r => r.Json.GetProperty("custId").GetString()!).Order());
        await SettledLogAsync(webhook, ids.Length);
    }

    [Fact]
    public async Task A_node_stopped_mid_delivery_leaves_the_row_to_another()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var node = await fixture.StartServerAsync(new Dictionary<string, string?> { ["WEBHOOK_TIMEOUT"] = "60s" });
        using var admin = node.Admin();
        var path = "/hang/" + Unique();
        var webhook = await CreateWebhookAsync(admin, receiver.Url + path);
        await CreateCustomerAsync(admin, 1);
        var first = (await receiver.WaitAsync(path, r => r.Count >= 1))[0];

        // The path hangs for good: the stop gives the attempt a grace, then cancels it; the row is due again and the
        // other node tries it.
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await node.DisposeAsync();
        Assert.InRange(stopping.Elapsed, Webhooks.WebhookSender.StopGrace - TimeSpan.FromMilliseconds(100), Webhooks.WebhookSender.StopGrace * 2);
        var again = await receiver.WaitAsync(path, r => r.Count >= 2);
        Assert.Equal(first.Id, again[1].Id);
        Assert.Equal(first.Json.GetProperty("custId").GetString(), again[1].Json.GetProperty("custId").GetString());
        Assert.Single(await LogAsync(webhook));
    }
}

public abstract class WebhookDemo(DatabaseKind kind) : DemoFixture(kind, new Dictionary<string, string?>
{
    ["AUTH_LOGIN_RATE_LIMIT"] = "0",
    ["WEBHOOK_SECRET"] = WebhookSpec.Secret,
    ["WEBHOOK_RETRY_DELAY"] = "50ms",
    ["WEBHOOK_TIMEOUT"] = "2s",
    ["WEBHOOK_POLL_INTERVAL"] = "100ms",
});

public sealed class SqliteWebhookDemo() : WebhookDemo(DatabaseKind.Sqlite);

public sealed class PostgresWebhookDemo() : WebhookDemo(DatabaseKind.Postgres);

public sealed class MySqlWebhookDemo() : WebhookDemo(DatabaseKind.MySql);

public sealed class SqliteWebhookSpec(SqliteWebhookDemo fixture) : WebhookSpec(fixture), IClassFixture<SqliteWebhookDemo>;

public sealed class PostgresWebhookSpec(PostgresWebhookDemo fixture) : WebhookSpec(fixture), IClassFixture<PostgresWebhookDemo>;

public sealed class MySqlWebhookSpec(MySqlWebhookDemo fixture) : WebhookSpec(fixture), IClassFixture<MySqlWebhookDemo>;
