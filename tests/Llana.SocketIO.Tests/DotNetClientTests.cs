using SocketIOClient.Transport;

namespace Llana.SocketIO.Tests;

/// <summary>Interop with the .NET client from NuGet (SocketIOClient 3.0.6).</summary>
public sealed class DotNetClientTests
{
    [Theory]
    [InlineData(TransportProtocol.WebSocket)]
    [InlineData(TransportProtocol.Polling)]
    public async Task SocketIOClient_connects_with_auth_emits_and_gets_acks(TransportProtocol transport)
    {
        var authSeen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            o => o.PingInterval = TimeSpan.FromSeconds(5),
            io =>
            {
                io.Of("/").Use(ctx =>
                {
                    authSeen.TrySetResult(ctx.Auth.GetRawText());
                    return ValueTask.CompletedTask;
                });
                io.Of("/").OnConnection(socket =>
                {
                    socket.Emit("hi", "there", 42);
                    socket.On("add", e => e.Ack(e.Args[0].GetInt32() + e.Args[1].GetInt32()));
                    socket.On("echo", e => socket.Emit("echo-back", e.ToEmitArgs()));
                });
            });

        using var client = new SocketIOClient.SocketIO(server.Url, new SocketIOClient.SocketIOOptions
        {
            EIO = 4,
            Transport = transport,
            AutoUpgrade = false,
            Reconnection = false,
            Auth = new { token = "dotnet" },
        });
        var hi = new TaskCompletionSource<(string, int)>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.On("hi", r => hi.TrySetResult((r.GetValue<string>(0), r.GetValue<int>(1))));
        var echo = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.On("echo-back", r => echo.TrySetResult(r.GetValue<byte[]>(1)));

        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnConnected += (_, _) => connected.TrySetResult();
        _ = client.ConnectAsync();
        await connected.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("""{"token":"dotnet"}""", await authSeen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(("there", 42), await hi.Task.WaitAsync(TimeSpan.FromSeconds(10)));

        var sum = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await client.EmitAsync("add", r => sum.TrySetResult(r.GetValue<int>(0)), 2, 3);
        Assert.Equal(5, await sum.Task.WaitAsync(TimeSpan.FromSeconds(10)));

        await client.EmitAsync("echo", "bin", new byte[] { 1, 2, 3 });
        Assert.Equal(new byte[] { 1, 2, 3 }, await echo.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await client.DisconnectAsync();
        await Wait.UntilAsync(() => server.Io.Sockets.Sockets.Count == 0, TimeSpan.FromSeconds(10), "server-side socket removed");
    }
}
