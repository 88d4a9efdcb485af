using Llana.Server.Tests.Infrastructure;

namespace Llana.Server.Tests;

/// Realtime table sync (spec §10, issue: every allowed client sees every change, once, in order), driven with the
/// official socket.io-client under Node. "Nothing arrived" is proven with a sentinel: every subscriber also
/// listens to `Shipper`, and events reach a socket in commit order, so once the sentinel `Shipper` insert has
/// arrived, any earlier event would have too.
public abstract class RealtimeSpec(DemoFixture fixture)
{
    private LlanaServer Server => fixture.Server;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    private string AdminToken => Server.Token(1, AuthHelpers.AdminEmail);

    private string UserToken => Server.Token(2, AuthHelpers.UserEmail);

    private static Dictionary<string, object?> Auth(string tables, string? token = null, bool rows = false)
    {
        var auth = new Dictionary<string, object?> { ["x-llana-table"] = tables };
        if (token is not null)
        {
            auth["token"] = token;
        }

        if (rows)
        {
            auth["x-llana-rows"] = true;
        }

        return auth;
    }

    private async Task<NodeSubscriber> ConnectAsync(object options)
    {
        var subscriber = NodeSubscriber.Start(Server.Address, options);
        await subscriber.ConnectedAsync();
        return subscriber;
    }

    private async Task<long> CreateCustomerAsync(long owner, string? name = null)
    {
        using var admin = Server.Admin();
        var r = await admin.Post("/Customer/", new { companyName = name ?? Unique("Rt "), userId = owner });
        Assert.Equal(201, r.Status);
        return r.Json.GetProperty("custId").GetInt64();
    }

