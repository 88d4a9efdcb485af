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
    [InlineData("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json, not 'xml'")]
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
        Assert.StartsWith("info: Llana: Llana listening on", line);

        // Before the port opened, it answered its own reads so that the first clients get optimized code (WARMUP).
        Assert.Matches("info: WarmUp: Warmed up with [1-9][0-9]* in-process requests", server.OutputSoFar);

        // Short categories: the class, not its namespace.
        Assert.Single(server.OutputSoFar.Split('\n'), l => l == "warn: SingleNodeNotice: REDIS_PORT or REDIS_HOST not found - Websockets will NOT work in a multi-instance setup");
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

    [Fact]
    public async Task LOG_FORMAT_json_writes_one_object_per_line_and_database_errors_carry_the_driver_message_and_state()
    {
        var port = FreePort();
        using var server = Start(new Dictionary<string, string> { ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["LOG_FORMAT"] = "json" });
        await server.WaitForOutputAsync("Llana listening on");
        using var http = await LoginAsync(port);
        var taken = JsonDocument.Parse(await http.GetStringAsync("/Customer/1")).RootElement.GetProperty("email").GetString();
        var duplicate = await http.PostAsync("/Customer/", JsonContent.Create(new { companyName = "Copy", userId = 1, email = taken }));
        Assert.Equal(HttpStatusCode.BadRequest, duplicate.StatusCode);

        var failed = JsonDocument.Parse(await server.WaitForOutputAsync("Write failed")).RootElement;
        Assert.Equal(("Warning", "Llana.Core.Tables.TableService"), (failed.GetProperty("LogLevel").GetString(), failed.GetProperty("Category").GetString()));
        var state = failed.GetProperty("State");
        Assert.Equal("SQLite Error 19: 'UNIQUE constraint failed: Customer.email'.", state.GetProperty("Error").GetString());
        Assert.Equal("SQLite 2067", state.GetProperty("SqlState").GetString());
        Assert.DoesNotContain(taken!, failed.GetRawText());
        foreach (var line in server.OutputSoFar.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var entry = JsonDocument.Parse(line).RootElement;
            Assert.True(entry.TryGetProperty("Timestamp", out _) && entry.TryGetProperty("Message", out _), line);
        }
    }

    [Fact]
    public async Task Scripts_publish_makes_a_self_contained_executable_that_serves()
    {
        var output = Path.Combine(_workDir, "published");
        using (var publish = Process.Start(new ProcessStartInfo(Path.Combine(Repository.Root, "scripts", "publish"), [output]) { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            var stderr = publish.StandardError.ReadToEndAsync();
            var stdout = await publish.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await publish.WaitForExitAsync(timeout.Token);
            Assert.True(publish.ExitCode == 0, $"scripts/publish failed: {stdout} {await stderr}");
        }

        // Self-contained: the runtime travels with it; ReadyToRun: our own assemblies carry native code.
        Assert.True(File.Exists(Path.Combine(output, "libcoreclr.so")));
        using (var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(Path.Combine(output, "Llana.Core.dll"))))
        {
            Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, "Llana.Core.dll has no ReadyToRun code");
        }

        var port = FreePort();
        using var server = Start(new Dictionary<string, string> { ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) }, [Path.Combine(output, "Llana.Server")]);
        await server.WaitForOutputAsync("Llana listening on");
        using var http = await LoginAsync(port);
        Assert.Equal("""{"status":"Healthy","checks":{"database":"Healthy","schema":"Healthy"}}""", await http.GetStringAsync("/_llana/health"));
        Assert.Contains("Customer", await http.GetStringAsync("/tables"));
    }

    [Fact]
    public async Task Under_systemd_it_tells_the_service_manager_when_it_is_ready()
    {
        // What systemd does for Type=notify: a datagram socket in NOTIFY_SOCKET, and the service's parent is a
        // process named `systemd` (here bash under that name, so the server is its child rather than exec'd).
        var notifyPath = Path.Combine(_workDir, "notify");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        var systemd = Path.Combine(_workDir, "systemd");
        File.CreateSymbolicLink(systemd, "/bin/bash");
        var port = FreePort();
        var env = new Dictionary<string, string> { ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["NOTIFY_SOCKET"] = notifyPath };
        using var server = Start(env, [systemd, "-c", "dotnet \"$1\"; exit $?", "systemd", Path.Combine(AppContext.BaseDirectory, "Llana.Server.dll")]);

        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var received = await notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.Equal("READY=1", System.Text.Encoding.ASCII.GetString(buffer, 0, received));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/_llana/health")).StatusCode);
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

    [Fact]
    public async Task Dotnet_run_from_another_directory_keeps_dotenv_and_the_demo_database_there()
    {
        // `dotnet run` starts the program in the project's folder unless the project says otherwise.
        var port = FreePort();
        await File.WriteAllTextAsync(Path.Combine(_workDir, ".env"), $"PORT={port}\n");
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var project = Path.Combine(Repository.Root, "src", "Llana.Server");
        using var server = Start([], ["dotnet", "run", "--no-build", "-c", configuration, "--project", project]);
        var line = await server.WaitForOutputAsync("Llana listening on");
        var demo = Path.Combine(_workDir, "llana-demo.db");
        Assert.Contains($"http://localhost:{port} with the demo database {demo} ", line);
        Assert.True(File.Exists(demo));
        Assert.False(File.Exists(Path.Combine(project, "llana-demo.db")));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// The server built next to the tests, or <paramref name="command"/> (program and arguments) started in the work folder.
    private ServerProcess Start(Dictionary<string, string> env, string[]? command = null)
    {
        command ??= ["dotnet", Path.Combine(AppContext.BaseDirectory, "Llana.Server.dll")];
        var info = new ProcessStartInfo(command[0], command[1..])
        {
            WorkingDirectory = _workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // A clean environment for Llana's variables: only what the test sets.
        foreach (var name in new[] { "DATABASE_URI", "PORT", "SKIP_AUTH", "DEFAULT_LIMIT", "SOFT_DELETE_COLUMN", "ASPNETCORE_URLS", "NODE_ENV", "LOG_FORMAT" })
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
