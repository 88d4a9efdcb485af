using System.Text.Json;

namespace Llana.SocketIO.Tests;

/// <summary>End-to-end: the official JavaScript socket.io-client 4.8 (tests/node/client.mjs) against a real Kestrel.</summary>
[Collection("node")]
public sealed class NodeClientTests
{
    internal static Task<TestServer> StartFullServerAsync(bool onConnection = true) => TestServer.StartAsync(
        o =>
        {
            o.PingInterval = TimeSpan.FromMilliseconds(300);
            o.PingTimeout = TimeSpan.FromMilliseconds(1000);
        },
        io =>
        {
            var main = io.Of("/");
            main.Use(ctx =>
            {
                var token = ctx.Auth.TryGetProperty("token", out var t) ? t.GetString() : null;
                ctx.Data = token + "/" + ctx.Headers["x-token"];
                return ValueTask.CompletedTask;
            });
            main.OnConnection(socket =>
            {
                socket.Emit("welcome", new Dictionary<string, object?>
                {
                    ["auth"] = socket.Handshake.Auth,
                    ["header"] = socket.Handshake.Headers["x-token"].ToString(),
                    ["query"] = socket.Handshake.Query["q"].ToString(),
                    ["data"] = socket.Data,
                }, new byte[] { 1, 2, 3 });
                socket.On("echo", e => socket.Emit("echo-back", e.ToEmitArgs()));
                socket.On("sum", e => e.Ack(e.Args[0].GetInt32() + e.Args[1].GetInt32(), new byte[] { 9 }));
                socket.On("ask-me", async e =>
                {
                    var reply = await socket.EmitWithAckAsync("question", ["q?", new byte[] { 7 }], TimeSpan.FromSeconds(5));
                    socket.Emit("answer-was", reply.Args[0], reply.GetBinary(1));
                });
                socket.On("engine-sockets", e => e.Ack(io.Of("/").Sockets.Count(s => s.Value.Handshake.Time == socket.Handshake.Time)
                    + io.Of("/admin").Sockets.Count(s => s.Value.Handshake.Time == socket.Handshake.Time)));
            });

            var admin = io.Of("/admin");
            admin.Use(ctx =>
            {
                if (ctx.Auth.TryGetProperty("token", out var t) && t.GetString() == "good")
                {
                    return ValueTask.CompletedTask;
                }

                ctx.Reject("not authorized", new { reason = "bad token" });
                return ValueTask.CompletedTask;
            });
            admin.OnConnection(socket =>
            {
                socket.Emit("admin-welcome", socket.Id);
                socket.On("kick-me", _ => socket.Disconnect());
            });
        },
        onConnection: onConnection);

    [Theory]
    [InlineData("polling", true)]
    [InlineData("websocket", true)]
    [InlineData("default", true)]
    [InlineData("websocket", false)]
    [InlineData("default", false)]
    public async Task Official_client_full_scenario(string transports, bool onConnection)
    {
        await using var server = await StartFullServerAsync(onConnection);
        var (exitCode, lines, output) = await Node.RunAsync("client.mjs", TimeSpan.FromSeconds(40), "full", server.Url, transports);
        Assert.True(exitCode == 0, output);
        Assert.Contains(lines, l => l.TryGetProperty("done", out _));
        foreach (var step in new[] { "connect", "events", "acks", "multiplex", "unknown-namespace", "idle", "server-disconnect" })
        {
            Assert.Contains(lines, l => l.TryGetProperty("step", out var s) && s.GetString() == step);
        }
    }

    [Theory]
    [InlineData("polling", true)]
    [InlineData("websocket", true)]
    [InlineData("websocket", false)]
    public async Task Official_client_with_forceBase64_exchanges_binary(string transports, bool onConnection)
    {
        await using var server = await StartFullServerAsync(onConnection);
        var (exitCode, lines, output) = await Node.RunAsync("client.mjs", TimeSpan.FromSeconds(40), "base64", server.Url, transports);
        Assert.True(exitCode == 0, output);
        Assert.Contains(lines, l => l.TryGetProperty("step", out var s) && s.GetString() == "base64");
    }

    [Theory]
    [InlineData("polling")]
    [InlineData("websocket")]
    [InlineData("default")]
    public async Task Official_client_recovers_the_session_after_a_forced_transport_close(string transports)
    {
        await using var server = await TestServer.StartAsync(
            o =>
            {
                o.PingInterval = TimeSpan.FromMilliseconds(300);
                o.PingTimeout = TimeSpan.FromMilliseconds(1000);
                o.ConnectionStateRecovery = new ConnectionStateRecoveryOptions { MaxDisconnectionDuration = TimeSpan.FromMinutes(1) };
            },
            io => io.Of("/").OnConnection(socket =>
            {
                socket.Join("r");
                socket.Emit("hello", socket.Recovered);
                socket.OnDisconnect(reason => io.Of("/").To("r").Emit("missed", reason));
            }));
        var (exitCode, lines, output) = await Node.RunAsync("client.mjs", TimeSpan.FromSeconds(40), "recovery", server.Url, transports);
        Assert.True(exitCode == 0, output);
        var recovered = Assert.Single(lines, l => l.TryGetProperty("step", out var s) && s.GetString() == "recovered");
        Assert.Equal(JsonValueKind.String, recovered.GetProperty("reason").ValueKind);
    }
}
