using System.Diagnostics.Metrics;
using System.Net;
using Llana.Core.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Llana.Server.Http;

/// Llana's own instruments (meter `Llana`), created per host through <see cref="IMeterFactory"/>. With no exporter
/// configured nothing listens and recording costs next to nothing.
internal sealed class LlanaMetrics
{
    public const string MeterName = "Llana";

    private readonly Meter _meter;

    public LlanaMetrics(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        Deliveries = _meter.CreateCounter<long>("llana.realtime.deliveries", "{event}", "Change events sent to sockets (one per socket)");
        // From the write to the socket, in seconds: most deliveries take well under 10 ms, a Redis outage minutes.
        var buckets = new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] };
        DeliveryLag = _meter.CreateHistogram("llana.realtime.delivery_lag", "s", "From a change entering the feed of the node that made it to its event being written to this node's sockets (across nodes, includes clock skew)", advice: buckets);
        ClusterLag = _meter.CreateHistogram("llana.cluster.lag", "s", "From a change entering the feed of another node to its arrival here over Redis (includes clock skew)", advice: buckets);
        ChangesLost = _meter.CreateCounter<long>("llana.cluster.changes_lost", "{gap}", "Gaps in another node's changes the Redis log could not fill (sockets were told to refetch)");
        WebhookAttempts = _meter.CreateCounter<long>("llana.webhooks.attempts", "{attempt}", "Webhook requests made by this node, by outcome: delivered, retried (will be tried again) or failed (given up)");
    }

    public Counter<long> WebhookAttempts { get; }

    public Counter<long> Deliveries { get; }

    public Counter<long> ChangesLost { get; }

    public Histogram<double> DeliveryLag { get; }

    public Histogram<double> ClusterLag { get; }

    /// A value read when metrics are collected (open sockets, Redis link state, queued changes).
    public void Observe(string name, Func<long> read, string unit, string description) =>
        _meter.CreateObservableGauge(name, read, unit, description);
}

/// `METRICS_ENABLED=true`: Prometheus text at `/_llana/metrics`. `OTEL_EXPORTER_OTLP_ENDPOINT` (the standard
/// OpenTelemetry variable): metrics and traces over OTLP. Either turns on the ASP.NET Core (requests per route and
/// their duration), Npgsql (pool, commands) and Llana meters; with neither, OpenTelemetry is not even registered.
internal static class Telemetry
{
    public const string MetricsPath = "/_llana/metrics";

    public static void AddLlanaTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<LlanaMetrics>();
        var prometheus = PrometheusEnabled(configuration);
        var otlp = LlanaOptions.Setting(configuration, "OTEL_EXPORTER_OTLP_ENDPOINT") is not null;
        if (!prometheus && !otlp)
        {
            return;
        }

        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("llana"))
            .WithMetrics(m =>
            {
                m.AddAspNetCoreInstrumentation().AddMeter(LlanaMetrics.MeterName, "Npgsql");
                if (prometheus)
                {
                    m.AddPrometheusExporter();
                }

                if (otlp)
                {
                    m.AddOtlpExporter();
                }
            });
        if (otlp)
        {
            telemetry.WithTracing(t => t.AddAspNetCoreInstrumentation().AddSource("Npgsql").AddOtlpExporter());
        }
    }

    /// Serves the scrape endpoint ahead of routing, so no table route shadows it. In production only a scraper on
    /// the same machine (a loopback connection, not a forwarded address) is answered: route names and table names
    /// are nobody else's business.
    public static void UseLlanaMetrics(this WebApplication app, IConfiguration configuration, LlanaOptions options)
    {
        if (!PrometheusEnabled(configuration))
        {
            return;
        }

        app.Use((context, next) =>
        {
            if (context.Request.Path.Equals(MetricsPath, StringComparison.OrdinalIgnoreCase) && options.IsProduction
                && !(context.Connection.RemoteIpAddress is { } peer && IPAddress.IsLoopback(peer)))
            {
                return HttpErrors.WriteFrameworkErrorAsync(context, 403, "Forbidden", "Forbidden");
            }

            return next(context);
        });
        app.UseOpenTelemetryPrometheusScrapingEndpoint(MetricsPath);
    }

    private static bool PrometheusEnabled(IConfiguration configuration) => LlanaOptions.Flag(configuration, "METRICS_ENABLED");
}
