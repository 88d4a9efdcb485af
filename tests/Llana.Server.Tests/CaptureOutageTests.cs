using System.Globalization;
using Llana.Data;
using Llana.Data.Demo;
using Llana.Server.Capture;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;

namespace Llana.Server.Tests;

/// `REALTIME_SOURCE=database` with the database gone from the server's view for a while (its connections cut and new
/// ones refused through a TCP link, as in a restart) while other clients go on writing to it: when it is back, the
/// reader resumes where it was confirmed, and every change arrives once, in order.
public sealed class CaptureOutageTests
{
    [Theory]
    [InlineData(DatabaseKind.Postgres)]
    [InlineData(DatabaseKind.MySql)]
    public async Task Changes_committed_while_the_database_was_unreachable_arrive_once_when_it_is_back(DatabaseKind kind)
    {
        await using var database = await TestDatabase.CreateAsync(kind);
        await using (var connection = await database.OpenAsync())
        {
            await DemoDatabase.EnsureCreatedAsync(connection, kind, CancellationToken.None);
        }

        var direct = new Uri(database.Uri);
        var target = new Uri($"http://127.0.0.1:{direct.Port}");
        await using var link = new TcpProxy { Target = target };
        var viaLink = new UriBuilder(direct) { Port = link.Port }.Uri.ToString();
        await using var server = await LlanaServer.StartAsync(viaLink, new Dictionary<string, string?>
        {
            ["SKIP_AUTH"] = "true",
            ["REALTIME_SOURCE"] = "database",
            ["REALTIME_SLOT"] = "llana_" + database.Name.ToLowerInvariant(),
        });
        await Poll.UntilAsync(() => server.Get<ChangeCapture>().Reading, TimeSpan.FromSeconds(30), "the changes were not read");
        await using var socket = NodeSubscriber.Start(server.Address, new { auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer" } });
        await socket.ConnectedAsync();

        var returning = kind == DatabaseKind.Postgres ? "RETURNING \"custId\"" : "RETURNING custId";
        var customer = kind == DatabaseKind.Postgres ? "\"Customer\" (\"companyName\", \"userId\")" : "Customer (companyName, userId)";
        async Task<string> InsertAsync(string name) =>
            Convert.ToString(await database.ScalarAsync($"INSERT INTO {customer} VALUES ('{name}', 1) {returning}"), CultureInfo.InvariantCulture)!;

        var ids = new List<string> { await InsertAsync("Before") };
        await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == ids[0]);

        link.Target = null;
        link.Cut();
        for (var i = 0; i < 20; i++)
        {
            ids.Add(await InsertAsync("While unreachable " + i));
        }

        await Poll.UntilAsync(() => !server.Get<ChangeCapture>().Reading, TimeSpan.FromSeconds(30), "the reader did not notice");
        link.Target = target;
        ids.Add(await InsertAsync("After"));
        await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == ids[^1]);
        Assert.Equal(ids, socket.Events.Where(e => e.Name == "Customer").Select(e => e.Payload.GetProperty("custId").GetString()));
    }
}
