using System.Diagnostics;
using System.Text.Json;

namespace Llana.Server.Tests.Infrastructure;

/// tests/node/swarm.mjs: many official socket.io-clients in one Node process, counting the INSERT events each gets.
public sealed class Swarm : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<JsonElement> _report = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Swarm(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { Length: > 0 } line)
            {
                return;
            }

            var json = JsonDocument.Parse(line).RootElement.Clone();
            switch (json.GetProperty("ev").GetString())
            {
                case "ready":
                    _ready.TrySetResult();
                    break;
                case "report":
                    _report.TrySetResult(json);
                    break;
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static async Task<Swarm> StartAsync(IEnumerable<Uri> urls, int count, string table)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = Path.Combine(Repository.Root, "tests", "node"),
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("swarm.mjs");
        start.ArgumentList.Add(JsonSerializer.Serialize(new { urls = urls.Select(u => u.ToString().TrimEnd('/')), count, table }));
        var swarm = new Swarm(Process.Start(start)!);
        await swarm._ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return swarm;
    }

    /// Per socket, against the INSERTs of <paramref name="expected"/>: how many it missed, which it got more than once
    /// (with the connection count at each receipt), and how often the server told it to refetch.
    public async Task<List<SocketReport>> CheckAsync(IEnumerable<string> expected)
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(file, expected);
            _report = new(TaskCreationOptions.RunContinuationsAsynchronously);
            await _process.StandardInput.WriteLineAsync("check " + file);
            await _process.StandardInput.FlushAsync();
            // A swarm that was saturated (the soak) answers only once it has worked through the events queued before
            // the line: minutes, at 100,000 events/s into one Node process on two shared cores.
            var report = await _report.Task.WaitAsync(TimeSpan.FromMinutes(10));
            return report.GetProperty("sockets").EnumerateArray().Select(s => new SocketReport(
                s.GetProperty("missing").GetInt32(),
                s.GetProperty("missingIds").EnumerateArray().Select(i => i.GetString()!).ToList(),
                s.GetProperty("duplicateCount").GetInt32(),
                s.GetProperty("duplicates").EnumerateArray().Select(d => $"{d.GetProperty("id").GetString()} at connections {d.GetProperty("connects")}").ToList(),
                s.GetProperty("told").GetInt32(),
                s.GetProperty("recovered").ToString())).ToList();
        }
        finally
        {
            File.Delete(file);
        }
    }

    public sealed record SocketReport(int Missing, List<string> MissingIds, int Duplicates, List<string> DuplicateDetails, int Told, string Recovered);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _process.StandardInput.WriteLineAsync("exit");
            await _process.StandardInput.FlushAsync();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is IOException or TimeoutException or InvalidOperationException)
        {
        }
        finally
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.Dispose();
        }
    }
}
