using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Llana.SocketIO.Tests;

/// <summary>Rooms, encode-once broadcast, dynamic namespaces, CORS, the recovery store.</summary>
public sealed class ServerApiTests
{
    /// <summary>Opens a polling session and joins "/": returns the Engine.IO sid.</summary>
    private static async Task<string> ConnectPollingAsync(HttpClient http, string url)
    {
        var body = await http.GetStringAsync(url + "/socket.io/?EIO=4&transport=polling");
        var sid = body[(body.IndexOf("\"sid\":\"", StringComparison.Ordinal) + 7)..].Split('"')[0];
        Assert.Equal("ok", await (await http.PostAsync($"{url}/socket.io/?EIO=4&transport=polling&sid={sid}", new StringContent("40"))).Content.ReadAsStringAsync());
        Assert.StartsWith("40{\"sid\":", await http.GetStringAsync($"{url}/socket.io/?EIO=4&transport=polling&sid={sid}"));
        return sid;
    }

    [Fact]
    public async Task Broadcast_encodes_once_and_queues_the_same_bytes_for_every_target()
    {
        await using var server = await TestServer.StartAsync(o => o.PingInterval = TimeSpan.FromSeconds(30), _ => { });
        using var http = new HttpClient();
        for (var i = 0; i < 3; i++)
        {
            await ConnectPollingAsync(http, server.Url);
        }

        var sockets = server.Io.Sockets.Sockets.Values.ToArray();
        Assert.Equal(3, sockets.Length);
        sockets[0].Join("r");
        sockets[1].Join("r");
        Assert.Equal([sockets[0].Id, "r"], sockets[0].Rooms);

        server.Io.Sockets.To("r").Emit("news", 1, new byte[] { 7 });
        server.Io.Sockets.Except("r").Emit("others");
        server.Io.Sockets.To(sockets[2].Id).Emit("direct");
        sockets[0].Broadcast.Emit("not-me");

        var q0 = sockets[0].Session.SnapshotQueue();
        var q1 = sockets[1].Session.SnapshotQueue();
        var q2 = sockets[2].Session.SnapshotQueue();
        Assert.Equal(["451-[\"news\",1,{\"_placeholder\":true,\"num\":0}]"], q0.Select(m => Encoding.UTF8.GetString(m.Frame.Span)));
        Assert.Equal(["451-[\"news\",1,{\"_placeholder\":true,\"num\":0}]", "42[\"not-me\"]"], q1.Select(m => Encoding.UTF8.GetString(m.Frame.Span)));
        Assert.Equal(["42[\"others\"]", "42[\"direct\"]", "42[\"not-me\"]"], q2.Select(m => Encoding.UTF8.GetString(m.Frame.Span)));
        Assert.True(MemoryMarshal.TryGetArray(q0[0].Frame, out var a));
        Assert.True(MemoryMarshal.TryGetArray(q1[0].Frame, out var b));
        Assert.Same(a.Array, b.Array);

        var encoded = server.Io.Sockets.Encode("pre", "encoded");
        Assert.Equal("2[\"pre\",\"encoded\"]", encoded.ToString());
        server.Io.Sockets.Send(encoded);
        Assert.All(sockets, s => Assert.Equal("42[\"pre\",\"encoded\"]", Encoding.UTF8.GetString(s.Session.SnapshotQueue()[^1].Frame.Span)));
        Assert.Throws<ArgumentException>(() => server.Io.Of("/other").Send(encoded));

        sockets[0].Leave("r");
        Assert.Single(server.Io.Sockets.To("r").FetchSockets());
        var poll = await http.GetStringAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sockets[0].Session.Id}");
        Assert.Equal("451-[\"news\",1,{\"_placeholder\":true,\"num\":0}]\u001ebBw==\u001e42[\"pre\",\"encoded\"]", poll);
    }

    [Fact]
    public async Task Stopping_the_host_closes_connections_as_server_shutting_down()
    {
        var reason = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var server = await TestServer.StartAsync(o => o.PingInterval = TimeSpan.FromSeconds(30), io => io.Of("/").OnConnection(s => s.OnDisconnect(r => reason.TrySetResult(r))));
        using var http = new HttpClient();
        var sid = await ConnectPollingAsync(http, server.Url);
        var poll = http.GetStringAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}");
        var session = server.Io.Sockets.Sockets.Values.Single().Session;
        await Wait.UntilAsync(() => session.PollPending, TimeSpan.FromSeconds(5), "poll pending");
        var stopping = server.DisposeAsync();
        Assert.Equal("server shutting down", await reason.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("1", await poll.WaitAsync(TimeSpan.FromSeconds(10)));
        await stopping;
    }

    [Fact]
    public async Task Dynamic_namespaces_are_created_on_first_connect()
    {
        await using var server = await TestServer.StartAsync(
            o => o.PingInterval = TimeSpan.FromSeconds(30),
            io => io.AddDynamicNamespace(new Regex("^/tenant-\\d+$"), nsp => nsp.OnConnection(s => s.Emit("tenant", nsp.Name))));
        using var http = new HttpClient();
        var body = await http.GetStringAsync(server.Url + "/socket.io/?EIO=4&transport=polling");
        var sid = body[(body.IndexOf("\"sid\":\"", StringComparison.Ordinal) + 7)..].Split('"')[0];
        await http.PostAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}", new StringContent("40/tenant-42,\u001e40/other,"));
        var poll = await http.GetStringAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}");
        var packets = poll.Split('\u001e');
        Assert.StartsWith("40/tenant-42,{\"sid\":", packets[0]);
        Assert.Equal("42/tenant-42,[\"tenant\",\"/tenant-42\"]", packets[1]);
        Assert.Equal("44/other,{\"message\":\"Invalid namespace\"}", packets[2]);
    }

    [Fact]
    public async Task A_websocket_taken_on_the_connection_gets_its_client_address_from_the_forwarding_hook()
    {
        // The hook sees the handshake's headers and the peer; what it sets is the socket's RemoteAddress.
        IPAddress? peerSeen = null;
        var addressSeen = new TaskCompletionSource<IPAddress?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            o => o.ConnectionHandshakeForwarding = context =>
            {
                peerSeen = context.Connection.RemoteIpAddress;
                context.Connection.RemoteIpAddress = IPAddress.Parse(context.Request.Headers["X-Forwarded-For"].ToString());
            },
            io => io.Of("/").Use(ctx =>
            {
                addressSeen.TrySetResult(ctx.RemoteAddress);
                return ValueTask.CompletedTask;
            }));

        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("X-Forwarded-For", "192.0.2.44");
        await socket.ConnectAsync(new Uri(server.Url.Replace("http", "ws", StringComparison.Ordinal) + "/socket.io/?EIO=4&transport=websocket"), CancellationToken.None);
        await socket.SendAsync("40"u8.ToArray(), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal(IPAddress.Parse("192.0.2.44"), await addressSeen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(IPAddress.Loopback, peerSeen);
    }

    [Fact]
    public async Task Disconnecting_runs_while_the_socket_is_still_in_its_rooms_and_disconnect_after_it_left_them()
    {
        var seen = new TaskCompletionSource<(int Disconnecting, int Disconnect, string Reason)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(o => o.PingInterval = TimeSpan.FromSeconds(30), _ => { });
        using var http = new HttpClient();
        var sid = await ConnectPollingAsync(http, server.Url);
        var socket = server.Io.Sockets.Sockets.Values.Single();
        socket.Join("news");
        var inRoomWhileDisconnecting = -1;
        socket.OnDisconnecting(_ => inRoomWhileDisconnecting = server.Io.Sockets.To("news").FetchSockets().Count);
        socket.OnDisconnect(reason => seen.TrySetResult((inRoomWhileDisconnecting, server.Io.Sockets.To("news").FetchSockets().Count, reason)));

        await http.PostAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}", new StringContent("41"));
        Assert.Equal((1, 0, "client namespace disconnect"), await seen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// The heartbeat runs on the application's clock: a ping when pingInterval has passed on it, a close when the pong
    /// does not come within pingTimeout, however little real time went by.
    [Fact]
    public async Task Heartbeats_and_ping_timeouts_follow_the_applications_clock()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var closed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            o => (o.PingInterval, o.PingTimeout) = (TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(20)),
            io => io.Of("/").OnConnection(s => s.OnDisconnect(r => closed.TrySetResult(r))),
            time: clock);
        using var http = new HttpClient();
        var sid = await ConnectPollingAsync(http, server.Url);
        var session = server.Io.Sockets.Sockets.Values.Single().Session;

        clock.Advance(TimeSpan.FromSeconds(24));
        Assert.Empty(session.SnapshotQueue());
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("2", await http.GetStringAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}"));

        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal("ping timeout", await closed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// A broadcast made while a recovering socket's middlewares run (after its missed packets were read, before it is
    /// back in its rooms) was neither replayed nor sent live: lost without a word. It must arrive, once, after the
    /// replay.
    [Fact]
    public async Task A_broadcast_made_while_a_recovering_socket_is_being_authorized_reaches_it_once_after_the_replay()
    {
        SocketIOServer? io = null;
        await using var server = await TestServer.StartAsync(
            o =>
            {
                o.PingInterval = TimeSpan.FromSeconds(30);
                o.ConnectionStateRecovery = new ConnectionStateRecoveryOptions { MaxDisconnectionDuration = TimeSpan.FromMinutes(1), SkipMiddlewares = false };
            },
            s =>
            {
                io = s;
                s.Of("/").Use(ctx =>
                {
                    if (ctx.Recovered)
                    {
                        io!.Of("/").To("r").Emit("during");
                    }

                    return ValueTask.CompletedTask;
                });
                s.Of("/").OnConnection(socket => socket.Join("r"));
            });
        using var http = new HttpClient();
        string Poll(string sid) => http.GetStringAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}").Result;

        var first = await http.GetStringAsync(server.Url + "/socket.io/?EIO=4&transport=polling");
        var sid = first[(first.IndexOf("\"sid\":\"", StringComparison.Ordinal) + 7)..].Split('"')[0];
        await http.PostAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}", new StringContent("40"));
        var connected = Poll(sid);
        var pid = connected[(connected.IndexOf("\"pid\":\"", StringComparison.Ordinal) + 7)..].Split('"')[0];
        await Wait.UntilAsync(() => server.Io.Sockets.To("r").FetchSockets().Count == 1, TimeSpan.FromSeconds(5), "in room r");
        server.Io.Sockets.To("r").Emit("before");
        var before = Poll(sid);
        Assert.StartsWith("42[\"before\",\"", before);
        var offset = before.Split('"')[3];
        server.Io.Sockets.Sockets.Values.Single().CloseTransport();
        server.Io.Sockets.To("r").Emit("missed");

        var again = await http.GetStringAsync(server.Url + "/socket.io/?EIO=4&transport=polling");
        var sid2 = again[(again.IndexOf("\"sid\":\"", StringComparison.Ordinal) + 7)..].Split('"')[0];
        await http.PostAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid2}", new StringContent($"40{{\"pid\":\"{pid}\",\"offset\":\"{offset}\"}}"));
        var packets = Poll(sid2).Split('\u001e');
        Assert.StartsWith("40{\"sid\":", packets[0]);
        Assert.Equal(["missed", "during"], packets.Skip(1).Select(p => p.Split('"')[1]));
    }

    [Fact]
    public async Task Handshake_work_is_cancelled_when_the_client_goes_away()
    {
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            _ => { },
            io => io.Of("/").Use(async ctx =>
            {
                waiting.TrySetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, ctx.ConnectionAborted);
                }
                catch (OperationCanceledException)
                {
                    cancelled.TrySetResult();
                    throw;
                }
            }));

        using (var socket = new System.Net.WebSockets.ClientWebSocket())
        {
            await socket.ConnectAsync(new Uri(server.Url.Replace("http", "ws", StringComparison.Ordinal) + "/socket.io/?EIO=4&transport=websocket"), CancellationToken.None);
            await socket.SendAsync("40"u8.ToArray(), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
            await waiting.Task.WaitAsync(TimeSpan.FromSeconds(10));
            socket.Abort();
        }

        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Wait.UntilAsync(() => server.Io.Sockets.Sockets.Count == 0, TimeSpan.FromSeconds(5), "no socket left");
    }

    [Fact]
    public async Task Cors_policies_apply_to_the_endpoint()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddCors(o => o.AddPolicy("web", p => p.WithOrigins("http://app.example").AllowCredentials().AllowAnyHeader().AllowAnyMethod()));
        builder.Services.AddSocketIO();
        await using var app = builder.Build();
        app.UseCors();
        app.MapSocketIO().RequireCors("web");
        var (_, url) = await TestServer.StartAppAsync(app);
        using var http = new HttpClient();

        var preflight = new HttpRequestMessage(HttpMethod.Options, url + "/socket.io/?EIO=4&transport=polling");
        preflight.Headers.Add("Origin", "http://app.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "x-token");
        var response = await http.SendAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("http://app.example", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", response.Headers.GetValues("Access-Control-Allow-Credentials").Single());

        var get = new HttpRequestMessage(HttpMethod.Get, url + "/socket.io/?EIO=4&transport=polling");
        get.Headers.Add("Origin", "http://app.example");
        var handshake = await http.SendAsync(get);
        Assert.Equal(HttpStatusCode.OK, handshake.StatusCode);
        Assert.Equal("http://app.example", handshake.Headers.GetValues("Access-Control-Allow-Origin").Single());

        var other = new HttpRequestMessage(HttpMethod.Get, url + "/socket.io/?EIO=4&transport=polling");
        other.Headers.Add("Origin", "http://evil.example");
        Assert.False((await http.SendAsync(other)).Headers.Contains("Access-Control-Allow-Origin"));
        await app.StopAsync();
    }

    [Fact]
    public async Task In_memory_recovery_store_replays_addressed_packets_within_the_window()
    {
        var time = new ManualTime();
        var options = Options.Create(new SocketIOOptions { ConnectionStateRecovery = new() { MaxDisconnectionDuration = TimeSpan.FromMinutes(2), MaxStoredPackets = 100 } });
        var store = new InMemoryRecoveryStore(options, time);
        RecoveryPacket Packet(string offset, string[] rooms, string[] except) =>
            new(offset, "/", rooms, except, Encoding.UTF8.GetBytes(offset), null, time.GetUtcNow());

        await store.AppendAsync(Packet("o1", [], []));
        await store.PersistSessionAsync(new RecoverySession("pid", "sid", "/", ["sid", "r"], "data", time.GetUtcNow()));
        await store.AppendAsync(Packet("o2", ["r"], []));
        await store.AppendAsync(Packet("o3", ["other"], []));
        await store.AppendAsync(Packet("o4", [], ["r"]));
        await store.AppendAsync(Packet("o5", [], []));
        await store.AppendAsync(Packet("o6", ["sid"], []));

        Assert.Null(await store.RestoreSessionAsync("pid", "unknown-offset"));
        await store.PersistSessionAsync(new RecoverySession("pid", "sid", "/", ["sid", "r"], "data", time.GetUtcNow()));
        var restored = await store.RestoreSessionAsync("pid", "o1");
        Assert.NotNull(restored);
        Assert.Equal("data", restored.Session.Data);
        Assert.Equal(["o2", "o5", "o6"], restored.MissedPackets.Select(p => p.Offset));
        Assert.Null(await store.RestoreSessionAsync("pid", "o1"));

        await store.PersistSessionAsync(new RecoverySession("late", "sid2", "/", ["sid2"], null, time.GetUtcNow()));
        time.Advance(TimeSpan.FromMinutes(3));
        Assert.Null(await store.RestoreSessionAsync("late", "o1"));
        await store.AppendAsync(Packet("fresh", [], []));
        Assert.Equal(1, store.PacketCount);
        Assert.Equal(0, store.SessionCount);
        for (var i = 0; i < 500; i++)
        {
            await store.AppendAsync(Packet("p" + i, [], []));
        }

        Assert.Equal(100, store.PacketCount);
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
