using System.Globalization;
using Llana.Server.Tests.Infrastructure;
using static Llana.Server.Tests.Infrastructure.AuthHelpers;

namespace Llana.Server.Tests;

/// Who the client is behind proxies (`TRUSTED_PROXIES`), the sign-in limits, and the production defaults
/// (issue 11 items 3–5). Independent of the database engine: SQLite only.
public sealed class TrustSpec(SqliteAuthDemo fixture) : IClassFixture<SqliteAuthDemo>
{
    private static Dictionary<string, string> From(string forwardedFor) => new() { ["X-Forwarded-For"] = forwardedFor };

    private static Task<Reply> Login(HttpClient http, string username, string password, string? forwardedFor = null) =>
        http.Send(HttpMethod.Post, "/auth/login", new { username, password }, headers: forwardedFor is null ? null : From(forwardedFor));

    private static Task<Reply> Refresh(HttpClient http, string refreshToken, string forwardedFor) =>
        http.Send(HttpMethod.Post, "/auth/refresh", headers: new Dictionary<string, string> { ["Cookie"] = "refreshToken=" + refreshToken, ["X-Forwarded-For"] = forwardedFor });

    private static void AssertTooMany(Reply r)
    {
        Assert.Equal(429, r.Status);
        var retryAfter = int.Parse(Assert.Single(r.Message.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 60);
    }

    [Fact]
    public async Task Forwarding_headers_count_only_from_a_trusted_proxy()
    {
        // The test client is the peer (127.0.0.1). Not a trusted proxy: whatever it claims, it is itself.
        await using (var untrusted = await fixture.StartServerAsync(Production(("HOSTS", "10.1.2.3"), ("TRUSTED_PROXIES", "10.0.0.9"))))
        {
            using var http = untrusted.Client();
            Assert.Equal(403, (await http.Send(HttpMethod.Get, "/Employee/", headers: new Dictionary<string, string> { ["X-Real-IP"] = "10.1.2.3" })).Status);
            Assert.Equal(403, (await http.Send(HttpMethod.Get, "/Employee/", headers: From("10.1.2.3"))).Status);
        }

        // Loopback is trusted by default: the rightmost address a trusted hop added is the client.
        await using (var proxied = await fixture.StartServerAsync(Production(("HOSTS", "10.1.2.3, 192.0.2.7"))))
        {
            using var http = proxied.Client();
            Assert.Equal(200, (await http.Send(HttpMethod.Get, "/Employee/", headers: From("10.1.2.3"))).Status);
            Assert.Equal(200, (await http.Send(HttpMethod.Get, "/Employee/", headers: new Dictionary<string, string> { ["X-Real-IP"] = "10.1.2.3" })).Status);

            // An appending proxy: the client wrote the first entry, the proxy appended the address it saw.
            Assert.Equal(403, (await http.Send(HttpMethod.Get, "/Employee/", headers: From("10.1.2.3, 10.7.7.7"))).Status);
            Assert.Equal(200, (await http.Send(HttpMethod.Get, "/Employee/", headers: From("10.7.7.7, 10.1.2.3"))).Status);

            // X-Forwarded-For carries the chain; an X-Real-IP beside it is not believed instead.
            Assert.Equal(403, (await http.Send(HttpMethod.Get, "/Employee/", headers: new Dictionary<string, string> { ["X-Real-IP"] = "10.1.2.3", ["X-Forwarded-For"] = "10.7.7.7" })).Status);

            // 10.0.0.5 is not a trusted hop, so it is the client, not the address it forwards.
            Assert.Equal(403, (await http.Send(HttpMethod.Get, "/Employee/", headers: From("192.0.2.7, 10.0.0.5"))).Status);
        }

        // Two trusted hops (a value replaces the default, so loopback is listed again).
        await using (var twoHops = await fixture.StartServerAsync(Production(("HOSTS", "192.0.2.7"), ("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"))))
        {
            using var http = twoHops.Client();
            Assert.Equal(200, (await http.Send(HttpMethod.Get, "/Employee/", headers: From("192.0.2.7, 10.0.0.5"))).Status);
            Assert.Equal(403, (await http.Send(HttpMethod.Get, "/Employee/", headers: From("192.0.2.7, 172.16.0.1, 10.0.0.5"))).Status);
        }
    }

    [Theory]
    [InlineData("polling", "127.0.0.1/32", true)]
    [InlineData("websocket", "127.0.0.1/32", true)]
    [InlineData("polling", "10.0.0.9", false)]
    [InlineData("websocket", "10.0.0.9", false)]
    public async Task A_sockets_client_address_is_resolved_like_http_on_both_paths(string transport, string trustedProxies, bool allowed)
    {
        // The WebSocket-only client is served on the Kestrel connection, below the HTTP pipeline.
        await using var server = await fixture.StartServerAsync(Production(("HOSTS", "10.9.8.7"), ("TRUSTED_PROXIES", trustedProxies)));
        var options = new
        {
            auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer", ["token"] = server.Token(1, AdminEmail) },
            transports = new[] { transport },
            extraHeaders = new Dictionary<string, string> { ["x-forwarded-for"] = "10.9.8.7" },
            reconnection = false,
        };
        await using var socket = NodeSubscriber.Start(server.Address, options);
        if (allowed)
        {
            await socket.ConnectedAsync();
        }
        else
        {
            Assert.Equal("Forbidden", await socket.ConnectErrorAsync());
        }
    }

    [Fact]
    public async Task An_attacker_on_one_account_blocks_neither_other_accounts_nor_other_addresses()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["AUTH_LOGIN_RATE_LIMIT"] = "3" });
        using var http = server.Client();
        const string attacker = "198.51.100.66";
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(401, (await Login(http, AdminEmail, "wrong", attacker)).Status);
        }

        // The attacked account waits out the minute, whoever asks (in any letter case).
        AssertTooMany(await Login(http, AdminEmail.ToUpperInvariant(), DemoPassword, "203.0.113.5"));

        // Another account signs in, from the attacker's address as well as from another.
        Assert.Equal(200, (await Login(http, UserEmail, DemoPassword, attacker)).Status);
        Assert.Equal(200, (await Login(http, UserEmail, DemoPassword, "203.0.113.5")).Status);
    }

    [Fact]
    public async Task Successful_sign_ins_never_count()
    {
        // Behind one proxy address, and on an account shared by several clients: only failures use up a limit.
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["AUTH_LOGIN_RATE_LIMIT"] = "2" });
        using var http = server.Client();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await Login(http, AdminEmail, DemoPassword)).Status);
            Assert.Equal(200, (await Login(http, UserEmail, DemoPassword)).Status);
        }

        Assert.Equal(401, (await Login(http, AdminEmail, "wrong")).Status);
        Assert.Equal(200, (await Login(http, AdminEmail, DemoPassword)).Status);
    }

    [Fact]
    public async Task A_burst_of_parallel_guesses_cannot_overrun_the_counts()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["AUTH_LOGIN_RATE_LIMIT"] = "2" });
        using var http = server.Client();

        // One account, from many addresses at once: 2 passwords are checked, the rest wait out the minute.
        var onAccount = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Login(http, AdminEmail, "guess" + i, $"198.51.100.{i + 1}")));
        Assert.Equal(2, onAccount.Count(r => r.Status == 401));
        Assert.All(onAccount.Where(r => r.Status != 401), AssertTooMany);

        // Many accounts, from one address at once: 2 × 10 failures are checked, plus at most one that was already
        // running beside the twentieth (two run at a time).
        var fromAddress = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Login(http, $"spray{i}@test.com", "guess", "203.0.113.77")));
        Assert.InRange(fromAddress.Count(r => r.Status == 401), 20, 21);
        Assert.All(fromAddress.Where(r => r.Status != 401), AssertTooMany);
    }

    [Fact]
    public async Task Failures_from_one_address_stop_that_address_on_login_and_refresh_only()
    {
        // Limit 1: one failure per account, ten per address.
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["AUTH_LOGIN_RATE_LIMIT"] = "1" });
        using var http = server.Client();
        const string guesser = "198.51.100.7";
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(401, (await Login(http, $"nobody{i}@test.com", "guess", guesser)).Status);
            Assert.Equal(401, (await Refresh(http, "forged." + i + ".token", guesser)).Status);
        }

        AssertTooMany(await Login(http, UserEmail, DemoPassword, guesser));
        AssertTooMany(await Refresh(http, "forged.again.token", guesser));

        // Everyone else is untouched.
        var login = await Login(http, UserEmail, DemoPassword, "203.0.113.9");
        Assert.Equal(200, login.Status);
        var refreshToken = login.Message.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("refreshToken=", StringComparison.Ordinal)).Split(';')[0]["refreshToken=".Length..];
        Assert.Equal(200, (await Refresh(http, refreshToken, "203.0.113.9")).Status);
    }

    [Fact]
    public async Task Production_does_not_reflect_origins_unless_listed()
    {
        static async Task<string?> AllowedOrigin(LlanaServer server, string origin)
        {
            using var preflight = new HttpRequestMessage(HttpMethod.Options, "/Customer/");
            preflight.Headers.Add("Origin", origin);
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            using var http = server.Client();
            var response = await http.SendAsync(preflight);
            return response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? values.Single() : null;
        }

        await using (var production = await fixture.StartServerAsync(Production()))
        {
            Assert.Null(await AllowedOrigin(production, "https://evil.example.test"));
        }

        await using (var listed = await fixture.StartServerAsync(Production(("CORS_ORIGINS", "https://a.example.test, https://b.example.test"), ("BASE_URL_APP", "https://app.example.test"))))
        {
            Assert.Equal("https://a.example.test", await AllowedOrigin(listed, "https://a.example.test"));
            Assert.Equal("https://b.example.test", await AllowedOrigin(listed, "https://b.example.test"));
            Assert.Equal("https://app.example.test", await AllowedOrigin(listed, "https://app.example.test"));
            Assert.Null(await AllowedOrigin(listed, "https://evil.example.test"));
        }

        // Development stays friendly.
        Assert.Equal("https://evil.example.test", await AllowedOrigin(fixture.Server, "https://evil.example.test"));
    }

    [Fact]
    public async Task In_production_a_socket_takes_the_cookie_only_from_an_allowed_page()
    {
        // No CORS applies to a WebSocket and the browser sends the cookie from any site's page.
        await using var server = await fixture.StartServerAsync(Production(("CORS_ORIGINS", "https://app.example.test")));
        var own = server.Address.GetLeftPart(UriPartial.Authority);
        var cookie = "accessToken=" + server.Token(1, AdminEmail);
        async Task<string?> RefusalAsync(LlanaServer target, string? origin)
        {
            var headers = new Dictionary<string, string> { ["cookie"] = cookie };
            if (origin is not null)
            {
                headers["origin"] = origin;
            }

            await using var socket = NodeSubscriber.Start(target.Address, new
            {
                auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer" },
                transports = new[] { "websocket" },
                extraHeaders = headers,
                reconnection = false,
            });
            var outcome = await socket.WaitForAsync(l => l.GetProperty("ev").GetString() is "connect" or "connect_error", "connect or connect_error");
            return outcome.GetProperty("ev").GetString() == "connect_error" ? outcome.GetProperty("message").GetString() : null;
        }

        Assert.Equal("Missing authorization token. Use either <Bearer> token header or accessToken cookie", await RefusalAsync(server, "https://evil.example.test"));
        Assert.Null(await RefusalAsync(server, "https://app.example.test"));
        Assert.Null(await RefusalAsync(server, own));
        Assert.Null(await RefusalAsync(server, null));

        // Development stays friendly (its keys are the fixture's defaults, so the cookie is minted there).
        cookie = "accessToken=" + fixture.Server.Token(1, AdminEmail);
        Assert.Null(await RefusalAsync(fixture.Server, "https://evil.example.test"));
    }
}
