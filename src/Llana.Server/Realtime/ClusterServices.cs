using Llana.Core.Changes;

namespace Llana.Server.Realtime;

internal static partial class ClusterServices
{
    /// With `REDIS_HOST` and `REDIS_PORT`, nodes share changes over Redis; without, the original's warning is logged once.
    public static IServiceCollection AddLlanaCluster(this IServiceCollection services, IConfiguration configuration)
    {
        if (RedisSettings.From(configuration) is { } settings)
        {
            services.AddSingleton(settings);
            services.AddSingleton<RedisChangeBridge>();
            services.AddSingleton<IChangeHandoff>(sp => sp.GetRequiredService<RedisChangeBridge>());
            services.AddSingleton<IClusterSessions>(sp => sp.GetRequiredService<RedisChangeBridge>());
            services.AddHostedService(sp => sp.GetRequiredService<RedisChangeBridge>());
        }
        else
        {
            services.AddSingleton<IChangeHandoff, LocalHandoff>();
            services.AddSingleton<IClusterSessions, SingleNodeSessions>();
            services.AddHostedService<SingleNodeNotice>();
        }

        return services;
    }

    private sealed partial class SingleNodeNotice(ILogger<SingleNodeNotice> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            LogSingleNode(logger);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(Level = LogLevel.Warning, Message = "REDIS_PORT or REDIS_HOST not found - Websockets will NOT work in a multi-instance setup")]
        private static partial void LogSingleNode(ILogger logger);
    }
}
