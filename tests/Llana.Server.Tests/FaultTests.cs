using System.Collections.Concurrent;
using System.Globalization;
using Llana.Data;
using Llana.Data.Demo;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;
using Xunit.Abstractions;

namespace Llana.Server.Tests;

/// Two nodes on PostgreSQL and Redis, 200 subscribers behind two balancers, writes through both nodes, and in turn:
/// Redis stopped and restarted, one node stopped (its clients move to the other), every PostgreSQL connection
/// killed, a burst of rejected writes. No acknowledged write may be missing from the database, no subscriber may
/// get a change twice, and each subscriber gets every change or is told to refetch. (bench/soak runs the same for
/// longer and larger.)
public sealed class FaultTests(ITestOutputHelper output)
{
    // bench/soak sets these for a longer, larger run; the CI run takes about half a minute.
    private static readonly int Subscribers = Setting("LLANA_SOAK_SUBSCRIBERS", 200);
    private static readonly int WritesPerSecond = Setting("LLANA_SOAK_RATE", 50);
    private static readonly int PhaseSeconds = Setting("LLANA_SOAK_PHASE_SECONDS", 2);

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;

    private static TimeSpan Phase(double multiple = 1) => TimeSpan.FromSeconds(PhaseSeconds * multiple);

    [Fact]
    public async Task Under_faults_nothing_acknowledged_is_lost_or_duplicated_and_nobody_diverges_silently()
    {
        await using var redis = new RedisProcess();
        await redis.StartAsync();
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Postgres);
        await using (var connection = await database.OpenAsync())
        {
            await DemoDatabase.EnsureCreatedAsync(connection, DatabaseKind.Postgres, CancellationToken.None);
        }

        var settings = new Dictionary<string, string?>(redis.Settings) { ["SKIP_AUTH"] = "true" };
        var a = await LlanaServer.StartAsync(database.Uri, settings);
        await using var b = await LlanaServer.StartAsync(database.Uri, settings);
        await using var toA = new TcpProxy { Target = a.Address };
        await using var toB = new TcpProxy { Target = b.Address };
        await using var swarm = await Swarm.StartAsync([toA.Address, toB.Address], Subscribers, "Customer");
        var memoryAtStart = Memory();

        var acknowledged = new ConcurrentBag<string>();
        var statuses = new ConcurrentDictionary<int, int>();
        using var stop = new CancellationTokenSource();
        var target = new[] { a, b };

        async Task WriterAsync(int slot)
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var node = target[slot];
                try
                {
                    var r = await node.Http.Post("/Customer/", new { companyName = "fault", userId = 1 });
                    statuses.AddOrUpdate(r.Status, 1, (_, n) => n + 1);
                    if (r.Status == 201)
                    {
                        acknowledged.Add(r.Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture));
                    }
                }
                catch (Exception e) when (e is HttpRequestException or ObjectDisposedException or TaskCanceledException)
                {
                    statuses.AddOrUpdate(0, 1, (_, n) => n + 1);
                }

                await Task.Delay(2000 / WritesPerSecond);
            }
        }

        var writers = Task.WhenAll(WriterAsync(0), WriterAsync(1));
        try
        {
            await Task.Delay(Phase());
            await redis.StopAsync();
            await Task.Delay(Phase(2));
            await redis.StartAsync();
            await Task.Delay(Phase());

            // Node A stops; its writer and its balancer move to B.
            target[0] = b;
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
            await stop.CancelAsync();
            await writers;
            await a.DisposeAsync();
        }

        // Nothing acknowledged is missing from the database.
        var ids = acknowledged.ToHashSet();
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

        // Every subscriber got every acknowledged change once, or was told to refetch.
        List<Swarm.SocketReport> report;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        int missing;
        do
        {
            await Task.Delay(500);
            report = await swarm.CheckAsync(ids);
            missing = report.Where(s => s.Told == 0).Sum(s => s.Missing);
        }
        while (missing > 0 && DateTime.UtcNow < deadline);

        var duplicates = report.Sum(s => s.Duplicates);
        var told = report.Count(s => s.Told > 0);
        output.WriteLine($"managed memory of the test process (both nodes) after a full GC: {memoryAtStart / 1e6:F1} MB with all subscribers connected, {Memory() / 1e6:F1} MB at the end");
        output.WriteLine($"writes: {string.Join(", ", statuses.OrderBy(p => p.Key).Select(p => $"{(p.Key == 0 ? "no answer" : p.Key)}: {p.Value}"))}; " +
            $"acknowledged {ids.Count} (ids {ids.Min(long.Parse)}..{ids.Max(long.Parse)}), all stored; subscribers {report.Count}: missing {missing}, duplicates {duplicates}, told to refetch {told}");
        foreach (var (s, i) in report.Select((s, i) => (s, i)).Where(x => x.s.Told == 0 && (x.s.Missing > 0 || x.s.Duplicates > 0)).Take(10))
        {
            output.WriteLine($"socket {i} ({(i % 2 == 0 ? "moved from A" : "on B")}, recovered at each connection {s.Recovered}): missed {s.Missing} ({string.Join(", ", s.MissingIds)}), twice {string.Join("; ", s.DuplicateDetails)}");
        }

        Assert.True(ids.Count > 100, $"only {ids.Count} writes were acknowledged");
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
}
