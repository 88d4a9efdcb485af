using Llana.Data;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;

namespace Llana.Server.Tests;

/// The database unreachable (its connections cut and new ones refused, through a TCP link): every endpoint family
/// answers 503 with `Retry-After`, client mistakes stay 4xx, and service resumes when the link returns.
public sealed class DatabaseDownTests
{
    [Theory]
    [InlineData(DatabaseKind.Postgres)]
    [InlineData(DatabaseKind.MySql)]
    public async Task Unreachable_database_is_503_with_retry_after_and_client_mistakes_stay_4xx(DatabaseKind kind)
    {
        await using var database = await TestDatabase.CreateAsync(kind);
        var direct = new Uri(database.Uri);
        var target = new Uri($"http://127.0.0.1:{direct.Port}");
        await using var link = new TcpProxy { Target = target };
        var viaLink = new UriBuilder(direct) { Port = link.Port }.Uri.ToString();
        var settings = new Dictionary<string, string?>(AuthSettings.Default) { ["LLANA_SEED_DEMO"] = "true" };
        await using var server = await LlanaServer.StartAsync(viaLink, settings);
        using var admin = server.Admin();
        using var anon = server.Client();
        Assert.Equal(200, (await admin.Get("/Customer/1")).Status);

        link.Target = null;
        link.Cut();
        var calls = new (HttpClient Http, HttpMethod Method, string Url, object? Body)[]
        {
            (admin, HttpMethod.Get, "/Customer/", null),
            (admin, HttpMethod.Get, "/Customer/1", null),
            (admin, HttpMethod.Post, "/Customer/", new { companyName = "Down", userId = 1 }),
            (admin, HttpMethod.Patch, "/Customer/1", new { city = "Down" }),
            (admin, HttpMethod.Put, "/Customer/", new[] { new { custId = 1, city = "Down" } }),
            (admin, HttpMethod.Delete, "/Customer/1", null),
            (anon, HttpMethod.Post, "/auth/login", new { username = AuthHelpers.AdminEmail, password = AuthHelpers.DemoPassword }),
            (admin, HttpMethod.Get, "/auth/profile", null),
        };
        foreach (var (http, method, url, body) in calls)
        {
            var r = await http.Send(method, url, body);
            var what = $"{method} {url}: {r.Status} {r.Text}";
            if (url == "/Customer/" && method == HttpMethod.Put)
            {
                // Bulk answers 200 with per-item errors, as the original; the item carries the 503 text.
                Assert.True(r.Status == 200 && r.Text.Contains("DATABASE_UNAVAILABLE", StringComparison.Ordinal), what);
                continue;
            }

            Assert.True(r.Status == 503, what);
            Assert.True(r.Message.Headers.RetryAfter?.Delta is { TotalSeconds: > 0 }, what);
            Assert.Contains("DATABASE_UNAVAILABLE", r.Text, StringComparison.Ordinal);
        }

        // Still the client's own mistakes: an unknown filter column, a malformed body.
        Assert.Equal(400, (await admin.Get("/Customer/?nope=1")).Status);
        Assert.Equal(400, (await admin.Send(HttpMethod.Post, "/Customer/", rawBody: "{")).Status);

        link.Target = target;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await admin.Get("/Customer/1")).Status != 200)
        {
            Assert.True(DateTime.UtcNow < deadline, "the server did not recover");
            await Task.Delay(200);
        }
    }
}
