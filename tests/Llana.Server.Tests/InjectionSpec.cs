using System.Text.Json;
using Llana.Server.Tests.Infrastructure;
using static Llana.Server.Tests.Infrastructure.AuthHelpers;

namespace Llana.Server.Tests;

/// Hostile text (quotes, comments, `;`, unicode, wildcards, NUL) in every query parameter name and value, path
/// segment, JSON key and value, credential and token: each answer is a 4xx or treats the text as a harmless
/// literal, never a 5xx, and the data is the same afterwards.
public abstract class InjectionSpec(DemoFixture fixture)
{
    private static readonly string[] Payloads =
    [
        "'", "''", "\"", "`", "\\", "\\'", ";", "' OR '1'='1", "\" OR \"1\"=\"1", "1 OR 1=1", "1; DROP TABLE Customer; --",
        "'); DROP TABLE \"Customer\"; --", "`; DROP TABLE `User`; --", "x' UNION SELECT password FROM \"User\" --",
        "/* comment */", "-- comment", "#", "%", "_", "%' --", "NULL", "null", "[", "{\"a\":1}", "a\r\nb", "\u0000", "x\u0000y",
        "Llana 🦙", "Ω≈ç√∫ ƒ", "\u202eevil", "ＳＥＬＥＣＴ", "1e309", "-1", "0x41", "$1", "@p0", ":name", "?",
        "custId", "custId.asc", "Customer.companyName", "../User", "..%2F",
    ];

    private LlanaServer Server => fixture.Server;

    private async Task<string> SnapshotAsync(HttpClient admin)
    {
        var parts = new List<string>();
        foreach (var path in new[] { "/tables", "/Customer/?limit=1000&sort=custId.asc", "/User/?limit=1000&sort=id.asc", "/UserApiKey/?sort=id.asc",
                     "/SalesOrder/?limit=1000&sort=orderId.asc", "/_llana_role/?sort=id.asc", "/_llana_public_tables/?sort=id.asc" })
        {
            var r = await admin.Get(path);
            Assert.True(r.Status == 200, $"{path} answered {r.Status}");
            parts.Add(r.Text);
        }

        return string.Join("\n", parts);
    }

    private static void AssertHandled(Reply r, string what)
    {
        Assert.True(r.Status is >= 200 and < 500, $"{what} answered {r.Status}: {r.Text}");
    }

    [Fact]
    public async Task Query_parameters_answer_4xx_or_a_literal_match()
    {
        using var admin = Server.Admin();
        var before = await SnapshotAsync(admin);
        foreach (var p in Payloads)
        {
            var e = Uri.EscapeDataString(p);
            foreach (var url in new[]
            {
                $"/Customer/?companyName={e}", $"/Customer/?companyName[like]={e}", $"/Customer/?companyName[in]={e},x",
                $"/Customer/?companyName[search]={e}", $"/Customer/?custId={e}", $"/Customer/?createdAt[gt]={e}", $"/Customer/?custId[not_in]={e}",
                $"/Customer/?fields={e}", $"/Customer/?sort={e}", $"/Customer/?sort=companyName.{e}", $"/Customer/?relations={e}",
                $"/Customer/?limit={e}", $"/Customer/?offset={e}", $"/Customer/?page={e}", $"/Customer/?{e}=1", $"/Customer/?companyName[{e}]=1",
                $"/Customer/1?fields={e}", $"/Customer/1?relations={e}", $"/User/?role={e}", $"/_llana_role/?records={e}",
            })
            {
                var r = await admin.Get(url);
                AssertHandled(r, url);
                if (r.Status == 200 && url.StartsWith("/Customer/?companyName=", StringComparison.Ordinal))
                {
                    // Equality with hostile text matches nothing in the demo: it was compared as a literal.
                    Assert.Equal(0, r.Json.GetProperty("total").GetInt32());
                }
            }
        }

        Assert.Equal(before, await SnapshotAsync(admin));
    }

    [Fact]
    public async Task Path_segments_answer_4xx()
    {
        using var admin = Server.Admin();
        var before = await SnapshotAsync(admin);
        foreach (var p in Payloads)
        {
            var e = Uri.EscapeDataString(p);
            foreach (var (method, url) in new[]
            {
                ("GET", $"/{e}/"), ("GET", $"/{e}"), ("GET", $"/{e}/1"), ("GET", $"/{e}/schema"), ("GET", $"/Customer/{e}"),
                ("PUT", $"/Customer/{e}"), ("PATCH", $"/{e}/1"), ("DELETE", $"/Customer/{e}"), ("DELETE", $"/{e}/1"), ("POST", $"/{e}/"),
            })
            {
                var r = await admin.Send(new HttpMethod(method), url, method is "PUT" or "PATCH" or "POST" ? new { companyName = "x" } : null);
                AssertHandled(r, method + " " + url);
                if (method == "GET" && url == $"/Customer/{e}")
                {
                    Assert.NotEqual(200, r.Status);
                }
            }
        }

        Assert.Equal(before, await SnapshotAsync(admin));
    }

