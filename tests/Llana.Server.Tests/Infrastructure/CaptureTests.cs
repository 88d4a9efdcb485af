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

    protected static async Task<NodeSubscriber> SubscribeAsync(LlanaServer server, string table, bool rows = false)
    {
        var socket = NodeSubscriber.Start(server.Address, new { auth = new Dictionary<string, object> { ["x-llana-table"] = table, ["x-llana-rows"] = rows } });
        await socket.ConnectedAsync();
        return socket;
    }
}
