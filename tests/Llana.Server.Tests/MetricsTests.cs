using System.Globalization;
using System.Text.RegularExpressions;
using Llana.Data;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;

namespace Llana.Server.Tests;

/// `METRICS_ENABLED=true`: a Prometheus scrape at `/_llana/metrics` with requests per route, open sockets and
/// realtime deliveries; off by default.
public sealed class MetricsTests
{
    [Fact]
    public async Task The_scrape_shows_requests_per_route_open_sockets_and_deliveries()
    {
        // A process of its own: OpenTelemetry listens to every meter named `Llana` in a process, and other tests' servers
        // run in this one (in production one server is one process).
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        using var server = await ServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["DATABASE_URI"] = database.Uri,
            ["SKIP_AUTH"] = "true",
            ["LLANA_SEED_DEMO"] = "true",
            ["METRICS_ENABLED"] = "true",
        });
        await using var socket = NodeSubscriber.Start(server.Address, new { auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer" } });
        await socket.ConnectedAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await server.Http.Get("/Customer/?limit=1")).Status);
        }

        await using var receiver = await WebhookReceiver.StartAsync();
        Assert.Equal(201, (await server.Http.Post("/webhook/", new { url = receiver.Url + "/ok/metered", table = "Customer" })).Status);
        var created = await server.Http.Post("/Customer/", new { companyName = "Metered", userId = 1 });
        Assert.Equal(201, created.Status);
        await socket.EventAsync("Customer");
        await receiver.WaitAsync("/ok/metered", r => r.Count == 1);
        await Task.Delay(200);

        var scrape = await server.Http.Get("/_llana/metrics");
        Assert.Equal(200, scrape.Status);
        var text = scrape.Text;
        Assert.Matches("http_server_request_duration_seconds_count\\{[^}]*http_route=\"/\\{table\\}\"", text);
        Assert.Equal(1, Value(text, "llana_realtime_sockets"));
        Assert.True(Value(text, "llana_realtime_deliveries") >= 1, text);
        Assert.True(Value(text, "llana_realtime_delivery_lag_seconds_count") >= 1, text);
        Assert.Matches(@"llana_webhooks_attempts_total\{[^}]*outcome=""delivered""[^}]*\} 1", text);
        Assert.Equal(0, Value(text, "llana_webhooks_in_flight"));
    }

    [Fact]
    public async Task Metrics_are_off_by_default()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        await using var server = await LlanaServer.StartAsync(database.Uri, new Dictionary<string, string?> { ["SKIP_AUTH"] = "true", ["LLANA_SEED_DEMO"] = "true" });
        var scrape = await server.Http.Get("/_llana/metrics");
        Assert.DoesNotContain("# TYPE", scrape.Text, StringComparison.Ordinal);
    }

    // The first sample of a metric whose name starts with `name` (Prometheus adds unit and `_total` suffixes).
    private static double Value(string text, string name)
    {
        var match = Regex.Match(text, "^" + Regex.Escape(name) + "[a-z_]*(\\{[^}]*\\})? ([0-9.eE+-]+)", RegexOptions.Multiline);
        Assert.True(match.Success, $"{name} not in the scrape:\n{text}");
        return double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
    }
}
