using Llana.Data;
using Llana.Data.Demo;
using Llana.Server.Capture;
using Llana.Testing;

namespace Llana.Server.Tests.Infrastructure;

/// What every `REALTIME_SOURCE=database` suite needs: a demo database of its own per test, servers reading its changes
/// (or standing by), and sockets on them.
public abstract class CaptureTests(DatabaseKind kind) : IAsyncLifetime
{
    protected TestDatabase Database { get; private set; } = null!;

    protected DatabaseKind Kind => kind;

    public async Task InitializeAsync()
    {
        Database = await TestDatabase.CreateAsync(kind);
        await using var connection = await Database.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(connection, kind, CancellationToken.None);
    }

    public Task DisposeAsync() => Database.DisposeAsync().AsTask();

    /// Settings of this suite's change source (PostgreSQL: the test's own slot).
    protected virtual IEnumerable<KeyValuePair<string, string?>> SourceSettings => [];

    /// A server reading this test's changes, once it reads.
    protected async Task<LlanaServer> StartAsync(Dictionary<string, string?>? extra = null)
    {
        var server = await StartStandbyAsync(extra);
        await Poll.UntilAsync(() => server.Get<ChangeCapture>().Reading, TimeSpan.FromSeconds(30), "the changes were not read within 30 s");
        return server;
    }

    /// A server on this test's database, without waiting for it to read (another may be the reader).
    protected Task<LlanaServer> StartStandbyAsync(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?> { ["SKIP_AUTH"] = "true", ["REALTIME_SOURCE"] = "database" };
        foreach (var (k, v) in SourceSettings.Concat(extra ?? []))
        {
            settings[k] = v;
        }

        return LlanaServer.StartAsync(Database.Uri, settings);
    }

    /// Inserts a customer on a connection of the test's own (outside the API) and returns its id.
    protected abstract Task<string> InsertAsync(string name);

    /// Whether some process reads this test's changes now.
    protected abstract Task<bool> ReaderHeldAsync();

    [Fact]
    public async Task The_reader_process_killed_under_writes_loses_and_repeats_nothing_on_the_other_node()
    {
        await using var redis = new RedisProcess();
        await redis.StartAsync();
        var environment = new Dictionary<string, string>
        {
            ["DATABASE_URI"] = Database.Uri,
            ["SKIP_AUTH"] = "true",
            ["REALTIME_SOURCE"] = "database",
            ["REDIS_HOST"] = redis.Settings["REDIS_HOST"]!,
            ["REDIS_PORT"] = redis.Settings["REDIS_PORT"]!,
        };
        foreach (var (k, v) in SourceSettings)
        {
            environment[k] = v!;
        }

        using var reader = await ServerProcess.StartAsync(environment);
        await Poll.UntilAsync(ReaderHeldAsync, TimeSpan.FromSeconds(30), "the process did not read the changes");
        await using var standby = await StartStandbyAsync(new Dictionary<string, string?>(redis.Settings));
        await using var socket = await SubscribeAsync(standby, "Customer");
        Assert.False(standby.Get<ChangeCapture>().Reading);

        // Writes from outside the API keep coming while the reader is killed; the standby takes over.
        using var stop = new CancellationTokenSource();
        var ids = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                ids.Enqueue(await InsertAsync("Under writes"));
                await Task.Delay(5);
            }
        });
        await Poll.UntilAsync(() => ids.Count >= 50, TimeSpan.FromSeconds(30), "the writer did not get going");
        await reader.KillAsync();
        await Poll.UntilAsync(() => standby.Get<ChangeCapture>().Reading, TimeSpan.FromSeconds(30), "the standby did not take over");
        await Poll.UntilAsync(() => ids.Count >= 150, TimeSpan.FromSeconds(30), "the writer stalled");
        await stop.CancelAsync();
        await writer;

        var sentinel = await InsertAsync("Sentinel");
        await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == sentinel);
        Assert.Equal([.. ids, sentinel], socket.Events.Where(e => e.Name == "Customer").Select(e => e.Payload.GetProperty("custId").GetString()));
    }

    /// Every one of <paramref name="count"/> Customer events up to <paramref name="sentinel"/>, or (the socket fell out
    /// of the log's window) a disconnect by the server, which tells the client to refetch: never a silent gap.
    protected static async Task AssertAllOrToldAsync(NodeSubscriber socket, string sentinel, int count)
    {
        var end = await socket.WaitForAsync(
            l => (NodeSubscriber.Is(l, "event") && l.GetProperty("payload").GetProperty("custId").GetString() == sentinel) || NodeSubscriber.Is(l, "disconnect"),
            "the sentinel or a disconnect", TimeSpan.FromMinutes(3));
        if (NodeSubscriber.Is(end, "disconnect"))
        {
            Assert.Equal("io server disconnect", end.GetProperty("reason").GetString());
        }
        else
        {
            Assert.Equal(count, socket.Events.Count(e => e.Name == "Customer"));
        }
    }

    protected static async Task<NodeSubscriber> SubscribeAsync(LlanaServer server, string table, bool rows = false)
    {
        var socket = NodeSubscriber.Start(server.Address, new { auth = new Dictionary<string, object> { ["x-llana-table"] = table, ["x-llana-rows"] = rows } });
        await socket.ConnectedAsync();
        return socket;
    }
}
