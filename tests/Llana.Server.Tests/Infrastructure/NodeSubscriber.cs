using System.Diagnostics;
using System.Text.Json;

namespace Llana.Server.Tests.Infrastructure;

/// The official `socket.io-client` under Node (tests/node/subscriber.mjs), driven line by line: every
/// lifecycle step and event it sees is recorded, and tests wait for them with timeouts.
public sealed class NodeSubscriber : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<JsonElement> _lines = [];
    private readonly SemaphoreSlim _signal = new(0);
    private readonly System.Text.StringBuilder _stderr = new();

    private NodeSubscriber(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                JsonElement parsed;
                try
                {
                    parsed = JsonDocument.Parse(line).RootElement.Clone();
                }
                catch (JsonException)
                {
                    // The last line of a helper killed while it wrote (the test is over): kept as text for a failure message.
                    lock (_stderr)
                    {
                        _stderr.AppendLine("partial line: " + line[..Math.Min(200, line.Length)]);
                    }

                    return;
                }

                lock (_lines)
                {
                    _lines.Add(parsed);
                }

                _signal.Release();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static NodeSubscriber Start(Uri server, object options)
    {
        var nodeDir = Path.Combine(Repository.Root, "tests", "node");
        if (!Directory.Exists(Path.Combine(nodeDir, "node_modules")))
        {
            throw new InvalidOperationException("tests/node/node_modules is missing: run `npm ci --prefix tests/node` (scripts/test does).");
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = nodeDir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("subscriber.mjs");
        start.ArgumentList.Add(server.ToString().TrimEnd('/'));
        start.ArgumentList.Add(JsonSerializer.Serialize(options));
        return new NodeSubscriber(Process.Start(start)!);
    }

    /// Every event received so far (name, payload).
    public IReadOnlyList<(string Name, JsonElement Payload)> Events
    {
        get
        {
            lock (_lines)
            {
                return _lines.Where(l => l.GetProperty("ev").GetString() == "event")
                    .Select(l => (l.GetProperty("name").GetString()!, l.GetProperty("payload"))).ToList();
            }
        }
    }

    public async Task<JsonElement> ConnectedAsync() => await WaitForAsync(l => Is(l, "connect"), "connect");

    public async Task<string> ConnectErrorAsync() =>
        (await WaitForAsync(l => Is(l, "connect_error"), "connect_error")).GetProperty("message").GetString()!;

    public async Task<JsonElement> EventAsync(string name, Func<JsonElement, bool>? match = null) =>
        (await WaitForAsync(l => Is(l, "event") && l.GetProperty("name").GetString() == name && (match?.Invoke(l.GetProperty("payload")) ?? true), $"event {name}"))
            .GetProperty("payload");

    public Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what, int skip = 0) => WaitForAsync(match, what, TimeSpan.FromSeconds(15), skip);

    /// Waits for the (skip+1)-th line matching <paramref name="match"/>.
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, string what, TimeSpan timeout, int skip = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        var (scanned, matched) = (0, 0);
        while (true)
        {
            // Each line is looked at once: a socket that receives 100,000 events is not scanned 100,000 times.
            lock (_lines)
            {
                for (; scanned < _lines.Count; scanned++)
                {
                    if (match(_lines[scanned]) && matched++ == skip)
                    {
                        return _lines[scanned];
                    }
                }
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || _process.HasExited)
            {
                lock (_lines)
                {
                    throw new TimeoutException($"no {what}; saw: {string.Join(" | ", _lines.Select(l => l.GetRawText()))}; stderr: {_stderr}");
                }
            }

            await _signal.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    /// Lines seen so far that match; for asserting that nothing more arrived after a settle point.
    public int Count(Func<JsonElement, bool> match)
    {
        lock (_lines)
        {
            return _lines.Count(match);
        }
    }

    public static bool Is(JsonElement line, string ev) => line.GetProperty("ev").GetString() == ev;

    public async Task SendAsync(object command)
    {
        await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command));
        await _process.StandardInput.FlushAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await SendAsync(new { cmd = "exit" });
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }
}
