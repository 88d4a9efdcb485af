using Llana.Core.Auth;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Core.Webhooks;
using Llana.Data;
using Llana.Server.Auth;
using Llana.Server.Http;
using Llana.Server.Realtime;
using Llana.Server.Webhooks;
using Llana.SocketIO;

namespace Llana.Server;

/// The server's parts, one registration per concern (the host lists them in order: core, telemetry, cluster, health,
/// realtime, HTTP).
internal static class LlanaServices
{
    /// The database, its schema, the change log and its source, auth and permissions, the table use cases, webhooks.
    public static IServiceCollection AddLlanaCore(this IServiceCollection services, LlanaOptions options, Database database, IConfiguration configuration)
    {
        services.AddSingleton(options);
        services.AddSingleton(database);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SchemaCatalog>();
        services.AddSingleton<IChangeFeed, ChangeLog>();
        services.AddSingleton(sp => Capture.ChangeCapture.For(sp, database));
        services.AddHostedService(sp => sp.GetRequiredService<Capture.ChangeCapture>());

        services.AddSingleton(options.Auth);
        services.AddSingleton<JwtTokens>();
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton<IdentityWrites>();
        services.AddSingleton<Authenticator>();
        services.AddSingleton<AuthService>();
        services.AddSingleton<PermissionEvaluator>();
        services.AddSingleton<IAccessPolicy>(sp => options.SkipAuth ? new OpenAccessPolicy() : sp.GetRequiredService<PermissionEvaluator>());

        services.AddSingleton(WebhookOptions.From(configuration, options));
        services.AddSingleton<WebhookQueue>();
        services.AddHostedService<WebhookWorker>();
        services.AddSingleton(sp => new TableService(
            sp.GetRequiredService<Database>(), sp.GetRequiredService<SchemaCatalog>(), sp.GetRequiredService<IAccessPolicy>(),
            sp.GetRequiredService<IChangeFeed>(), sp.GetRequiredService<IdentityWrites>(), sp.GetRequiredService<WebhookQueue>(), options,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<TableService>>())
        {
            // A QUERY-located API key is a credential, not a filter.
            NonFilterParameters = options.Auth.ApiKeyLocation == ApiKeyLocation.Query
                ? new HashSet<string>(StringComparer.Ordinal) { options.Auth.ApiKeyName }
                : new HashSet<string>(StringComparer.Ordinal),
        });
        return services;
    }

    /// Socket.IO and the gateway that delivers the change log to sockets.
    public static IServiceCollection AddLlanaRealtime(this IServiceCollection services, IConfiguration configuration)
    {
        var realtime = RealtimeOptions.From(configuration);
        services.AddSingleton(realtime);
        services.AddSocketIO(o => o.ConnectionStateRecovery = new() { MaxDisconnectionDuration = realtime.RecoveryWindow, SkipMiddlewares = false });
        services.AddHostedService<RealtimeGateway>();
        return services;
    }

    /// CORS, routing, the client address behind trusted proxies (HTTP and the Socket.IO handshake), login throttling,
    /// warm-up.
    public static IServiceCollection AddLlanaHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddCors();
        services.AddRouting();
        services.AddSingleton<ClientAddress>();
        services.AddOptions<SocketIOOptions>().Configure<ClientAddress>((o, client) => o.ConnectionHandshakeForwarding = client.Apply);
        services.AddSingleton<LoginThrottle>();
        WarmUp.Add(services, LlanaOptions.Duration(LlanaOptions.Setting(configuration, "WARMUP"), "WARMUP", TimeSpan.FromSeconds(2)));
        return services;
    }
}
