using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Llana.Server.Tests.Infrastructure;
using static Llana.Server.Tests.Infrastructure.AuthHelpers;

namespace Llana.Server.Tests;

/// Authentication (spec §6, §8, §11; §14.2 auth; §17 items 3–4): login, tokens and their attacks, cookies, refresh,
/// logout, profile, API keys, password schemes, system tables, HOSTS and CORS (TrustSpec: proxies, limits, production defaults).
public abstract class AuthSpec(DemoFixture fixture)
{
    private LlanaServer Server => fixture.Server;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    private static Task<Reply> Login(HttpClient http, string username, string password) =>
        http.Post("/auth/login", new { username, password });

    private static IEnumerable<string> SetCookies(Reply r) =>
        r.Message.Headers.TryGetValues("Set-Cookie", out var values) ? values : [];

    private static void AssertUnauthorizedJson(Reply r)
    {
        Assert.Equal(401, r.Status);
        Assert.Equal("Unauthorized", r.Json.GetProperty("message").GetString());
        Assert.Equal(401, r.Json.GetProperty("statusCode").GetInt32());
    }

    [Fact]
    public async Task Login_answers_tokens_and_sets_both_cookies_with_llana_attributes()
    {
        using var http = Server.Client();
        var r = await Login(http, AdminEmail, DemoPassword);
        Assert.Equal(200, r.Status);
        var json = r.Json;
        Assert.Equal(900, json.GetProperty("expires_in").GetInt32());
        Assert.Equal(1209600, json.GetProperty("refresh_token_expires_in").GetInt32());
        var token = json.GetProperty("access_token").GetString()!;
        var payload = JsonDocument.Parse(Convert.FromBase64String(Pad(token.Split('.')[1]))).RootElement;
        Assert.Equal(1, payload.GetProperty("sub").GetInt32());
        Assert.Equal(AdminEmail, payload.GetProperty("email").GetString());
        Assert.Equal(900, payload.GetProperty("exp").GetInt64() - payload.GetProperty("iat").GetInt64());

        var cookies = SetCookies(r).ToList();
        var access = Assert.Single(cookies, c => c.StartsWith("accessToken=" + token + ";", StringComparison.Ordinal));
        var refresh = Assert.Single(cookies, c => c.StartsWith("refreshToken=", StringComparison.Ordinal));
        foreach (var cookie in new[] { access, refresh })
        {
            var attributes = cookie.ToLowerInvariant();
            Assert.Contains("; httponly", attributes);
            Assert.Contains("; secure", attributes);
            Assert.Contains("; samesite=none", attributes);
            Assert.Contains("; path=/", attributes);
            Assert.DoesNotContain("domain=", attributes);
        }

        Assert.Contains("max-age=900", access.ToLowerInvariant());
        Assert.Contains("max-age=1209600", refresh.ToLowerInvariant());

        // The token works as a Bearer header on a private table.
        using var authed = Server.Client(token);
        Assert.Equal(200, (await authed.Get("/Customer/")).Status);
    }

