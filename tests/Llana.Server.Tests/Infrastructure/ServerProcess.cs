using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Llana.Server.Tests.Infrastructure;

/// The server as a process of its own, for tests that kill it: after <see cref="KillAsync"/> nothing of it runs, nothing is
/// handed back (unlike disposing an in-process <see cref="LlanaServer"/>, which stops gracefully).
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Address { get; }

    public HttpClient Http { get; }

    /// Starts `Llana.Server.dll` from the test's output with <paramref name="environment"/> and waits until it serves.
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Llana.Server.dll")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.Environment["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["WARMUP"] = "0";
        foreach (var (k, v) in environment)
        {
            start.Environment[k] = v;
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, new Uri($"http://localhost:{port}"));
        try
        {
            await Poll.UntilAsync(
                async () =>
                {
                    Assert.False(process.HasExited, "the server process exited");
                    try
                    {
                        return (await server.Http.GetAsync("/Customer/?limit=1")).IsSuccessStatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        return false;
                    }
                },
                TimeSpan.FromSeconds(60), "the server process did not start");
        }
        catch
        {
            server.Dispose();
            throw;
        }

        return server;
    }

    /// SIGKILL, and waits until it is gone.
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        Http.Dispose();
    }
}