    /// Inserts a shipper and waits until every subscriber has its event.
    private async Task SentinelAsync(params NodeSubscriber[] subscribers)
    {
        using var admin = Server.Admin();
        var r = await admin.Post("/Shipper/", new { companyName = Unique("Sentinel ") });
        var id = r.Json.GetProperty("shipperId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var s in subscribers)
        {
            await s.EventAsync("Shipper", p => p.GetProperty("shipperId").GetString() == id);
        }
    }

    private static int CustomerEvents(NodeSubscriber s, long id) =>
        s.Events.Count(e => e.Name == "Customer" && e.Payload.GetProperty("custId").GetString() == id.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private async Task WithRole(object rule, Func<Task> body)
    {
        using var admin = Server.Admin();
        var created = await admin.Post("/_llana_role/", rule);
        Assert.Equal(201, created.Status);
        try
        {
            await body();
        }
        finally
        {
            Assert.Equal(200, (await admin.Delete("/_llana_role/" + created.Json.GetProperty("id").GetInt64())).Status);
        }
    }

    [Fact]
    public async Task The_credential_can_come_from_the_header_the_cookie_or_auth_token()
    {
        await using var header = await ConnectAsync(new { extraHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + AdminToken, ["x-llana-table"] = "Customer" } });
        await using var cookie = await ConnectAsync(new { extraHeaders = new Dictionary<string, string> { ["Cookie"] = "accessToken=" + AdminToken }, auth = Auth("Customer") });
        await using var bearer = await ConnectAsync(new { auth = Auth("Customer", "Bearer " + AdminToken), transports = new[] { "websocket" } });
        await using var raw = await ConnectAsync(new { auth = Auth("Customer", AdminToken), transports = new[] { "polling" } });

        var id = await CreateCustomerAsync(1);
        foreach (var s in new[] { header, cookie, bearer, raw })
        {
            var payload = await s.EventAsync("Customer");
            Assert.Equal($"{{\"type\":\"INSERT\",\"custId\":\"{id}\"}}", payload.GetRawText());
        }
    }

    [Theory]
    [InlineData(null, "token", "No Table Provided In Headers[x-llana-table]")]
    [InlineData("Customer", null, "Missing authorization token. Use either <Bearer> token header or accessToken cookie")]
    [InlineData("Customer", "garbage", "Authentication Failed")]
    [InlineData("Customer", "expired", "Access token expired")]
    [InlineData("Nope", "token", "Error processing schema for Nope")]
    [InlineData("Employee,Customer", null, "Missing authorization token. Use either <Bearer> token header or accessToken cookie")]
    [InlineData("Customer", "unknown user", "Role not found")]
    public async Task A_refused_handshake_gets_the_original_text(string? tables, string? credential, string message)
    {
        var token = credential switch
        {
            "token" => AdminToken,
            "unknown user" => Server.Token(999_999),
            "expired" => AuthHelpers.Craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", $"{{\"sub\":1,\"exp\":{AuthHelpers.Now - 60}}}", AuthHelpers.DefaultJwtKey),
            _ => credential,
        };
        var auth = new Dictionary<string, object?>();
        if (tables is not null)
        {
            auth["x-llana-table"] = tables;
        }

        if (token is not null)
        {
            auth["token"] = token;
        }

        await using var s = NodeSubscriber.Start(Server.Address, new { auth, reconnection = false });
        Assert.Equal(message, await s.ConnectErrorAsync());
    }

    [Theory]
    [InlineData("10.9.8.7", false)]
    [InlineData("10.9.8.7,127.0.0.1", true)]
    public async Task In_production_hosts_apply_to_the_sockets_peer_address(string hosts, bool allowed)
    {
        await using var production = await fixture.StartServerAsync(AuthHelpers.Production(("HOSTS", hosts)));
        await using var s = NodeSubscriber.Start(production.Address, new { auth = Auth("Customer", production.Token(1, AuthHelpers.AdminEmail)), reconnection = false });
        if (allowed)
        {
            await s.ConnectedAsync();
        }
        else
        {
            Assert.Equal("Forbidden", await s.ConnectErrorAsync());
        }
    }

    [Fact]
    public async Task A_deleted_users_token_no_longer_opens_a_socket()
    {
        using var admin = Server.Admin();
        var id = await CreateUserAsync("USER");
        var token = Server.Token(id);
        await using (var before = await ConnectAsync(new { auth = Auth("Customer", token), reconnection = false }))
        {
            // Connected: the token is good while the user exists.
        }

        Assert.Equal(200, (await admin.Delete($"/User/{id}")).Status);
        await using var after = NodeSubscriber.Start(Server.Address, new { auth = Auth("Customer", token), reconnection = false });
        Assert.Equal("Role not found", await after.ConnectErrorAsync());
    }

    [Fact]
    public async Task A_public_table_needs_no_credential()
    {
        await using var anonymous = await ConnectAsync(new { auth = Auth("Employee") });
        using var admin = Server.Admin();
        var r = await admin.Post("/Employee/", new { lastName = "Public", firstName = "Pat" });
        var id = r.Json.GetProperty("employeeId").GetInt64();
        Assert.Equal($"{{\"type\":\"INSERT\",\"employeeId\":\"{id}\"}}", (await anonymous.EventAsync("Employee")).GetRawText());
    }

    [Fact]
    public async Task Insert_update_and_delete_arrive_once_each_in_commit_order()
    {
        await using var s = await ConnectAsync(new { auth = Auth("Customer,Shipper", AdminToken) });
        using var admin = Server.Admin();
        var id = await CreateCustomerAsync(1);
        Assert.Equal(200, (await admin.Put($"/Customer/{id}", new { city = "Rome" })).Status);
        Assert.Equal(200, (await admin.Delete($"/Customer/{id}")).Status);
        var bulk = await admin.Post("/Customer/", Enumerable.Range(0, 5).Select(i => new { companyName = Unique("Bulk "), userId = 1 }).ToArray());
        var bulkIds = bulk.Json.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("custId").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var singles = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            singles.Add((await CreateCustomerAsync(1)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        await SentinelAsync(s);
        var events = s.Events.Where(e => e.Name == "Customer").Select(e => e.Payload.GetRawText()).ToList();
        var key = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var expected = new List<string>
        {
            $"{{\"type\":\"INSERT\",\"custId\":\"{key}\"}}",
            $"{{\"type\":\"UPDATE\",\"custId\":\"{key}\"}}",
            $"{{\"type\":\"DELETE\",\"custId\":\"{key}\"}}",
        };
        expected.AddRange(bulkIds.Concat(singles).Select(x => $"{{\"type\":\"INSERT\",\"custId\":\"{x}\"}}"));
        Assert.Equal(expected, events);
    }

    [Fact]
    public async Task A_socket_hears_only_its_tables()
    {
        await using var shippers = await ConnectAsync(new { auth = Auth("Shipper", AdminToken) });
        await CreateCustomerAsync(1);
        await SentinelAsync(shippers);
        Assert.DoesNotContain(shippers.Events, e => e.Name != "Shipper");
    }

    [Fact]
    public async Task A_denied_role_receives_nothing_and_a_rule_change_applies_to_the_open_socket()
    {
        await using var user = await ConnectAsync(new { auth = Auth("Customer,Shipper", UserToken) });
        long hidden = 0;
        await WithRole(new { custom = true, table = "Customer", role = "USER", records = "NONE", own_records = "NONE" }, async () =>
        {
            hidden = await CreateCustomerAsync(2);
            await SentinelAsync(user);
            Assert.Equal(0, CustomerEvents(user, hidden));
        });

        // Rule gone: the default USER rule (READ) applies, without reconnecting.
        var visible = await CreateCustomerAsync(2);
        await user.EventAsync("Customer", p => p.GetProperty("custId").GetString() == visible.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, CustomerEvents(user, hidden));
    }

    private async Task<long> CreateUserAsync(string role)
    {
        using var admin = Server.Admin();
        var r = await admin.Post("/User/", new { email = Unique("ws") + "@example.com", password = "pw", role });
        Assert.Equal(201, r.Status);
        return r.Json.GetProperty("id").GetInt64();
    }

    [Fact]
    public async Task A_role_changed_through_the_api_applies_to_the_open_socket_at_once()
    {
        var userId = await CreateUserAsync("USER");
        await using var user = await ConnectAsync(new { auth = Auth("Customer,Shipper", Server.Token(userId)) });
        await WithRole(new { custom = true, table = "Customer", role = "USER", records = "NONE", own_records = "NONE" }, async () =>
        {
            var hidden = await CreateCustomerAsync(1);
            await SentinelAsync(user);
            Assert.Equal(0, CustomerEvents(user, hidden));

            using var admin = Server.Admin();
            Assert.Equal(200, (await admin.Put($"/User/{userId}", new { role = "ADMIN" })).Status);
            var seen = await CreateCustomerAsync(1);
            await user.EventAsync("Customer", p => p.GetProperty("custId").GetString() == seen.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
    }

    [Fact]
    public async Task A_sockets_identity_is_read_again_after_its_ttl()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["CACHE_WS_IDENTITY_DATA_TTL"] = "1s", ["CACHE_IDENTITY_DATA_TTL"] = "1s" });
        var userId = await CreateUserAsync("USER");
        await using var user = NodeSubscriber.Start(server.Address, new { auth = Auth("Customer", server.Token(userId)) });
        await user.ConnectedAsync();
        await WithRole(new { custom = true, table = "Customer", role = "USER", records = "NONE", own_records = "NONE" }, async () =>
        {
            // A change made outside the API is only seen once the cached identity expires.
            var table = fixture.Kind == Llana.Data.DatabaseKind.MySql ? "`User`" : "\"User\"";
            await fixture.Database.ExecuteAsync($"UPDATE {table} SET role = 'ADMIN' WHERE id = {userId}");
            using var admin = server.Admin();
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (user.Events.Count == 0 && DateTime.UtcNow < deadline)
            {
                await admin.Post("/Customer/", new { companyName = Unique("Ttl "), userId = 1 });
                await Task.Delay(250);
            }

            Assert.NotEmpty(user.Events);
        });
    }

    [Fact]
    public async Task Own_records_rules_deliver_only_the_users_rows_deletes_judged_on_the_row_before()
    {
        await using var user = await ConnectAsync(new { auth = Auth("Customer,Shipper", UserToken) });
        await WithRole(new { custom = true, table = "Customer", role = "USER", records = "NONE", own_records = "READ", identity_column = "userId" }, async () =>
        {
            var mine = await CreateCustomerAsync(2);
            var theirs = await CreateCustomerAsync(1);
            using var admin = Server.Admin();
            await admin.Delete($"/Customer/{mine}");
            await admin.Delete($"/Customer/{theirs}");
            await SentinelAsync(user);
            Assert.Equal(2, CustomerEvents(user, mine));
            Assert.Equal(0, CustomerEvents(user, theirs));
        });
    }

    [Fact]
    public async Task Rows_are_sent_to_sockets_that_ask_filtered_by_their_allowed_fields()
    {
        await using var admin = await ConnectAsync(new { auth = Auth("Customer", AdminToken, rows: true) });
        await using var plain = await ConnectAsync(new { auth = Auth("Customer", AdminToken) });
        await WithRole(new { custom = true, table = "Customer", role = "USER", records = "READ", allowed_fields = "custId,companyName" }, async () =>
        {
            await using var user = await ConnectAsync(new { auth = Auth("Customer", UserToken, rows: true) });
            var name = Unique("Rows ");
            var id = await CreateCustomerAsync(2, name);
            var full = await admin.EventAsync("Customer");
            Assert.Equal(name, full.GetProperty("row").GetProperty("companyName").GetString());
            Assert.Equal(2, full.GetProperty("row").GetProperty("userId").GetInt64());
            var limited = await user.EventAsync("Customer");
            Assert.Equal(["companyName", "custId"], limited.GetProperty("row").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray());
            Assert.Equal(id.ToString(System.Globalization.CultureInfo.InvariantCulture), limited.GetProperty("custId").GetString());
            Assert.False((await plain.EventAsync("Customer")).TryGetProperty("row", out _));
        });
    }

    [Fact]
    public async Task Rows_of_the_user_table_never_carry_the_password_hash()
    {
        await using var admin = await ConnectAsync(new { auth = Auth("User", AdminToken, rows: true) });
        var id = await CreateUserAsync("USER");
        var row = (await admin.EventAsync("User")).GetProperty("row");
        Assert.Equal(id, row.GetProperty("id").GetInt64());
        Assert.True(row.TryGetProperty("email", out _));
        Assert.False(row.TryGetProperty("password", out _));
    }

    [Fact]
    public async Task Client_messages_are_refused_without_harm()
    {
        await using var s = await ConnectAsync(new { auth = Auth("Customer", AdminToken) });
        await s.SendAsync(new { cmd = "emit", args = new object[] { "Customer", new { type = "INSERT" } }, ack = true });
        var ack = await s.WaitForAsync(l => NodeSubscriber.Is(l, "ack"), "ack");
        Assert.Equal("Client to server messages are not supported.", ack.GetProperty("reply").GetProperty("error").GetString());
        await s.SendAsync(new { cmd = "emit", args = new object[] { "anything", 1, 2 } });
        var id = await CreateCustomerAsync(1);
        await s.EventAsync("Customer", p => p.GetProperty("custId").GetString() == id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, s.Count(l => NodeSubscriber.Is(l, "connect")));
    }

    [Fact]
    public async Task A_socket_is_closed_when_its_token_expires_so_the_client_reconnects_with_a_fresh_one()
    {
        await using var shortLived = await fixture.StartServerAsync(new Dictionary<string, string?> { ["JWT_EXPIRES_IN"] = "5s" });
        var token = shortLived.Token(1, AuthHelpers.AdminEmail);
        await using var s = NodeSubscriber.Start(shortLived.Address, new { auth = Auth("Customer", token) });
        await s.ConnectedAsync();
        var disconnect = await s.WaitForAsync(l => NodeSubscriber.Is(l, "disconnect"), "disconnect", TimeSpan.FromSeconds(20));
        Assert.Equal("transport close", disconnect.GetProperty("reason").GetString());
        Assert.Equal("Access token expired", await s.ConnectErrorAsync());

        // With a fresh token (what an `auth` callback gives on reconnect) it is connected again.
        await s.SendAsync(new { cmd = "auth", auth = Auth("Customer", shortLived.Token(1, AuthHelpers.AdminEmail)) });
        await s.SendAsync(new { cmd = "connect" });
        await s.WaitForAsync(l => NodeSubscriber.Is(l, "connect"), "reconnect", TimeSpan.FromSeconds(10), skip: 1);
    }

    [Fact]
    public async Task A_client_that_drops_gets_what_it_missed_on_reconnect()
    {
        // A slow reconnect leaves time to write while the client is away.
        await using var s = await ConnectAsync(new { auth = Auth("Customer", AdminToken), reconnectionDelay = 1500, reconnectionDelayMax = 1500, randomizationFactor = 0 });
        var before = await CreateCustomerAsync(1);
        await s.EventAsync("Customer", p => p.GetProperty("custId").GetString() == before.ToString(System.Globalization.CultureInfo.InvariantCulture));

        await s.SendAsync(new { cmd = "close-transport" });
        await s.WaitForAsync(l => NodeSubscriber.Is(l, "disconnect"), "disconnect");
        var missed = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            missed.Add(await CreateCustomerAsync(1));
        }

        var reconnect = await s.WaitForAsync(l => NodeSubscriber.Is(l, "connect"), "reconnect", TimeSpan.FromSeconds(15), skip: 1);
        Assert.True(reconnect.GetProperty("recovered").GetBoolean());
        var after = await CreateCustomerAsync(1);
        foreach (var id in missed.Append(after))
        {
            await s.EventAsync("Customer", p => p.GetProperty("custId").GetString() == id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        foreach (var id in missed.Append(before).Append(after))
        {
            Assert.Equal(1, CustomerEvents(s, id));
        }
    }
}

public sealed class SqliteRealtimeSpec(SqliteAuthDemo fixture) : RealtimeSpec(fixture), IClassFixture<SqliteAuthDemo>;

public sealed class PostgresRealtimeSpec(PostgresAuthDemo fixture) : RealtimeSpec(fixture), IClassFixture<PostgresAuthDemo>;

public sealed class MySqlRealtimeSpec(MySqlAuthDemo fixture) : RealtimeSpec(fixture), IClassFixture<MySqlAuthDemo>;