    [Fact]
    public async Task Json_keys_are_rejected_and_json_values_are_stored_as_literals()
    {
        using var admin = Server.Admin();
        var before = await SnapshotAsync(admin);
        foreach (var p in Payloads.Where(p => p is not ("custId" or "_")))
        {
            var badKey = await admin.Post("/Customer/", new Dictionary<string, object> { [p] = "x", ["companyName"] = "Key Test", ["userId"] = 1 });
            Assert.True(badKey.Status == 400, $"{p}: badKey answered {badKey.Status}: {badKey.Text}");
            var badUpdate = await admin.Put("/Customer/1", new Dictionary<string, object> { [p] = "x" });
            Assert.True(badUpdate.Status == 400, $"{p}: badUpdate answered {badUpdate.Status}: {badUpdate.Text}");
            var badBulk = await admin.Put("/Customer/", new object[] { new Dictionary<string, object> { ["custId"] = 1, [p] = "x" } });
            AssertHandled(badBulk, "bulk update with key " + p);
            Assert.Equal(0, badBulk.Json.GetProperty("successful").GetInt32());

            var created = await admin.Post("/Customer/", new { companyName = p, userId = 1, city = p.Length <= 15 ? p : null });
            AssertHandled(created, "create with value " + p);
            if (created.Status == 201)
            {
                var id = created.Json.GetProperty("custId").GetInt64();
                var read = await admin.Get($"/Customer/{id}");
                Assert.Equal(p, read.Json.GetProperty("companyName").GetString());
                var updated = await admin.Put($"/Customer/{id}", new { contactName = p });
                AssertHandled(updated, "update with value " + p);
                Assert.Equal(200, (await admin.Delete($"/Customer/{id}")).Status);
            }

            // Numeric text is a number for number columns (spec §5.7); anything else is a 400.
            var number = await admin.Post("/Customer/", new { companyName = "N", userId = p });
            AssertHandled(number, "userId " + p);
            Assert.NotEqual(201, number.Status);
            var bulkDelete = await admin.Delete("/Customer/", new object[] { new { custId = p } });
            AssertHandled(bulkDelete, "bulk delete " + p);
            Assert.True(bulkDelete.Status == 400 || bulkDelete.Json.GetProperty("deleted").GetInt32() == 0, p);
        }

        Assert.Equal(before, await SnapshotAsync(admin));
    }

    /// HostileInputs.txt: raw requests (invalid UTF-8, odd shapes, huge values) on tables, auth and the Socket.IO
    /// handshake. Adding a case is adding a line there.
    [Fact]
    public async Task Corpus_requests_answer_below_500_and_change_nothing()
    {
        using var admin = Server.Admin();
        using var user = Server.User();
        using var anon = Server.Client();
        var before = await SnapshotAsync(admin);
        var cases = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "HostileInputs.txt"))
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(HostileRequest.Parse)
            .ToList();
        Assert.True(cases.Count > 50, "the corpus was not copied next to the tests");
        foreach (var c in cases)
        {
            var http = c.Who switch { "admin" => admin, "user" => user, _ => anon };
            using var request = await c.ToRequestAsync(anon);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode < 500, $"{c.Line} answered {(int)response.StatusCode}: {text}");
            Assert.False((int)response.StatusCode == 400 && text.Length == 0 && c.Method != "GET", $"{c.Line} answered 400 without a message");
        }

        Assert.Equal(before, await SnapshotAsync(admin));
    }

    [Fact]
    public async Task Credentials_and_tokens_with_hostile_text_are_401()
    {
        using var admin = Server.Admin();
        var before = await SnapshotAsync(admin);
        using var http = Server.Client();
        foreach (var p in Payloads)
        {
            var login = await http.Post("/auth/login", new { username = p, password = p });
            Assert.True(login.Status == 401, $"{p}: login answered {login.Status}: {login.Text}");
            var login2 = await http.Post("/auth/login", new { username = AdminEmail + p, password = DemoPassword });
            Assert.True(login2.Status == 401, $"{p}: login2 answered {login2.Status}: {login2.Text}");
            var login3 = await http.Post("/auth/login", new { username = AdminEmail, password = DemoPassword + p });
            Assert.True(login3.Status == 401, $"{p}: login3 answered {login3.Status}: {login3.Text}");

            if (!p.Any(char.IsControl) && p.All(c => c < 128))
            {
                var key = await http.Send(HttpMethod.Get, "/Customer/", headers: new Dictionary<string, string> { ["x-api-key"] = p });
                Assert.True(key.Status == 401, $"{p}: key answered {key.Status}: {key.Text}");
                var bearer = await http.Send(HttpMethod.Get, "/Customer/", headers: new Dictionary<string, string> { ["Authorization"] = "Bearer " + p });
                Assert.True(bearer.Status == 401, $"{p}: bearer answered {bearer.Status}: {bearer.Text}");
                var cookie = await http.Send(HttpMethod.Post, "/auth/refresh", headers: new Dictionary<string, string> { ["Cookie"] = "refreshToken=" + Uri.EscapeDataString(p) });
                Assert.True(cookie.Status == 401, $"{p}: cookie answered {cookie.Status}: {cookie.Text}");
            }

            // A token whose subject is hostile text is signed correctly but names no user.
            using var forged = Server.Client(Craft("{\"alg\":\"HS256\"}", JsonSerializer.Serialize(new { sub = p, exp = Now + 600 }), DefaultJwtKey));
            var r = await forged.Get("/Customer/");
            Assert.True(r.Status == 401, $"{p}: r answered {r.Status}: {r.Text}");
        }

        Assert.Equal(before, await SnapshotAsync(admin));
    }
}

public sealed class SqliteInjectionSpec(SqliteAuthDemo fixture) : InjectionSpec(fixture), IClassFixture<SqliteAuthDemo>;

public sealed class PostgresInjectionSpec(PostgresAuthDemo fixture) : InjectionSpec(fixture), IClassFixture<PostgresAuthDemo>;

public sealed class MySqlInjectionSpec(MySqlAuthDemo fixture) : InjectionSpec(fixture), IClassFixture<MySqlAuthDemo>;
