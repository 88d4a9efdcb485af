using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Llana.Server.Tests.Infrastructure;

namespace Llana.Server.Tests;

/// The first minute of a user: the real server process, its configuration and its failures.
public sealed class StartupTests : IDisposable
{
    private readonly string _workDir = Directory.CreateTempSubdirectory("llana-start-").FullName;

    public void Dispose() => Directory.Delete(_workDir, recursive: true);

    [Theory]
    [InlineData("PORT", "abc", "PORT must be a number")]
    [InlineData("PORT", "70000", "PORT must be between")]
    [InlineData("DATABASE_URI", "oracle://u:p@host/db", "DATABASE_URI unsupported scheme")]
    [InlineData("DATABASE_URI", "not a uri", "DATABASE_URI must look like")]
    [InlineData("DATABASE_URI", "postgresql://u:p@127.0.0.1:1/db", "DATABASE_URI: cannot connect to postgresql://127.0.0.1:1/db")]
    [InlineData("DATABASE_URI", "mysql://u:p@127.0.0.1:1/db", "DATABASE_URI: cannot connect to mysql://127.0.0.1:1/db")]
    [InlineData("DEFAULT_LIMIT", "many", "DEFAULT_LIMIT must be a number")]
    [InlineData("CACHE_TABLE_SCHEMA_TTL", "soon", "CACHE_TABLE_SCHEMA_TTL must be a duration")]
    [InlineData("NODE_ENV", "production", "JWT_KEY must be set in production: the default is published")]
    [InlineData("TRUSTED_PROXIES", "10.0.0.0/33", "TRUSTED_PROXIES must be a comma list of addresses and CIDR ranges")]
    public async Task A_bad_setting_stops_the_start_with_one_line_naming_the_variable(string name, string value, string message)
    {
        var (exitCode, _, stderr) = await RunToExitAsync(new Dictionary<string, string> { [name] = value, ["PORT"] = name == "PORT" ? value : FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Llana could not start: " + message, line);
    }

    [Fact]
    public async Task With_no_configuration_it_creates_and_serves_the_sqlite_demo()
    {
        var port = FreePort();
        using var server = Start(new Dictionary<string, string> { ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var line = await server.WaitForOutputAsync("Llana listening on");
        Assert.Contains($"http://localhost:{port}", line);
        Assert.Contains("llana-demo.db", line);
        Assert.Single(server.OutputSoFar.Split('\n'), l => l.Contains("REDIS_PORT or REDIS_HOST not found - Websockets will NOT work in a multi-instance setup", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(_workDir, "llana-demo.db")));

        using var http = await LoginAsync(port);
        var tables = JsonDocument.Parse(await http.GetStringAsync("/tables")).RootElement.GetProperty("tables");
        Assert.Contains("Customer", tables.EnumerateArray().Select(t => t.GetString()));
        var customers = JsonDocument.Parse(await http.GetStringAsync("/Customer/")).RootElement;
        Assert.True(customers.GetProperty("total").GetInt32() >= 10);
        var orders = JsonDocument.Parse(await http.GetStringAsync("/SalesOrder/")).RootElement;
        Assert.True(orders.GetProperty("total").GetInt32() >= 25);

        // The user's first minute ends with a socket.io-client seeing an insert.
        var token = http.DefaultRequestHeaders.Authorization!.Parameter!;
        await using var subscriber = NodeSubscriber.Start(http.BaseAddress!, new { auth = new Dictionary<string, string> { ["x-llana-table"] = "Customer", ["token"] = token } });
        await subscriber.ConnectedAsync();
        var created = await http.PostAsync("/Customer/", JsonContent.Create(new { companyName = "First minute", userId = 1 }));
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("custId").GetInt64();
        Assert.Equal($"{{\"type\":\"INSERT\",\"custId\":\"{id}\"}}", (await subscriber.EventAsync("Customer")).GetRawText());
    }

    private static async Task<HttpClient> LoginAsync(int port)
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var login = await http.PostAsync("/auth/login", JsonContent.Create(new { username = "test@test.com", password = "test" }));
        login.EnsureSuccessStatusCode();
        var token = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement.GetProperty("access_token").GetString();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    [Fact]
    public async Task A_dotenv_file_is_read_and_the_environment_wins()
    {
        var port = FreePort();
        await File.WriteAllTextAsync(Path.Combine(_workDir, ".env"), $"# demo\nPORT={port}\nDEFAULT_LIMIT=\"3\"\nexport SOFT_DELETE_COLUMN=deletedAt # comment\n");
        using (var server = Start([]))
        {
            await server.WaitForOutputAsync("Llana listening on");
            using var http = await LoginAsync(port);
            Assert.Equal(3, JsonDocument.Parse(await http.GetStringAsync("/Customer/")).RootElement.GetProperty("limit").GetInt32());
        }

        var (exitCode, _, stderr) = await RunToExitAsync(new Dictionary<string, string> { ["DEFAULT_LIMIT"] = "x" });
        Assert.Equal(1, exitCode);
        Assert.Contains("DEFAULT_LIMIT", stderr);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private ServerProcess Start(Dictionary<string, string> env)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "Llana.Server.dll")])
        {
            WorkingDirectory = _workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // A clean environment for Llana's variables: only what the test sets.
        foreach (var name in new[] { "DATABASE_URI", "PORT", "SKIP_AUTH", "DEFAULT_LIMIT", "SOFT_DELETE_COLUMN", "ASPNETCORE_URLS", "NODE_ENV" })
        {
            info.Environment.Remove(name);
        }

        foreach (var (k, v) in env)
        {
            info.Environment[k] = v;
        }

        return new ServerProcess(Process.Start(info)!);
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(Dictionary<string, string> env)
    {
        using var server = Start(env);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await server.Process.WaitForExitAsync(timeout.Token);
        return (server.Process.ExitCode, server.Stdout, server.Stderr);
    }

    private sealed class ServerProcess : IDisposable
    {
        private readonly System.Text.StringBuilder _out = new();
        private readonly System.Text.StringBuilder _err = new();
        private readonly Lock _gate = new();

        public ServerProcess(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => Append(_out, e.Data);
            process.ErrorDataReceived += (_, e) => Append(_err, e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string OutputSoFar
        {
            get
            {
                lock (_gate)
                {
                    return _out.ToString();
                }
            }
        }

        public string Stdout
        {
            get
            {
                Process.WaitForExit();
                lock (_gate)
                {
                    return _out.ToString();
                }
            }
        }

        public string Stderr
        {
            get
            {
                Process.WaitForExit();
                lock (_gate)
                {
                    return _err.ToString();
                }
            }
        }

        public async Task<string> WaitForOutputAsync(string text)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline && !Process.HasExited)
            {
                lock (_gate)
                {
                    var line = _out.ToString().Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
                    if (line is not null)
                    {
                        return line;
                    }
                }

                await Task.Delay(50);
            }

            lock (_gate)
            {
                throw new TimeoutException($"'{text}' not printed. stdout: {_out} stderr: {_err}");
            }
        }

        private void Append(System.Text.StringBuilder sb, string? line)
        {
            if (line is not null)
            {
                lock (_gate)
                {
                    sb.Append(line).Append('\n');
                }
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit();
            }

            Process.Dispose();
        }
    }
}