    [Fact]
    public async Task Login_accepts_a_form_body()
    {
        using var http = Server.Client();
        using var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = UserEmail, ["password"] = DemoPassword });
        var r = await Reply.From(await http.PostAsync("/auth/login", form));
        Assert.Equal(200, r.Status);
        Assert.True(r.Json.TryGetProperty("access_token", out _));
    }

    [Theory]
    [InlineData("{\"password\":\"test\"}")]
    [InlineData("{\"username\":\"test@test.com\"}")]
    [InlineData("{\"username\":\"nobody@test.com\",\"password\":\"test\"}")]
    [InlineData("{\"username\":\"test@test.com\",\"password\":\"wrong\"}")]
    [InlineData("{\"username\":\"test@test.com\",\"password\":\"TEST\"}")]
    [InlineData("{\"username\":1,\"password\":[\"test\"]}")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task Login_failures_are_the_framework_401(string body)
    {
        using var http = Server.Client();
        AssertUnauthorizedJson(await http.Send(HttpMethod.Post, "/auth/login", rawBody: body));
    }

    [Fact]
    public async Task Profile_works_with_the_bearer_header_and_the_cookie_and_loads_relations()
    {
        using var http = Server.Client();
        var token = (await Login(http, UserEmail, DemoPassword)).Json.GetProperty("access_token").GetString()!;

        using var bearer = Server.Client(token);
        var byHeader = await bearer.Get("/auth/profile");
        Assert.Equal(200, byHeader.Status);
        Assert.Equal(UserEmail, byHeader.Json.GetProperty("email").GetString());
        Assert.Equal(2, byHeader.Json.GetProperty("id").GetInt32());

        var byCookie = await http.Send(HttpMethod.Get, "/auth/profile", headers: new Dictionary<string, string> { ["Cookie"] = $"other=1; accessToken={token}" });
        Assert.Equal(200, byCookie.Status);
        Assert.Equal(UserEmail, byCookie.Json.GetProperty("email").GetString());

        var keys = (await bearer.Get("/auth/profile?relations=UserApiKey")).Json.GetProperty("UserApiKey");
        Assert.Equal(JsonValueKind.Array, keys.ValueKind);
        Assert.Equal(UserApiKey, keys[0].GetProperty("apiKey").GetString());

        var bad = await bearer.Get("/auth/profile?relations=Nope");
        Assert.Equal(400, bad.Status);

        var anonymous = await http.Get("/auth/profile");
        Assert.Equal(401, anonymous.Status);
        Assert.Equal("Missing authorization token. Use either &lt;Bearer&gt; token header or accessToken cookie", anonymous.Text);
    }

    [Fact]
    public async Task Refresh_rotates_tokens_from_the_cookie_only()
    {
        using var http = Server.Client();
        var login = await Login(http, AdminEmail, DemoPassword);
        var refreshCookie = SetCookies(login).Single(c => c.StartsWith("refreshToken=", StringComparison.Ordinal));
        var refreshToken = refreshCookie["refreshToken=".Length..refreshCookie.IndexOf(';', StringComparison.Ordinal)];

        var r = await http.Send(HttpMethod.Post, "/auth/refresh", headers: new Dictionary<string, string> { ["Cookie"] = "refreshToken=" + refreshToken });
        Assert.Equal(200, r.Status);
        var token = r.Json.GetProperty("access_token").GetString()!;
        Assert.Contains(SetCookies(r), c => c.StartsWith("accessToken=" + token, StringComparison.Ordinal));
        Assert.Contains(SetCookies(r), c => c.StartsWith("refreshToken=", StringComparison.Ordinal));
        using var authed = Server.Client(token);
        Assert.Equal(AdminEmail, (await authed.Get("/auth/profile")).Json.GetProperty("email").GetString());

        var missing = await http.Send(HttpMethod.Post, "/auth/refresh");
        Assert.Equal(401, missing.Status);
        Assert.Equal("No refresh token found", missing.Text);

        // An access token is not a refresh token, nor is garbage; the refresh token is not an access token.
        var accessToken = login.Json.GetProperty("access_token").GetString()!;
        foreach (var wrong in new[] { accessToken, "garbage", refreshToken + "x" })
        {
            var invalid = await http.Send(HttpMethod.Post, "/auth/refresh", headers: new Dictionary<string, string> { ["Cookie"] = "refreshToken=" + wrong });
            Assert.Equal(401, invalid.Status);
            Assert.Equal("Invalid refresh token", invalid.Json.GetProperty("message").GetString());
            Assert.Equal("Unauthorized", invalid.Json.GetProperty("error").GetString());
        }

        using var withRefresh = Server.Client(refreshToken);
        var asAccess = await withRefresh.Get("/Customer/");
        Assert.Equal(401, asAccess.Status);
        Assert.Equal("Authentication Failed", asAccess.Text);
    }

    [Fact]
    public async Task Logout_is_201_and_expires_both_cookies()
    {
        using var http = Server.Client();
        var r = await http.Send(HttpMethod.Post, "/auth/logout");
        Assert.Equal(201, r.Status);
        Assert.True(r.Json.GetProperty("success").GetBoolean());
        var cookies = SetCookies(r).ToList();
        foreach (var name in new[] { "accessToken", "refreshToken" })
        {
            var cookie = Assert.Single(cookies, c => c.StartsWith(name + "=;", StringComparison.Ordinal)).ToLowerInvariant();
            Assert.Contains("expires=thu, 01 jan 1970", cookie);
            Assert.Contains("; path=/", cookie);
            Assert.Contains("; httponly", cookie);
        }
    }

    public static TheoryData<string, string> TokenAttacks()
    {
        var now = Now;
        var payload = $"{{\"sub\":1,\"email\":\"test@test.com\",\"iat\":{now},\"exp\":{now + 600}}}";
        var valid = Craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, DefaultJwtKey);
        var parts = valid.Split('.');
        return new TheoryData<string, string>
        {
            { Craft("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, null), "Authentication Failed" },
            { Craft("{\"alg\":\"None\"}", payload, null), "Authentication Failed" },
            { Craft("{\"alg\":\"none\"}", payload, DefaultJwtKey), "Authentication Failed" },
            { Craft("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, DefaultJwtKey), "Authentication Failed" },
            { Craft("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, DefaultJwtKey), "Authentication Failed" },
            { Craft("{\"typ\":\"JWT\"}", payload, DefaultJwtKey), "Authentication Failed" },
            { Craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "wrong-key-123"), "Authentication Failed" },
            { Craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "S$3cr3tK3yRefresh"), "Authentication Failed" },
            { parts[0] + "." + Base64Url(payload.Replace("\"sub\":1", "\"sub\":2", StringComparison.Ordinal)) + "." + parts[2], "Authentication Failed" },
            { parts[0] + "." + parts[1] + ".", "Authentication Failed" },
            { parts[0] + "." + parts[1], "Authentication Failed" },
            { valid[..^2] + (valid[^2] == 'A' ? "BB" : "AA"), "Authentication Failed" },
            { Craft("{\"alg\":\"HS256\"}", $"{{\"sub\":1,\"iat\":{now - 1000},\"exp\":{now - 10}}}", DefaultJwtKey), "Access token expired" },
            { Craft("{\"alg\":\"HS256\"}", $"{{\"sub\":1,\"exp\":\"{now + 600}\"}}", DefaultJwtKey), "Authentication Failed" },
            { Craft("{\"alg\":\"HS256\"}", $"{{\"email\":\"test@test.com\",\"exp\":{now + 600}}}", DefaultJwtKey), "Authentication Failed" },

            // Without `exp` a stolen or forged token would never expire.
            { Craft("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"sub\":1,\"email\":\"test@test.com\"}", DefaultJwtKey), "Authentication Failed" },
            { "not-a-token", "Authentication Failed" },
            { "a.b.c", "Authentication Failed" },
        };
    }

    [Theory]
    [MemberData(nameof(TokenAttacks))]
    public async Task Forged_expired_and_malformed_tokens_are_401(string token, string message)
    {
        using var http = Server.Client();
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer " + token);
        var r = await http.Get("/Customer/");
        Assert.Equal(401, r.Status);
        Assert.Equal(message, r.Text);

        var cookie = await Server.Client().Send(HttpMethod.Get, "/Customer/", headers: new Dictionary<string, string> { ["Cookie"] = "accessToken=" + token });
        Assert.Equal(401, cookie.Status);

        // A public table still answers a caller with a bad token.
        Assert.Equal(200, (await http.Get("/Employee/")).Status);
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Bearer  ")]
    [InlineData("bearer {0}")]
    [InlineData("Basic {0}")]
    [InlineData("Token {0}")]
    public async Task Only_an_exact_bearer_header_carries_the_token(string format)
    {
        using var http = Server.Client();
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", string.Format(System.Globalization.CultureInfo.InvariantCulture, format, Server.Token(1)));
        Assert.Equal(401, (await http.Get("/Customer/")).Status);
    }

    [Fact]
    public async Task Tables_requires_authentication_but_no_role()
    {
        using var anonymous = Server.Client();
        var r = await anonymous.Get("/tables");
        Assert.Equal(401, r.Status);
        Assert.StartsWith("Missing authorization token", r.Text);
        using var user = Server.User();
        Assert.Equal(200, (await user.Get("/tables")).Status);
    }

    [Fact]
    public async Task Api_key_in_the_default_header_authenticates_its_user()
    {
        using var http = Server.Client();
        var profile = await http.Send(HttpMethod.Get, "/auth/profile", headers: new Dictionary<string, string> { ["x-api-key"] = UserApiKey });
        Assert.Equal(200, profile.Status);
        Assert.Equal(UserEmail, profile.Json.GetProperty("email").GetString());

        var admin = await http.Send(HttpMethod.Get, "/Customer/", headers: new Dictionary<string, string> { ["x-api-key"] = AdminApiKey });
        Assert.Equal(200, admin.Status);

        foreach (var wrong in new[] { "nope", AdminApiKey.ToLowerInvariant(), AdminApiKey.ToUpperInvariant(), AdminApiKey[..^1], AdminApiKey + "x", "' OR '1'='1" })
        {
            var r = await http.Send(HttpMethod.Get, "/Customer/", headers: new Dictionary<string, string> { ["x-api-key"] = wrong });
            Assert.Equal(401, r.Status);
        }
    }

    [Fact]
    public async Task A_soft_deleted_api_key_stops_working()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["SOFT_DELETE_COLUMN"] = "deletedAt" });
        using var admin = server.Admin();
        var key = Unique("key-");
        var created = await admin.Post("/UserApiKey/", new { userId = 2, apiKey = key });
        Assert.Equal(201, created.Status);
        using var http = server.Client();
        var headers = new Dictionary<string, string> { ["x-api-key"] = key };
        Assert.Equal(200, (await http.Send(HttpMethod.Get, "/auth/profile", headers: headers)).Status);

        Assert.Equal(200, (await admin.Delete("/UserApiKey/" + created.Json.GetProperty("id").GetInt64())).Status);
        Assert.Equal(401, (await http.Send(HttpMethod.Get, "/auth/profile", headers: headers)).Status);
    }

    [Fact]
    public async Task Api_key_in_the_query_is_a_credential_not_a_filter()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["AUTH_USER_API_KEY_LOCATION"] = "QUERY", ["AUTH_USER_API_KEY_NAME"] = "key" });
        using var http = server.Client();
        var r = await http.Get("/Customer/?limit=2&key=" + Uri.EscapeDataString(UserApiKey));
        Assert.Equal(200, r.Status);
        Assert.Equal(2, r.Json.GetProperty("data").GetArrayLength());
        Assert.Equal(401, (await http.Get("/Customer/?key=wrong")).Status);
        Assert.Equal(401, (await http.Send(HttpMethod.Get, "/Customer/", headers: new Dictionary<string, string> { ["x-api-key"] = UserApiKey })).Status);
    }

    [Fact]
    public async Task Api_key_in_the_body_authenticates_and_is_not_a_column()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["AUTH_USER_API_KEY_LOCATION"] = "BODY" });
        using var http = server.Client();
        var r = await http.Post("/Customer/", new Dictionary<string, object> { ["x-api-key"] = AdminApiKey, ["companyName"] = "Body Key Co", ["userId"] = 1 });
        Assert.Equal(201, r.Status);
        Assert.Equal("Body Key Co", r.Json.GetProperty("companyName").GetString());
        Assert.False(r.Json.TryGetProperty("x-api-key", out _));
        Assert.Equal(401, (await http.Post("/Customer/", new Dictionary<string, object> { ["x-api-key"] = "nope", ["companyName"] = "X", ["userId"] = 1 })).Status);
    }

    private async Task<string> StoredPasswordAsync(long id) =>
        (string)(await fixture.Database.ScalarAsync(Quote($"SELECT {{password}} FROM {{User}} WHERE {{id}} = {id}")))!;

    [Fact]
    public async Task The_password_hash_is_never_returned()
    {
        using var admin = Server.Admin();
        using var user = Server.User();
        var reads = new (HttpClient Http, string Url)[]
        {
            (admin, "/User/"), (admin, "/User/1"), (admin, "/User/1?fields=id,password"), (user, "/User/2"), (admin, "/auth/profile"),
            (user, "/auth/profile"), (admin, "/UserApiKey/?relations=User"), (admin, "/Customer/?relations=User&limit=3"),
            (admin, "/Customer/1?relations=User"), (admin, "/auth/profile?relations=UserApiKey"),
        };
        foreach (var (http, url) in reads)
        {
            var r = await http.Get(url);
            Assert.True(r.Status == 200, $"{url}: {r.Status} {r.Text}");
            Assert.DoesNotContain("\"password\"", r.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("$2", r.Text, StringComparison.Ordinal);
        }

        // Nor can it be probed through filters or sorting.
        var probe = await admin.Get("/User/?password[like]=$2%");
        Assert.Equal(400, probe.Status);
        Assert.Contains("Column password is write-only", probe.Text, StringComparison.Ordinal);
        Assert.Equal(400, (await admin.Get("/User/?sort=password.asc")).Status);
    }

    [Fact]
    public async Task Api_keys_are_visible_to_their_owner_and_admins_only()
    {
        // A default rule that lets users read every table, and no rule naming the key table.
        using var admin = Server.Admin();
        using var user = Server.User();
        var rules = await admin.Get($"/_llana_role/?table={Uri.EscapeDataString(AuthKeyTable)}&role=USER");
        var ids = rules.Json.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetInt64()).ToList();
        foreach (var id in ids)
        {
            Assert.Equal(200, (await admin.Delete($"/_llana_role/{id}")).Status);
        }

        try
        {
            var keys = await user.Get("/UserApiKey/");
            Assert.Equal(200, keys.Status);
            Assert.All(keys.Json.GetProperty("data").EnumerateArray(), k => Assert.Equal(2, k.GetProperty("userId").GetInt64()));
            Assert.DoesNotContain(AdminApiKey, keys.Text, StringComparison.Ordinal);
            Assert.Contains(AdminApiKey, (await admin.Get("/UserApiKey/")).Text, StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(201, (await admin.Post("/_llana_role/", new { custom = true, table = AuthKeyTable, identity_column = "userId", role = "USER", records = "NONE", own_records = "WRITE" })).Status);
        }
    }

    private const string AuthKeyTable = "UserApiKey";

    [Fact]
    public async Task The_openapi_document_lists_what_the_caller_may_use()
    {
        using var anon = Server.Client();
        using var user = Server.User();
        using var admin = Server.Admin();
        static string[] Paths(Reply r) => r.Json.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToArray();

        // Anonymous: sign-in and the demo's public table (Employee, READ), nothing else.
        var open = await anon.Get("/openapi.json");
        Assert.Equal(["/auth/login", "/auth/refresh", "/auth/logout", "/auth/profile", "/Employee/", "/Employee/{id}", "/Employee/schema"], Paths(open));
        Assert.Equal(["get"], open.Json.GetProperty("paths").GetProperty("/Employee/").EnumerateObject().Select(o => o.Name).ToArray());
        Assert.False(open.Json.GetProperty("components").GetProperty("schemas").TryGetProperty("Customer", out _));

        // A USER reads every application table; an admin may also delete. Llana's own tables are never listed.
        var mine = await user.Get("/openapi.json");
        Assert.Contains("/Customer/", Paths(mine));
        Assert.DoesNotContain(Paths(mine), p => p.StartsWith("/_llana", StringComparison.Ordinal));
        Assert.False(mine.Json.GetProperty("paths").GetProperty("/Customer/{id}").TryGetProperty("delete", out _));
        var all = await admin.Get("/openapi.json");
        Assert.True(all.Json.GetProperty("paths").GetProperty("/Customer/{id}").TryGetProperty("delete", out _));
        var login = all.Json.GetProperty("paths").GetProperty("/auth/login").GetProperty("post").GetProperty("responses");
        Assert.True(login.TryGetProperty("200", out _));
        Assert.False(login.TryGetProperty("201", out _));
        Assert.True(all.Json.GetProperty("components").GetProperty("schemas").GetProperty("User").GetProperty("properties").GetProperty("password").GetProperty("writeOnly").GetBoolean());
    }

    [Fact]
    public async Task System_tables_are_for_admins_unless_a_rule_names_them()
    {
        using var admin = Server.Admin();
        using var user = Server.User();
        foreach (var url in new[] { "/_llana_role/", "/_llana_public_tables/", "/_llana_webhook/", "/_llana_webhook_log/", "/webhook/" })
        {
            var denied = await user.Get(url);
            Assert.True(denied.Status == 401, $"{url}: {denied.Status} {denied.Text}");
            Assert.Equal(200, (await admin.Get(url)).Status);
        }

        Assert.Equal(401, (await user.Post("/_llana_role/", new { custom = false, role = "USER", records = "DELETE" })).Status);

        // A rule that names the table opens it, here to a user's own webhooks.
        var rule = await admin.Post("/_llana_role/", new { custom = true, table = "_llana_webhook", identity_column = "user_identifier", role = "USER", records = "NONE", own_records = "DELETE" });
        Assert.Equal(201, rule.Status);
        try
        {
            var mine = await user.Post("/webhook/", new { url = "https://example.com/hook", table = "Customer", user_identifier = "2" });
            Assert.True(mine.Status == 201, mine.Text);
            Assert.Equal(200, (await user.Get("/webhook/")).Status);
            Assert.Equal(200, (await user.Delete($"/webhook/{mine.Json.GetProperty("id").GetInt64()}")).Status);
            Assert.Equal(401, (await user.Get("/_llana_role/")).Status);
        }
        finally
        {
            Assert.Equal(200, (await admin.Delete($"/_llana_role/{rule.Json.GetProperty("id").GetInt64()}")).Status);
        }
    }

    [Fact]
    public async Task Writes_to_the_user_table_hash_the_password_and_login_verifies_it()
    {
        using var admin = Server.Admin();
        var email = Unique("pw") + "@test.com";
        var created = await admin.Post("/User/", new { email, password = "s3cret!", role = "USER" });
        Assert.Equal(201, created.Status);
        Assert.False(created.Json.TryGetProperty("password", out _));
        var hash = await StoredPasswordAsync(created.Json.GetProperty("id").GetInt64());
        Assert.StartsWith("$2b$10$", hash);
        Assert.True(BCrypt.Net.BCrypt.Verify("s3cret!", hash));
        using var http = Server.Client();
        Assert.Equal(200, (await Login(http, email, "s3cret!")).Status);
        AssertUnauthorizedJson(await Login(http, email, hash));

        var id = created.Json.GetProperty("id").GetInt64();
        var updated = await admin.Put($"/User/{id}", new { password = "n3w-pass" });
        Assert.Equal(200, updated.Status);
        Assert.False(updated.Json.TryGetProperty("password", out _));
        Assert.StartsWith("$2b$", await StoredPasswordAsync(id));
        Assert.Equal(200, (await Login(http, email, "n3w-pass")).Status);
        AssertUnauthorizedJson(await Login(http, email, "s3cret!"));
    }

    [Theory]
    [InlineData("BCRYPT")]
    [InlineData("ARGON2")]
    [InlineData("SHA1")]
    [InlineData("SHA256")]
    [InlineData("SHA512")]
    [InlineData("MD5")]
    public async Task Every_password_scheme_hashes_on_write_and_verifies_on_login(string scheme)
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?>
        {
            ["AUTH_USER_TABLE_PASSWORD_ENCRYPTION"] = scheme,
            ["AUTH_USER_TABLE_PASSWORD_SALT"] = scheme == "BCRYPT" ? "5" : "pepper",
        });
        using var admin = server.Admin();
        var email = Unique(scheme.ToLowerInvariant()) + "@test.com";
        var created = await admin.Post("/User/", new { email, password = "pässword", role = "USER" });
        Assert.Equal(201, created.Status);
        var hash = await StoredPasswordAsync(created.Json.GetProperty("id").GetInt64());
        var data = Encoding.UTF8.GetBytes("pässword");
        var key = Encoding.UTF8.GetBytes("pepper");
        switch (scheme)
        {
            case "BCRYPT":
                Assert.StartsWith("$2b$05$", hash);
                break;
            case "ARGON2":
                Assert.StartsWith("$argon2id$v=19$m=65536,t=3,p=4$", hash);
                break;
            default:
                var expected = scheme switch
                {
                    "SHA1" => HMACSHA1.HashData(key, data),
                    "SHA256" => HMACSHA256.HashData(key, data),
                    "SHA512" => HMACSHA512.HashData(key, data),
                    _ => HMACMD5.HashData(key, data),
                };
                Assert.Equal(Convert.ToHexStringLower(expected), hash);
                break;
        }

        using var http = server.Client();
        Assert.Equal(200, (await Login(http, email, "pässword")).Status);
        AssertUnauthorizedJson(await Login(http, email, "password"));
    }

    [Fact]
    public async Task An_argon2_phc_string_from_another_implementation_verifies()
    {
        // Node's `argon2` writes this PHC form: argon2id, v=19, its parameters, unpadded base64 salt and hash.
        byte[] salt = Encoding.UTF8.GetBytes("somesaltsomesalt");
        using var argon = new Konscious.Security.Cryptography.Argon2id(Encoding.UTF8.GetBytes("password"))
        {
            Salt = salt,
            MemorySize = 4096,
            Iterations = 2,
            DegreeOfParallelism = 1,
        };
        var encoded = $"$argon2id$v=19$m=4096,t=2,p=1${Convert.ToBase64String(salt).TrimEnd('=')}${Convert.ToBase64String(argon.GetBytes(32)).TrimEnd('=')}";
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["AUTH_USER_TABLE_PASSWORD_ENCRYPTION"] = "ARGON2" });
        var hasher = server.Get<Llana.Core.Auth.PasswordHasher>();
        Assert.True(hasher.Verify("password", encoded));
        Assert.False(hasher.Verify("Password", encoded));
        Assert.False(hasher.Verify("password", encoded.Replace("m=4096", "m=999999999", StringComparison.Ordinal)));
        Assert.False(hasher.Verify("password", "$argon2id$v=19$garbage"));
    }

    [Fact]
    public async Task Boot_creates_and_seeds_the_system_tables_once()
    {
        using var admin = Server.Admin();
        var roles = (await admin.Get("/_llana_role/?sort=id.asc")).Json.GetProperty("data").EnumerateArray().ToList();
        Assert.True(roles.Count >= 4);
        string Row(JsonElement r) => string.Join("|",
            r.GetProperty("custom").GetBoolean(), r.GetProperty("table").ToString(), r.GetProperty("identity_column").ToString(),
            r.GetProperty("role").GetString(), r.GetProperty("records").GetString(), r.GetProperty("own_records").ToString());
        Assert.Equal(
            ["False|||ADMIN|DELETE|", "False|||USER|READ|", "True|User||USER|NONE|WRITE", "True|UserApiKey|userId|USER|NONE|WRITE"],
            roles.Take(4).Select(Row).ToArray());
        var publicRows = (await admin.Get("/_llana_public_tables/?sort=id.asc")).Json.GetProperty("data");
        Assert.Equal("Employee", publicRows[0].GetProperty("table").GetString());
        Assert.Equal("READ", publicRows[0].GetProperty("access_level").GetString());

        var schema = (await admin.Get("/_llana_role/schema")).Json.GetProperty("columns").EnumerateArray().ToDictionary(c => c.GetProperty("field").GetString()!);
        Assert.Equal(["NONE", "READ", "WRITE", "DELETE"], schema["records"].GetProperty("enums").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal("boolean", schema["custom"].GetProperty("type").GetString());
        var webhook = (await admin.Get("/_llana_webhook/schema")).Json.GetProperty("columns").EnumerateArray().ToDictionary(c => c.GetProperty("field").GetString()!);
        Assert.Equal(["GET", "POST", "PUT", "PATCH", "DELETE"], webhook["type"].GetProperty("enums").EnumerateArray().Select(e => e.GetString()!).ToArray());
        var log = (await admin.Get("/_llana_webhook_log/schema")).Json;
        Assert.Contains(log.GetProperty("relations").EnumerateArray(), r => r.GetProperty("table").GetString() == "_llana_webhook");

        // A second instance over the same database neither fails nor seeds again.
        var count = Convert.ToInt64(await fixture.Database.ScalarAsync(Quote("SELECT COUNT(*) FROM {_llana_role}")), System.Globalization.CultureInfo.InvariantCulture);
        await using (var again = await fixture.StartServerAsync(new Dictionary<string, string?>()))
        {
            using var adminAgain = again.Admin();
            Assert.Equal(200, (await adminAgain.Get("/Customer/")).Status);
        }

        Assert.Equal(count, Convert.ToInt64(await fixture.Database.ScalarAsync(Quote("SELECT COUNT(*) FROM {_llana_role}")), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task The_webhook_alias_reaches_the_webhook_table()
    {
        using var admin = Server.Admin();
        var created = await admin.Post("/webhook/", new { url = "https://example.test/hook", table = "Customer" });
        Assert.Equal(201, created.Status);
        Assert.Equal("POST", created.Json.GetProperty("type").GetString());
        Assert.True(created.Json.GetProperty("on_create").GetBoolean());
        Assert.Equal(200, (await admin.Delete("/webhook/" + created.Json.GetProperty("id").GetInt64())).Status);
    }

    [Fact]
    public async Task Hosts_are_enforced_in_production()
    {
        await using var server = await fixture.StartServerAsync(Production(("HOSTS", "10.1.2.3, 10.9.9.9"), ("AUTH_COOKIES_DOMAIN", "example.test")));
        using var http = server.Client();
        var denied = await http.Get("/Employee/");
        Assert.Equal(403, denied.Status);
        Assert.Equal("Forbidden", denied.Text);
        Assert.Equal(403, (await http.Send(HttpMethod.Get, "/Employee/", headers: new Dictionary<string, string> { ["x-real-ip"] = "10.1.2.4" })).Status);
        Assert.Equal(200, (await http.Send(HttpMethod.Get, "/Employee/", headers: new Dictionary<string, string> { ["x-real-ip"] = "10.1.2.3" })).Status);
        Assert.Equal(200, (await http.Send(HttpMethod.Get, "/Employee/", headers: new Dictionary<string, string> { ["x-forwarded-for"] = "10.9.9.9" })).Status);

        var login = await http.Send(HttpMethod.Post, "/auth/login", new { username = AdminEmail, password = DemoPassword }, headers: new Dictionary<string, string> { ["x-real-ip"] = "10.1.2.3" });
        Assert.Equal(200, login.Status);
        Assert.All(SetCookies(login), c => Assert.Contains("domain=example.test", c.ToLowerInvariant()));

        // The development default only logs.
        await using var dev = await fixture.StartServerAsync(new Dictionary<string, string?> { ["HOSTS"] = "10.1.2.3" });
        using var devHttp = dev.Client();
        Assert.Equal(200, (await devHttp.Get("/Employee/")).Status);
    }

    [Fact]
    public async Task Production_without_a_cookie_domain_refuses_to_issue_cookies()
    {
        await using var server = await fixture.StartServerAsync(Production());
        using var http = server.Client();
        Assert.Equal(500, (await Login(http, AdminEmail, DemoPassword)).Status);
    }

    [Fact]
    public async Task Token_lifetimes_accept_llana_duration_forms()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["JWT_EXPIRES_IN"] = "1h", ["JWT_REFRESH_EXPIRES_IN"] = "30s" });
        using var http = server.Client();
        var r = await Login(http, AdminEmail, DemoPassword);
        Assert.Equal(3600, r.Json.GetProperty("expires_in").GetInt32());
        Assert.Equal(30, r.Json.GetProperty("refresh_token_expires_in").GetInt32());
    }

    [Fact]
    public async Task Cors_allows_the_app_origin_with_credentials()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["BASE_URL_APP"] = "https://app.example.test" });
        using var http = server.Client();
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/Customer/");
        preflight.Headers.Add("Origin", "https://app.example.test");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        var response = await http.SendAsync(preflight);
        Assert.Equal("https://app.example.test", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", response.Headers.GetValues("Access-Control-Allow-Credentials").Single());

        using var other = new HttpRequestMessage(HttpMethod.Get, "/Employee/");
        other.Headers.Add("Origin", "https://evil.example.test");
        var otherResponse = await http.SendAsync(other);
        Assert.False(otherResponse.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Skip_auth_keeps_the_server_open_and_disables_login()
    {
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["SKIP_AUTH"] = "true" });
        using var http = server.Client();
        Assert.Equal(200, (await http.Get("/Customer/")).Status);
        Assert.Equal(200, (await http.Get("/tables")).Status);
        var login = await Login(http, AdminEmail, DemoPassword);
        Assert.Equal(400, login.Status);
        Assert.Equal("Authentication is disabled", login.Json.GetProperty("message").GetString());
        AssertUnauthorizedJson(await Login(http, AdminEmail, "wrong"));
    }

    private string Quote(string sql) => fixture.Kind == Llana.Data.DatabaseKind.MySql
        ? sql.Replace("{", "`", StringComparison.Ordinal).Replace("}", "`", StringComparison.Ordinal)
        : sql.Replace("{", "\"", StringComparison.Ordinal).Replace("}", "\"", StringComparison.Ordinal);

    private static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
    }
}

public sealed class SqliteAuthSpec(SqliteAuthDemo fixture) : AuthSpec(fixture), IClassFixture<SqliteAuthDemo>;

public sealed class PostgresAuthSpec(PostgresAuthDemo fixture) : AuthSpec(fixture), IClassFixture<PostgresAuthDemo>;

public sealed class MySqlAuthSpec(MySqlAuthDemo fixture) : AuthSpec(fixture), IClassFixture<MySqlAuthDemo>;
