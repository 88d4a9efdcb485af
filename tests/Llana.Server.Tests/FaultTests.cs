using System.Collections.Concurrent;
using System.Globalization;
using Llana.Data;
using Llana.Data.Demo;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;
using Xunit.Abstractions;

namespace Llana.Server.Tests;

/// Two nodes on PostgreSQL and Redis, official socket.io-clients behind two balancers, writes through both nodes, and
/// faults in turn. No acknowledged write may be missing from the database, no subscriber may get a change twice, and
/// each subscriber gets every change or is told to refetch. (bench/soak runs the first for longer and larger.)
public sealed class FaultTests(ITestOutputHelper output)
{
    // bench/soak sets these for a longer, larger run; the CI run takes about half a minute.
    private static readonly int Subscribers = Setting("LLANA_SOAK_SUBSCRIBERS", 200);
    private static readonly int WritesPerSecond = Setting("LLANA_SOAK_RATE", 50);
    private static readonly int PhaseSeconds = Setting("LLANA_SOAK_PHASE_SECONDS", 2);

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;

    private static TimeSpan Phase(double multiple = 1) => TimeSpan.FromSeconds(PhaseSeconds * multiple);

    /// Redis stopped and restarted, one node stopped (its clients move to the other), every PostgreSQL connection
    /// killed, a burst of rejected writes.
    [Fact]
    public async Task Under_faults_nothing_acknowledged_is_lost_or_duplicated_and_nobody_diverges_silently()
    {
        await using var redis = new RedisProcess();
        await redis.StartAsync();
        await using var database = await DemoDatabaseAsync();
        var settings = Settings(redis);
        var a = await LlanaServer.StartAsync(database.Uri, settings);
        await using var b = await LlanaServer.StartAsync(database.Uri, settings);
        await using var toA = new TcpProxy { Target = a.Address };
        await using var toB = new TcpProxy { Target = b.Address };
        await using var swarm = await Swarm.StartAsync([toA.Address, toB.Address], Subscribers, "Customer");
        var memoryAtStart = Memory();

        var traffic = new Traffic([a, b]);
        try
        {
            await Task.Delay(Phase());
            await redis.StopAsync();
            await Task.Delay(Phase(2));
            await redis.StartAsync();
            await Task.Delay(Phase());

            // Node A stops; its writer and its balancer move to B.
            traffic.Targets[0] = b;
            toA.Target = b.Address;
            await a.DisposeAsync();
            await Task.Delay(Phase());

            await database.ExecuteAsync("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
            await Task.Delay(Phase());

            var rejected = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => b.Http.Patch("/Customer/1", new { city = new string('x', 500) })));
            Assert.All(rejected, r => Assert.Equal(400, r.Status));
            await Task.Delay(Phase());
        }
        finally
        {
            await traffic.StopAsync();
            await a.DisposeAsync();
        }

