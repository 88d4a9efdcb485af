using Llana.Data;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;
using Microsoft.Data.Sqlite;

namespace Llana.Server.Tests;

/// `/_llana/health` (ready) and `/_llana/health/live`, as a load balancer or systemd probe sees them.
public sealed class HealthTests
{
    [Fact]
    public async Task Both_answer_healthy_without_credentials_and_no_table_route_shadows_them()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        await using (var connection = new SqliteConnection(database.ConnectionString))
        {
            // A table named `_llana` with a row whose key is `health`: `GET /{table}/{id}` would match the path.
            await connection.OpenAsync();
            await using var create = connection.CreateCommand();
            create.CommandText = "CREATE TABLE \"_llana\" (\"id\" TEXT PRIMARY KEY); INSERT INTO \"_llana\" VALUES ('health');";
            await create.ExecuteNonQueryAsync();
        }

        await using var server = await LlanaServer.StartAsync(database.Uri, new Dictionary<string, string?> { ["SKIP_AUTH"] = "true" });
        var ready = await server.Http.Get("/_llana/health");
        Assert.Equal("""{"status":"Healthy","checks":{"database":"Healthy","schema":"Healthy"}}""", ready.Text);
        Assert.Equal("no-store", ready.Message.Headers.CacheControl?.ToString());
        var live = await server.Http.Get("/_llana/health/live");
        Assert.Equal((200, """{"status":"Healthy"}"""), (live.Status, live.Text));

        // The table itself is still served on its other routes.
        Assert.Equal(200, (await server.Http.Get("/_llana/")).Status);
    }

    [Fact]
    public async Task Probes_pass_HOSTS_and_authentication_that_refuse_the_api()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        await using var server = await LlanaServer.StartAsync(database.Uri, AuthHelpers.Production(("LLANA_SEED_DEMO", "true"), ("HOSTS", "10.9.9.9")));
        Assert.Equal(403, (await server.Http.Get("/Customer/")).Status);
        Assert.Equal(200, (await server.Http.Get("/_llana/health")).Status);
        Assert.Equal(200, (await server.Http.Get("/_llana/health/live")).Status);
    }

    [Fact]
    public async Task Ready_fails_while_the_database_is_unreachable_and_recovers_live_stays_up()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Postgres);
        var direct = new Uri(database.Uri);
        await using var link = new TcpProxy { Target = new Uri($"http://127.0.0.1:{direct.Port}") };
        var viaLink = new UriBuilder(direct) { Port = link.Port }.Uri.ToString();
        await using var server = await LlanaServer.StartAsync(viaLink, new Dictionary<string, string?> { ["LLANA_SEED_DEMO"] = "true" });
        Assert.Equal(200, (await server.Http.Get("/_llana/health")).Status);

        link.Target = null;
        link.Cut();
        var down = await WaitForStatusAsync(server, 503);
        Assert.Equal("""{"status":"Unhealthy","checks":{"database":"Unhealthy","schema":"Healthy"}}""", down.Text);
        Assert.Equal(200, (await server.Http.Get("/_llana/health/live")).Status);

        link.Target = new Uri($"http://127.0.0.1:{direct.Port}");
        await WaitForStatusAsync(server, 200);
    }

    [Fact]
    public async Task Ready_fails_while_redis_is_down_when_it_is_configured()
    {
        await using var redis = new RedisProcess();
        await redis.StartAsync();
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        var settings = new Dictionary<string, string?>(redis.Settings) { ["LLANA_SEED_DEMO"] = "true" };
        await using var server = await LlanaServer.StartAsync(database.Uri, settings);
        var up = await WaitForStatusAsync(server, 200);
        Assert.Equal("""{"status":"Healthy","checks":{"database":"Healthy","schema":"Healthy","redis":"Healthy"}}""", up.Text);

        await redis.StopAsync();
        var down = await WaitForStatusAsync(server, 503);
        Assert.Contains("\"redis\":\"Unhealthy\"", down.Text);
        Assert.Equal(200, (await server.Http.Get("/_llana/health/live")).Status);

        await redis.StartAsync();
        await WaitForStatusAsync(server, 200);
    }

    private static async Task<Reply> WaitForStatusAsync(LlanaServer server, int status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var reply = await server.Http.Get("/_llana/health");
            if (reply.Status == status || DateTime.UtcNow > deadline)
            {
                Assert.Equal(status, reply.Status);
                return reply;
            }

            await Task.Delay(100);
        }
    }
}
