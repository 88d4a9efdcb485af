using System.Net.WebSockets;
using System.Text;

namespace Llana.SocketIO.Tests;

/// <summary>Delivery over WebSocket: send batches and the parallel broadcast to large audiences.</summary>
public sealed class WebSocketDeliveryTests
{
    private static async Task<ClientWebSocket> JoinAsync(string url)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(url.Replace("http", "ws", StringComparison.Ordinal) + "/socket.io/?EIO=4&transport=websocket"), CancellationToken.None);
        Assert.StartsWith("0{", await ReceiveAsync(socket, TimeSpan.FromSeconds(10)));
        await socket.SendAsync("40"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.StartsWith("40{", await ReceiveAsync(socket, TimeSpan.FromSeconds(10)));
        return socket;
    }

    /// <summary>The next text message, or null when none comes in time.</summary>
    private static async Task<string?> ReceiveAsync(ClientWebSocket socket, TimeSpan timeout)
    {
        var buffer = new byte[4096];
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var result = await socket.ReceiveAsync(buffer, cancel.Token);
            return Encoding.UTF8.GetString(buffer, 0, result.Count);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    [Fact]
    public async Task A_send_batch_holds_packets_until_it_ends_then_delivers_them_in_order()
    {
        await using var server = await TestServer.StartAsync(o => o.PingInterval = TimeSpan.FromSeconds(30), _ => { });
        using var client = await JoinAsync(server.Url);
        var pending = ReceiveAsync(client, TimeSpan.FromSeconds(10));
        using (server.Io.BatchSends())
        {
            server.Io.Sockets.Emit("n", 1);
            server.Io.Sockets.Emit("n", 2);
            await Task.Delay(300);
            Assert.False(pending.IsCompleted, "a packet left before the batch ended");
        }

        var received = await pending + (await ReceiveAsync(client, TimeSpan.FromSeconds(10)) ?? "");
        Assert.Equal("42[\"n\",1]42[\"n\",2]", received);
        server.Io.Sockets.Emit("n", 3);
        Assert.Equal("42[\"n\",3]", await ReceiveAsync(client, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_broadcast_to_a_large_audience_reaches_every_socket_once_and_in_order()
    {
        await using var server = await TestServer.StartAsync(o => o.PingInterval = TimeSpan.FromSeconds(30), _ => { });
        var clients = new List<ClientWebSocket>();
        for (var i = 0; i < 600; i += 50)
        {
            clients.AddRange(await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => JoinAsync(server.Url))));
        }

        const int Broadcasts = 20;
        for (var n = 0; n < Broadcasts; n++)
        {
            server.Io.Sockets.Emit("n", n);
        }

        var expected = string.Concat(Enumerable.Range(0, Broadcasts).Select(n => $"42[\"n\",{n}]"));
        var results = await Task.WhenAll(clients.Select(async client =>
        {
            var text = new StringBuilder();
            while (text.Length < expected.Length && await ReceiveAsync(client, TimeSpan.FromSeconds(10)) is { } message)
            {
                text.Append(message);
            }

            return text.ToString();
        }));
        Assert.All(results, r => Assert.Equal(expected, r));
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task A_message_of_megabytes_arrives_whole()
    {
        // Larger than Kestrel's 1 MB input buffer: the frame's payload is taken as it arrives, not held in the pipe.
        await using var server = await TestServer.StartAsync(
            o =>
            {
                o.PingInterval = TimeSpan.FromSeconds(30);
                o.MaxPayload = 3_000_000;
            },
            io => io.Of("/").OnConnection(socket => socket.On("big", e => e.Ack(e.Args[0].GetString()!.Length))));
        using var client = await JoinAsync(server.Url);
        var text = "421[\"big\",\"" + new string('x', 2_000_000) + "\"]";
        await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal("431[2000000]", await ReceiveAsync(client, TimeSpan.FromSeconds(20)));
    }
}
