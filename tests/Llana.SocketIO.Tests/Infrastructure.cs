using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Llana.SocketIO.Tests;

/// <summary>A real Kestrel on 127.0.0.1 with a random port, serving Socket.IO.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
        Io = app.Services.GetRequiredService<SocketIOServer>();
    }

    public string Url { get; }

    public SocketIOServer Io { get; }

    /// <summary>Starts the server; <paramref name="onConnection"/> = false leaves WebSockets to the HTTP upgrade path (no <c>UseSocketIO()</c> on the endpoint).</summary>
    public static async Task<TestServer> StartAsync(
        Action<SocketIOOptions> options, Action<SocketIOServer> configure, Action<WebApplication>? map = null, bool onConnection = true, TimeProvider? time = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        if (onConnection)
        {
            builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.UseSocketIO()));
        }

        builder.Logging.SetMinimumLevel(Environment.GetEnvironmentVariable("LLANA_SOCKETIO_LOG") is { Length: > 0 } ? LogLevel.Debug : LogLevel.Warning);
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        builder.Services.AddSocketIO(options);
        var app = builder.Build();
        configure(app.Services.GetRequiredService<SocketIOServer>());
        if (map is null)
        {
            app.MapSocketIO();
        }
        else
        {
            map(app);
        }

        await app.StartAsync();
        return new TestServer(app, app.Urls.First());
    }

    public static async Task<(WebApplication App, string Url)> StartAppAsync(WebApplication app)
    {
        await app.StartAsync();
        return (app, app.Urls.First());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Runs a script of tests/node with Node and collects its JSON-lines output.</summary>
internal static class Node
{
    public static string RepoRoot { get; } = FindRoot();

    public static string NodeDir => Path.Combine(RepoRoot, "tests", "node");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Llana.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Llana.slnx not found above " + AppContext.BaseDirectory);
    }

    public static async Task<(int ExitCode, List<JsonElement> Lines, string Output)> RunAsync(string script, TimeSpan timeout, params string[] args)
    {
        if (!Directory.Exists(Path.Combine(NodeDir, "node_modules")))
        {
            throw new InvalidOperationException("tests/node/node_modules is missing: run `npm ci --prefix tests/node`.");
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = NodeDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Environment.GetEnvironmentVariable("LLANA_NODE_DEBUG") is { Length: > 0 } debug)
        {
            start.Environment["DEBUG"] = debug;
        }

        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        var output = await stdout;
        var lines = new List<JsonElement>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            try
            {
                lines.Add(JsonSerializer.Deserialize<JsonElement>(line));
            }
            catch (JsonException)
            {
            }
        }

        return (process.HasExited ? process.ExitCode : -1, lines, output + await stderr);
    }
}

internal static class Wait
{
    /// <summary>Polls a condition until it holds (for server-side state that has no event to await).</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out: " + because);
            }

            await Task.Delay(10);
        }
    }
}