        await AssertInStepAsync(database, swarm, traffic, minimum: 100);
        output.WriteLine($"managed memory of the test process (both nodes) after a full GC: {memoryAtStart / 1e6:F1} MB with all subscribers connected, {Memory() / 1e6:F1} MB at the end");
    }

    /// A rolling restart (SIGTERM-like graceful stop, then a new process) of both nodes in turn, under writes: each
    /// stopping node finishes its requests, shares what it queued and closes its sockets so that clients reconnect to
    /// the other node and resume there.
    [Fact]
    public async Task A_rolling_restart_of_two_nodes_loses_no_acknowledged_change()
    {
        await using var redis = new RedisProcess();
        await redis.StartAsync();
        await using var database = await DemoDatabaseAsync();
        var settings = Settings(redis);
        LlanaServer[] nodes = [await LlanaServer.StartAsync(database.Uri, settings), await LlanaServer.StartAsync(database.Uri, settings)];
        await using var toA = new TcpProxy { Target = nodes[0].Address };
        await using var toB = new TcpProxy { Target = nodes[1].Address };
        TcpProxy[] balancers = [toA, toB];
        await using var swarm = await Swarm.StartAsync([toA.Address, toB.Address], Subscribers / 2, "Customer");

        var traffic = new Traffic([nodes[0], nodes[1]]);
        try
        {
            for (var i = 0; i < 2; i++)
            {
                await Task.Delay(Phase());
                var other = nodes[1 - i];
                traffic.Targets[i] = other;
                balancers[i].Target = other.Address;
                await nodes[i].DisposeAsync();
                nodes[i] = await LlanaServer.StartAsync(database.Uri, settings);
                balancers[i].Target = nodes[i].Address;
                traffic.Targets[i] = nodes[i];
            }

            await Task.Delay(Phase());
        }
        finally
        {
            await traffic.StopAsync();
        }

        try
        {
            await AssertInStepAsync(database, swarm, traffic, minimum: 50);
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private static async Task<TestDatabase> DemoDatabaseAsync()
    {
        var database = await TestDatabase.CreateAsync(DatabaseKind.Postgres);
        await using var connection = await database.OpenAsync();
        await DemoDatabase.EnsureCreatedAsync(connection, DatabaseKind.Postgres, CancellationToken.None);
        return database;
    }

    private static Dictionary<string, string?> Settings(RedisProcess redis) => new(redis.Settings) { ["SKIP_AUTH"] = "true" };

    /// Nothing acknowledged is missing from the database, and every subscriber got every acknowledged change once, or
    /// was told to refetch (a server disconnect, or a reconnect with `socket.recovered` false).
    private async Task AssertInStepAsync(TestDatabase database, Swarm swarm, Traffic traffic, int minimum)
    {
        var ids = traffic.Acknowledged.ToHashSet();
        var stored = new HashSet<string>();
        await using (var connection = await database.OpenAsync())
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT \"custId\" FROM \"Customer\" WHERE \"companyName\" = 'fault'";
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                stored.Add(reader.GetValue(0).ToString()!);
            }
        }

        Assert.Empty(ids.Except(stored));

        // Clients still catching up (a saturated soak run) get more time while they make progress, up to 3 minutes.
        List<Swarm.SocketReport> report;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var giveUp = DateTime.UtcNow.AddMinutes(3);
        var missing = int.MaxValue;
        while (true)
        {
            await Task.Delay(500);
            report = await swarm.CheckAsync(ids);
            var now = report.Where(s => s.Told == 0).Sum(s => s.Missing);
            if (now < missing)
            {
                deadline = DateTime.UtcNow.AddSeconds(20);
            }

            missing = now;
            if (missing == 0 || DateTime.UtcNow > deadline || DateTime.UtcNow > giveUp)
            {
                break;
            }
        }

        var duplicates = report.Sum(s => s.Duplicates);
        var told = report.Count(s => s.Told > 0);

        // Clients that reconnected and kept their session (socket.recovered), on the same node or on another one.
        var resumed = report.Count(s => s.Recovered.Contains("true", StringComparison.Ordinal));
        output.WriteLine($"writes: {string.Join(", ", traffic.Statuses.OrderBy(p => p.Key).Select(p => $"{(p.Key == 0 ? "no answer" : p.Key)}: {p.Value}"))}; " +
            $"acknowledged {ids.Count} (ids {ids.DefaultIfEmpty("0").Min(long.Parse)}..{ids.DefaultIfEmpty("0").Max(long.Parse)}), all stored; subscribers {report.Count}: missing {missing}, duplicates {duplicates}, told to refetch {told}, resumed {resumed}");
        foreach (var (s, i) in report.Select((s, i) => (s, i)).Where(x => x.s.Told == 0 && (x.s.Missing > 0 || x.s.Duplicates > 0)).Take(10))
        {
            output.WriteLine($"socket {i} (balancer {i % 2}, recovered at each connection {s.Recovered}): missed {s.Missing} ({string.Join(", ", s.MissingIds)}), twice {string.Join("; ", s.DuplicateDetails)}");
        }

        Assert.True(ids.Count > minimum, $"only {ids.Count} writes were acknowledged");
        Assert.True(resumed > 0, "no client kept its session across a reconnect");
        Assert.Equal(0, duplicates);
        Assert.Equal(0, missing);
    }

    private static long Memory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// Two writers, each posting a Customer at half of <see cref="WritesPerSecond"/> through the node its slot of
    /// <see cref="Targets"/> names (a test moves a slot to another node), counting the answers.
    private sealed class Traffic
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _writers;

        public Traffic(LlanaServer[] targets)
        {
            Targets = targets;
            _writers = Task.WhenAll(Enumerable.Range(0, targets.Length).Select(WriteAsync));
        }

        public LlanaServer[] Targets { get; }

        public ConcurrentBag<string> Acknowledged { get; } = [];

        /// Answers by status (0: no answer).
        public ConcurrentDictionary<int, int> Statuses { get; } = new();

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _writers;
            _stop.Dispose();
        }

        private async Task WriteAsync(int slot)
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var r = await Targets[slot].Http.Post("/Customer/", new { companyName = "fault", userId = 1 });
                    Statuses.AddOrUpdate(r.Status, 1, (_, n) => n + 1);
                    if (r.Status == 201)
                    {
                        Acknowledged.Add(r.Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture));
                    }
                }
                catch (Exception e) when (e is HttpRequestException or ObjectDisposedException or TaskCanceledException)
                {
                    Statuses.AddOrUpdate(0, 1, (_, n) => n + 1);
                }

                await Task.Delay(1000 * Targets.Length / WritesPerSecond);
            }
        }
    }
}
