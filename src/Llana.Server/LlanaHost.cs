using System.Data.Common;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Data;
using Llana.Data.Demo;
using Llana.Data.SystemTables;
using Llana.Server.Auth;
using Llana.Server.Http;
using Llana.Server.Realtime;
using Llana.SocketIO;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration.Memory;

namespace Llana.Server;

/// Builds and boots the server: configuration (environment, `.env`), the database and its schema, the endpoints.
public static partial class LlanaHost
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["--drop-realtime-capture" or "--drop-realtime-slot"])
        {
            return await DropRealtimeCaptureAsync(settings: null, Console.Out, Console.Error);
        }

        WebApplication app;
        try
        {
            app = await BuildAsync(args, settings: null, CancellationToken.None);
        }
        catch (Exception e) when (e is StartupException or OptionsException)
        {
            await Console.Error.WriteLineAsync($"Llana could not start: {e.Message}");
            return 1;
        }

        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (IOException e)
        {
            // Typically the port is taken.
            await Console.Error.WriteLineAsync($"Llana could not start: {e.Message} (PORT)");
            return 1;
        }
    }

    /// Builds a ready-to-start application. <paramref name="settings"/> override every other configuration
    /// source (tests use them instead of process-wide environment variables).
    /// <paramref name="services"/> may replace registered services (tests give a manual clock).
    public static async Task<WebApplication> BuildAsync(
        string[] args, IReadOnlyDictionary<string, string?>? settings, CancellationToken ct, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args });

        // `.env` sits below the real environment, as with Node's dotenv.
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = DotEnv.Read(Path.Combine(Directory.GetCurrentDirectory(), ".env")),
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        var options = LlanaOptions.From(builder.Configuration);
        if (builder.Configuration["urls"] is null)
        {
            builder.WebHost.UseUrls($"http://localhost:{options.Port}");
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 10 * 1024 * 1024;

            // Realtime WebSockets are served on the connection, below HTTP: about half the memory per socket,
            // one copy per event. Nothing in the HTTP pipeline applies to them (the gateway checks HOSTS and auth).
            k.ConfigureEndpointDefaults(l => l.UseSocketIO());
        });
        // Under systemd (Type=notify): READY=1 once listening, STOPPING=1 on SIGTERM. Our console format is kept
        // (registered after it), one line per event in the journal.
        builder.Services.AddSystemd();
        builder.Logging.AddLlanaConsole(builder.Configuration);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        // Start-up failures are reported by RunAsync in one line; the host would add a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.AspNetCore.Diagnostics.ExceptionHandlerMiddleware", LogLevel.None);

        var database = await OpenDatabaseAsync(options, ct);
        builder.Services.AddLlanaCore(options, database, builder.Configuration);
        builder.Services.AddLlanaTelemetry(builder.Configuration);
        builder.Services.AddLlanaCluster(builder.Configuration);
        builder.Services.AddLlanaHealthChecks(builder.Configuration);
        builder.Services.AddLlanaRealtime(builder.Configuration);
        builder.Services.AddLlanaHttp(builder.Configuration);

        services?.Invoke(builder.Services);
        var app = builder.Build();
        try
        {
            await app.Services.GetRequiredService<SchemaCatalog>().LoadAsync(ct);
            await app.Services.GetRequiredService<Capture.ChangeCapture>().PrepareAsync(ct);
        }
        catch (DbException e)
        {
            throw new StartupException($"DATABASE_URI: cannot read the schema of {database.Uri.Display}: {e.Message}", e);
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Llana");
        var clientAddress = app.Services.GetRequiredService<ClientAddress>();
        app.Use((context, next) =>
        {
            clientAddress.Apply(context);
            return next(context);
        });
        app.UseExceptionHandler(e => e.Run(HttpErrors.WriteUnexpectedAsync));
        app.Use((context, next) =>
        {
            context.Response.Headers["X-Robots-Tag"] = "noindex, nofollow";
            return next(context);
        });
        app.UseLlanaHealthChecks();
        app.UseLlanaMetrics(builder.Configuration, options);
        var socketPath = new PathString(app.Services.GetRequiredService<SocketIOServer>().Options.Path.TrimEnd('/'));
        app.UseHostCheck(options, logger, socketPath);
        app.UseCors(policy => policy.SetIsOriginAllowed(origin => Origins.Allowed(options, origin)).AllowCredentials().AllowAnyHeader().AllowAnyMethod());
        app.UseLlanaAuthentication(options, socketPath);
        app.MapAuthEndpoints(options);
        app.MapSocketIO();
        app.MapDocsEndpoints(builder.Configuration, options);
        app.MapTableEndpoints(options);

        if (options.SkipAuth)
        {
            LogSkipAuth(logger);
        }
        else if (options.Auth.JwtKey == new AuthOptions().JwtKey || options.Auth.JwtRefreshKey == new AuthOptions().JwtRefreshKey)
        {
            // Llana's defaults are public: anyone could sign a token for any user.
            LogDefaultJwtKeys(logger);
        }

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
            var listening = string.Join(", ", addresses ?? []);
            if (options.DatabaseUri is null)
            {
                // The demo file's absolute path: a relative one is resolved from the directory the server started in.
                LogListeningDemo(logger, listening, new SqliteConnectionStringBuilder(database.Uri.ConnectionString).DataSource);
            }
            else
            {
                LogListening(logger, listening, database.Uri.Display);
            }
        });
        return app;
    }

    /// `--drop-realtime-capture` (or its first name, `--drop-realtime-slot`): removes what `REALTIME_SOURCE=database`
    /// installed in `DATABASE_URI`, so that the database stops keeping changes for it (run it when no server reads them
    /// any more). PostgreSQL: the slot and the publication. MySQL/MariaDB and SQLite: the triggers and `_llana_changes`.
    public static async Task<int> DropRealtimeCaptureAsync(IReadOnlyDictionary<string, string?>? settings, TextWriter output, TextWriter error)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(DotEnv.Read(Path.Combine(Directory.GetCurrentDirectory(), ".env")))
            .AddEnvironmentVariables()
            .AddInMemoryCollection(settings ?? new Dictionary<string, string?>())
            .Build();
        try
        {
            var options = LlanaOptions.From(configuration);
            await using var database = new Database(DatabaseUri.Parse(options.DatabaseUri ?? LlanaOptions.DefaultDemoDatabase));
            await output.WriteLineAsync(database.Uri.Kind == DatabaseKind.Postgres
                ? await Capture.PostgresCapture.DropAsync(database, options, CancellationToken.None)
                : await Capture.TriggerCapture.DropAsync(database, CancellationToken.None));
            return 0;
        }
        catch (Exception e) when (e is StartupException or OptionsException or FormatException or DbException or InvalidOperationException)
        {
            await error.WriteLineAsync($"Llana could not drop the realtime capture: {e.Message}");
            return 1;
        }
    }

    private static async Task<Database> OpenDatabaseAsync(LlanaOptions options, CancellationToken ct)
    {
        DatabaseUri uri;
        try
        {
            uri = DatabaseUri.Parse(options.DatabaseUri ?? LlanaOptions.DefaultDemoDatabase);
        }
        catch (FormatException e)
        {
            throw new StartupException($"DATABASE_URI {e.Message}", e);
        }

        var database = new Database(uri);
        try
        {
            await using var connection = await database.Source.OpenConnectionAsync(ct);
            if (options.DatabaseUri is null || options.SeedDemo)
            {
                await DemoDatabase.EnsureCreatedAsync(connection, uri.Kind, ct);
            }

            // First: a role that may not replicate is told so before anything else it may not do.
            await Capture.PostgresCapture.CheckAsync(database, options, ct);

            // Before the schema catalog loads, so the system tables are part of it.
            await SystemTableSetup.EnsureAsync(connection, uri.Kind, new SystemTableSettings(
                options.SoftDeleteColumn,
                Seed: !options.SkipAuth,
                Webhooks: !options.DisableWebhooks,
                options.Auth.UserTable,
                options.Auth.ApiKeyTable,
                options.Auth.ApiKeyTableIdentityColumn ?? "userId"), ct);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or ArgumentException or IOException or TimeoutException)
        {
            await database.DisposeAsync();
            throw new StartupException($"DATABASE_URI: cannot connect to {uri.Display}: {e.Message}", e);
        }

        return database;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "JWT_KEY or JWT_REFRESH_KEY is Llana's published default: set both to long random secrets")]
    private static partial void LogDefaultJwtKeys(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipping auth is set to true, you should maintain _llana_public_tables table for any WRITE permissions")]
    private static partial void LogSkipAuth(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Llana listening on {Addresses} with database {Database}")]
    private static partial void LogListening(ILogger logger, string addresses, string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "Llana listening on {Addresses} with the demo database {Path} (DATABASE_URI is not set)")]
    private static partial void LogListeningDemo(ILogger logger, string addresses, string path);
}
