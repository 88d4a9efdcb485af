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
                sp.GetRequiredService<IRecoveryStore>()));
            return services;
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
