using Llana.Core.Tables;
using Llana.Data;
using Llana.Server.Realtime;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Llana.Server.Http;

/// `GET /_llana/health/live` (the process answers) and `GET /_llana/health` (ready: database reachable, schema loaded,
/// Redis connected when configured), for load balancers, orchestrators and systemd. Answers 200 or 503 with
/// `{"status", "checks": {name: status}}`; reasons are logged, never sent.
internal static class HealthEndpoints
{
    public const string ReadyPath = "/_llana/health";
    public const string LivePath = "/_llana/health/live";

    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);

    public static IServiceCollection AddLlanaHealthChecks(this IServiceCollection services, IConfiguration configuration)
    {
        var checks = services.AddHealthChecks()
            .AddCheck<DatabaseCheck>("database", timeout: CheckTimeout)
            .AddCheck<SchemaCheck>("schema");
        if (RedisSettings.From(configuration) is not null)
        {
            checks.AddCheck<RedisCheck>("redis");
        }

        return services;
    }

    /// Middleware ahead of routing, HOSTS and authentication: no table route (not even a table named `_llana`) can
    /// answer these paths, and a probe needs no credential (the answers hold no data).
    public static void UseLlanaHealthChecks(this WebApplication app)
    {
        app.UseHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        app.UseHealthChecks(ReadyPath, new HealthCheckOptions { ResponseWriter = WriteAsync });
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.Headers.CacheControl = "no-store";
        return HttpErrors.WriteJsonAsync(context, context.Response.StatusCode, w =>
        {
            w.WriteString("status", report.Status.ToString());
            if (report.Entries.Count > 0)
            {
                w.WriteStartObject("checks");
                foreach (var (name, entry) in report.Entries)
                {
                    w.WriteString(name, entry.Status.ToString());
                }

                w.WriteEndObject();
            }
        });
    }

    private sealed class DatabaseCheck(Database database) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct)
        {
            // A pooled connection may be stale: a round trip proves the database answers now.
            await using var connection = await database.Source.OpenConnectionAsync(ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(ct);
            return HealthCheckResult.Healthy();
        }
    }

    private sealed class SchemaCheck(SchemaCatalog catalog) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct) =>
            Task.FromResult(catalog.IsLoaded ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("schema not loaded"));
    }

    private sealed class RedisCheck(RedisChangeBridge redis) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct) =>
            Task.FromResult(redis.IsConnected ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("Redis not connected"));
    }
}
