using Llana.SocketIO;
using Llana.SocketIO.EngineIO;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection
{
    /// <summary>Registration of the Socket.IO server.</summary>
    public static class SocketIOServiceCollectionExtensions
    {
        /// <summary>
        /// Registers <see cref="SocketIOServer"/> (singleton) and the default in-memory
        /// <see cref="IRecoveryStore"/> (register another one before or after to replace it).
        /// </summary>
        public static IServiceCollection AddSocketIO(this IServiceCollection services, Action<SocketIOOptions>? configure = null)
        {
            var builder = services.AddOptions<SocketIOOptions>();
            if (configure is not null)
            {
                builder.Configure(configure);
            }

            services.TryAddSingleton<IRecoveryStore, InMemoryRecoveryStore>();
            services.AddHostedService<SocketIOShutdown>();
            services.TryAddSingleton(sp => new SocketIOServer(
                sp.GetRequiredService<IOptions<SocketIOOptions>>(),
                sp,
                sp.GetRequiredService<ILoggerFactory>(),
                sp.GetRequiredService<IRecoveryStore>(),
                sp.GetService<TimeProvider>()));
            return services;
        }
    }
}

namespace Microsoft.AspNetCore.Hosting
{
    using Microsoft.AspNetCore.Server.Kestrel.Core;

    /// <summary>Serving Socket.IO WebSockets on Kestrel connections.</summary>
    public static class SocketIOListenOptionsExtensions
    {
        /// <summary>
        /// Serves Socket.IO WebSocket handshakes on this endpoint's connections directly, below HTTP: a
        /// connection whose first request is a valid WebSocket handshake for <see cref="SocketIOOptions.Path"/>
        /// becomes a WebSocket on Kestrel's transport pipes, without an HTTP request kept open for its lifetime
        /// (about half the memory per connection, and fewer copies per message). Every other connection, and
        /// any handshake the server would refuse, continues to HTTP unchanged, so <c>MapSocketIO()</c> is still
        /// needed. Endpoint conventions on <c>MapSocketIO()</c> (CORS, host or authorization policies) do not
        /// apply to the WebSockets taken here; use the Socket.IO connect middleware for such checks. Call it
        /// after <c>UseHttps()</c> on a TLS endpoint, so that it sees decrypted bytes.
        /// </summary>
        public static ListenOptions UseSocketIO(this ListenOptions listenOptions)
        {
            var server = listenOptions.ApplicationServices.GetRequiredService<SocketIOServer>();
            listenOptions.Use(next => new EngineConnectionMiddleware(server.Engine, server.Options.Path, server.Options.ConnectionHandshakeForwarding, next).OnConnectionAsync);
            return listenOptions;
        }
    }
}

namespace Microsoft.AspNetCore.Builder
{
    /// <summary>Endpoint mapping of the Socket.IO server.</summary>
    public static class SocketIOEndpointRouteBuilderExtensions
    {
        /// <summary>
        /// Maps the Engine.IO endpoint at <see cref="SocketIOOptions.Path"/> (all methods: polling GET/POST,
        /// WebSocket upgrades). The result takes endpoint conventions such as <c>RequireCors(policy)</c>
        /// (with <c>app.UseCors()</c>) or <c>RequireHost</c>. No WebSocket middleware is needed.
        /// </summary>
        public static IEndpointConventionBuilder MapSocketIO(this IEndpointRouteBuilder endpoints)
        {
            var server = endpoints.ServiceProvider.GetRequiredService<SocketIOServer>();
            var path = server.Options.Path.TrimEnd('/');
            return endpoints.Map(path + "/", server.HandleRequestAsync).WithDisplayName("Socket.IO " + path + "/");
        }

        /// <summary>Maps a raw Engine.IO endpoint served by <paramref name="handler"/> (no Socket.IO on top).</summary>
        internal static IEndpointConventionBuilder MapEngineIO(this IEndpointRouteBuilder endpoints, string path, EngineServerOptions options, IEngineHandler handler)
        {
            var logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("Llana.SocketIO.EngineIO");
            var server = new EngineServer(options, handler, new EngineLog(logger));
            return endpoints.Map(path.TrimEnd('/') + "/", server.HandleRequestAsync).WithDisplayName("Engine.IO " + path);
        }
    }
}
