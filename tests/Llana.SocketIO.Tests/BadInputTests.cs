using System.Net;
using System.Net.WebSockets;
using System.Text;

namespace Llana.SocketIO.Tests;

/// <summary>Malformed, oversized and abusive input: a clear error or a closed session, never a crash or unbounded memory.</summary>
public sealed class BadInputTests
{
    private static Task<TestServer> StartAsync(Action<SocketIOOptions>? options = null, Action<SocketIOServer>? configure = null) =>
        TestServer.StartAsync(
            o =>
            {
                o.PingInterval = TimeSpan.FromSeconds(5);
                o.MaxPayload = 1000;
                options?.Invoke(o);
            },
            io =>
            {
                io.Of("/").OnConnection(s => s.On("echo", e => s.Emit("echo", e.ToEmitArgs())));
                configure?.Invoke(io);
            });

    private static async Task<string> HandshakeAsync(HttpClient http, string url)
    {
        var body = await http.GetStringAsync(url + "/socket.io/?EIO=4&transport=polling");
        return body[(body.IndexOf("\"sid\":\"", StringComparison.Ordinal) + 7)..].Split('"')[0];
    }

    private static async Task<(ClientWebSocket Socket, string Open)> OpenWebSocketAsync(string url)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(url.Replace("http", "ws", StringComparison.Ordinal) + "/socket.io/?EIO=4&transport=websocket"), CancellationToken.None);
        return (socket, await ReceiveTextAsync(socket));
    }

    private static async Task<string> ReceiveTextAsync(ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var result = await socket.ReceiveAsync(buffer, timeout.Token);
        return result.MessageType == WebSocketMessageType.Close ? "<close>" : Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    private static async Task<WebSocketCloseStatus?> WaitClosedAsync(ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return result.CloseStatus;
                }
            }
        }
        catch (WebSocketException)
        {
            return WebSocketCloseStatus.Empty;
        }
    }

    private static Task SendTextAsync(ClientWebSocket socket, string text, bool endOfMessage = true) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage, CancellationToken.None);

    [Fact]
    public async Task Oversized_polling_body_gets_413_and_closes_the_session()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient();
        var sid = await HandshakeAsync(http, server.Url);
        var response = await http.PostAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}", new StringContent("4" + new string('x', 2000)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var poll = await http.GetAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}");
        Assert.Equal(HttpStatusCode.BadRequest, poll.StatusCode);
        Assert.Equal("""{"code":1,"message":"Session ID unknown"}""", await poll.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Oversized_websocket_message_closes_with_1009()
    {
        await using var server = await StartAsync();
        var (socket, _) = await OpenWebSocketAsync(server.Url);
        await SendTextAsync(socket, "4" + new string('x', 5000));
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await WaitClosedAsync(socket));
        await Wait.UntilAsync(() => server.Io.ConnectionCount == 0, TimeSpan.FromSeconds(5), "session removed");
    }

    [Fact]
    public async Task Fragmented_websocket_messages_are_reassembled()
    {
        await using var server = await StartAsync();
        var (socket, _) = await OpenWebSocketAsync(server.Url);
        await SendTextAsync(socket, "4", endOfMessage: false);
        await SendTextAsync(socket, "0", endOfMessage: true);
        Assert.StartsWith("40{\"sid\":", await ReceiveTextAsync(socket));
        await SendTextAsync(socket, "42[\"ec", endOfMessage: false);
        await SendTextAsync(socket, "ho\",\"split", endOfMessage: false);
        await SendTextAsync(socket, "\"]", endOfMessage: true);
        Assert.Equal("42[\"echo\",\"split\"]", await ReceiveTextAsync(socket));
    }

    [Theory]
    [InlineData("4511-[\"echo\"]")]
    [InlineData("451-[\"echo\",{\"_placeholder\":true,\"num\":3}]|bin")]
    [InlineData("451-[\"echo\",{\"_placeholder\":true,\"num\":0}]|42[\"echo\"]")]
    [InlineData("bin")]
    [InlineData("42/nope,[\"echo\"]")]
    [InlineData("40")]
    [InlineData("44{\"message\":\"x\"}")]
    [InlineData("42[\"echo\",\"\\ud800\"")]
    [InlineData("2")]
    [InlineData("9")]
    public async Task Protocol_violations_close_the_connection(string script)
    {
        await using var server = await StartAsync();
        var (socket, _) = await OpenWebSocketAsync(server.Url);
        await SendTextAsync(socket, "40");
        Assert.StartsWith("40{\"sid\":", await ReceiveTextAsync(socket));
        foreach (var step in script.Split('|'))
        {
            if (step == "bin")
            {
                await socket.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);
            }
            else
            {
                await SendTextAsync(socket, step);
            }
        }

        Assert.NotNull(await WaitClosedAsync(socket));
        await Wait.UntilAsync(() => server.Io.ConnectionCount == 0 && server.Io.Sockets.Sockets.Count == 0, TimeSpan.FromSeconds(5), "session removed");
    }

    [Fact]
    public async Task Unknown_and_reused_session_ids_get_400()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient();
        var unknown = await http.GetAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid=doesnotexist");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Equal("""{"code":1,"message":"Session ID unknown"}""", await unknown.Content.ReadAsStringAsync());

        var sid = await HandshakeAsync(http, server.Url);
        Assert.Equal("ok", await (await http.PostAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}", new StringContent("1"))).Content.ReadAsStringAsync());
        var reused = await http.GetAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}");
        Assert.Equal(HttpStatusCode.BadRequest, reused.StatusCode);

        var octet = await HandshakeAsync(http, server.Url);
        var content = new ByteArrayContent("40"u8.ToArray());
        content.Headers.ContentType = new("application/octet-stream");
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={octet}", content)).StatusCode);
    }

    [Fact]
    public async Task Duplicate_polls_close_the_session()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient();
        var sid = await HandshakeAsync(http, server.Url);
        var first = http.GetAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}");
        await Task.Delay(50);
        var second = await http.GetAsync($"{server.Url}/socket.io/?EIO=4&transport=polling&sid={sid}&t=dup");
        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        Assert.Equal("1", await (await first).Content.ReadAsStringAsync());
        Assert.Equal(0, server.Io.ConnectionCount);
    }

    [Fact]
    public async Task A_flood_of_half_open_sessions_is_reaped_by_the_heartbeat()
    {
        await using var server = await StartAsync(o =>
        {
            o.PingInterval = TimeSpan.FromMilliseconds(200);
            o.PingTimeout = TimeSpan.FromMilliseconds(200);
        });
        using var http = new HttpClient();
        await Parallel.ForAsync(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, ct) =>
            await http.GetStringAsync(server.Url + "/socket.io/?EIO=4&transport=polling", ct));
        Assert.True(server.Io.ConnectionCount > 0);
        await Wait.UntilAsync(() => server.Io.ConnectionCount == 0, TimeSpan.FromSeconds(10), "half-open sessions closed by ping timeout");
    }

    [Fact]
    public async Task A_client_that_does_not_read_is_disconnected_not_buffered()
    {
        var disconnected = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        SocketIOSocket? target = null;
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await StartAsync(
            o =>
            {
                o.OutboundQueueLimit = 8;
                o.PingInterval = TimeSpan.FromSeconds(30);
            },
            io => io.Of("/").OnConnection(s =>
            {
                target = s;
                s.OnDisconnect(reason => disconnected.TrySetResult(reason));
                connected.TrySetResult();
            }));
        var (socket, _) = await OpenWebSocketAsync(server.Url);
        await SendTextAsync(socket, "40");
        await connected.Task.WaitAsync(TimeSpan.FromSeconds(5));

        // Never read again: the kernel buffers fill, then the bounded queue, then the server lets go.
        var payload = new string('x', 64 * 1024);
        for (var i = 0; i < 2000 && !disconnected.Task.IsCompleted; i++)
        {
            target!.Emit("big", payload);
            if (i % 50 == 0)
            {
                await Task.Delay(1);
            }
        }

        Assert.Equal("transport error", await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await Wait.UntilAsync(() => server.Io.ConnectionCount == 0, TimeSpan.FromSeconds(5), "session removed");
        socket.Abort();
    }

    [Fact]
    public async Task Bad_handshakes_get_engine_io_error_codes()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient();
        async Task Expect(HttpMethod method, string query, int code)
        {
            var response = await http.SendAsync(new HttpRequestMessage(method, $"{server.Url}/socket.io/?{query}"));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains($"\"code\":{code},", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        }

        await Expect(HttpMethod.Get, "transport=polling", 5);
        await Expect(HttpMethod.Get, "EIO=3&transport=polling", 5);
        await Expect(HttpMethod.Get, "EIO=4&transport=abc", 0);
        await Expect(HttpMethod.Post, "EIO=4&transport=polling", 2);
        await Expect(HttpMethod.Options, "EIO=4&transport=polling", 2);
        await Expect(HttpMethod.Get, "EIO=4&transport=websocket", 3);
        await Expect(HttpMethod.Get, "EIO=4&transport=polling&sid=x", 1);
    }

    /// <summary>Writes raw bytes on a fresh TCP connection (in chunks, with a pause between them) and returns what the server sent within a moment.</summary>
    private static async Task<string> RawExchangeAsync(string url, string request, int chunk = int.MaxValue)
    {
        var uri = new Uri(url);
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        var bytes = Encoding.Latin1.GetBytes(request);
        for (var i = 0; i < bytes.Length; i += chunk)
        {
            await stream.WriteAsync(bytes.AsMemory(i, Math.Min(chunk, bytes.Length - i)));
            await stream.FlushAsync();
            if (chunk < bytes.Length)
            {
                await Task.Delay(5);
            }
        }

        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(1500));
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                received.Write(buffer, 0, read);
            }
        }
        catch (OperationCanceledException)
        {
        }

        return Encoding.Latin1.GetString(received.ToArray());
    }

    private static string WebSocketHandshake(string target, string extraHeaders = "") =>
        $"GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n";

    [Fact]
    public async Task A_handshake_sent_a_few_bytes_at_a_time_is_served_on_the_connection()
    {
        await using var server = await StartAsync();
        var response = await RawExchangeAsync(server.Url, WebSocketHandshake("/socket.io/?EIO=4&transport=websocket"), chunk: 7);
        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", response, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", response, StringComparison.Ordinal);
        Assert.Contains("0{\"sid\":", response, StringComparison.Ordinal);
        Assert.DoesNotContain("Server: Kestrel", response, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/socket.io/?EIO=3&transport=websocket", "", "\"code\":5,")]
    [InlineData("/socket.io/?EIO=4&transport=websocket&sid=unknown", "", "\"code\":1,")]
    [InlineData("/socket.io/?EIO=4&transport=websocket", "Origin: caf\u00e9\r\n", "HTTP/1.1 400 Bad Request")]
    [InlineData("/other/?EIO=4&transport=websocket", "", "HTTP/1.1 404 Not Found")]
    public async Task Handshakes_the_connection_does_not_take_get_the_http_answer(string target, string headers, string expected)
    {
        await using var server = await StartAsync();
        var response = await RawExchangeAsync(server.Url, WebSocketHandshake(target, headers));
        Assert.Contains(expected, response, StringComparison.Ordinal);
        Assert.Contains("Server: Kestrel", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversized_request_head_is_left_to_kestrel()
    {
        await using var server = await StartAsync();
        var response = await RawExchangeAsync(server.Url, WebSocketHandshake("/socket.io/?EIO=4&transport=websocket", "X-Big: " + new string('a', 40_000) + "\r\n"));
        Assert.StartsWith("HTTP/1.1 431", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_http_on_a_fresh_connection_is_untouched()
    {
        await using var server = await StartAsync();
        var response = await RawExchangeAsync(server.Url, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", chunk: 3);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
        Assert.Contains("0{\"sid\":", response, StringComparison.Ordinal);
    }
}
