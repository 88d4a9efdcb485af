using Llana.SocketIO.EngineIO;

namespace Llana.SocketIO.Conformance;

/// <summary>
/// Conformance host (contract in design.md): raw Engine.IO echo at /engine.io/, Socket.IO at /socket.io/
/// with namespaces "/" and "/custom"; pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000,
/// connect timeout 1000 ms; port from --urls. With --bench it serves the benchmark instead
/// (Node's default timings, POST /bench/broadcast).
/// </summary>
public static class ConformanceApp
{
    public static WebApplication Build(string[] args)
    {
        var bench = args.Contains("--bench");
        var builder = WebApplication.CreateSlimBuilder(args.Where(a => a != "--bench").ToArray());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        // Socket.IO WebSockets are served on the connection, below HTTP (the raw /engine.io/ endpoint keeps the HTTP path).
        builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.UseSocketIO()));

        var timings = new EngineServerOptions
        {
            PingInterval = TimeSpan.FromMilliseconds(bench ? 25_000 : 300),
            PingTimeout = TimeSpan.FromMilliseconds(bench ? 20_000 : 200),
            MaxPayload = 1_000_000,
        };
        builder.Services.AddSocketIO(o =>
        {
            o.PingInterval = timings.PingInterval;
            o.PingTimeout = timings.PingTimeout;
            o.MaxPayload = (int)timings.MaxPayload;
            o.ConnectTimeout = TimeSpan.FromMilliseconds(bench ? 45_000 : 1000);
        });

        var app = builder.Build();
        var io = app.Services.GetRequiredService<SocketIOServer>();
        // The bench host does what the reference Node server does on connection: nothing.
        foreach (var nsp in bench ? [] : new[] { io.Of("/"), io.Of("/custom") })
        {
            nsp.OnConnection(socket =>
            {
                socket.Emit("auth", socket.Handshake.Auth);
                socket.On("message", e => socket.Emit("message-back", e.ToEmitArgs()));
                socket.On("message-with-ack", e => e.Ack(e.ToEmitArgs()));
            });
        }

        app.MapEngineIO("/engine.io/", timings, new EchoHandler());
        app.MapSocketIO();
        if (bench)
        {
            // Broadcasts {"t":<unix ms>,"i":i} `count` times to every socket of "/"; the load client measures latency from t.
            app.MapPost("/bench/broadcast", (int count) =>
            {
                for (var i = 0; i < count; i++)
                {
                    io.Sockets.Emit("tick", new BenchTick(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), i));
                }

                return Results.Ok(new { sockets = io.Sockets.Sockets.Count });
            });
            app.MapGet("/bench/stats", () => Results.Ok(new { connections = io.ConnectionCount, sockets = io.Sockets.Sockets.Count }));
            app.MapPost("/bench/gc", () =>
            {
                GC.Collect(2, GCCollectionMode.Forced, true, true);
                GC.WaitForPendingFinalizers();
                GC.Collect(2, GCCollectionMode.Forced, true, true);
                return Results.Ok(new { heap = GC.GetTotalMemory(false), rss = Environment.WorkingSet });
            });
        }

        return app;
    }
}


internal sealed record BenchTick(long T, int I);

/// <summary>Sends every message back unchanged: text as text, binary as binary.</summary>
internal sealed class EchoHandler : IEngineHandler
{
    public void OnOpen(EngineSession session)
    {
    }

    public ValueTask OnMessageAsync(EngineSession session, ReadOnlyMemory<byte> data, bool binary)
    {
        if (binary)
        {
            session.Send(new OutboundMessage(data.ToArray(), true));
        }
        else
        {
            var frame = new byte[data.Length + 1];
            frame[0] = (byte)'4';
            data.Span.CopyTo(frame.AsSpan(1));
            session.Send(new OutboundMessage(frame, false));
        }

        return ValueTask.CompletedTask;
    }

    public void OnClose(EngineSession session, string reason)
    {
    }

}
