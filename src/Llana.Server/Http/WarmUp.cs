using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Llana.Core.Tables;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;

namespace Llana.Server.Http;

/// `WARMUP` (default 2s; 0 turns it off): before the port opens, the server answers its own read requests in process
/// (every middleware and endpoint, no socket) for this long, so that the JIT has compiled and optimized the hot paths
/// (tiered compilation with dynamic PGO) before the first client arrives. Without it a fresh process serves about half
/// its steady throughput for its first 10–20 s, which every deploy and restart pays (bench/rest/start).
///
/// The server is Kestrel, decorated: <see cref="StartAsync"/> drives the application with requests built from
/// features (list, get one and schema of each table, as an anonymous caller from loopback), then starts Kestrel.
internal sealed partial class WarmUp(IServer inner, SchemaCatalog catalog, TimeSpan duration, ILogger<WarmUp> logger) : IServer
{
    private const int MaxTables = 8;
    private const int Concurrency = 4;

    public IFeatureCollection Features => inner.Features;

    public static void Add(IServiceCollection services, TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            return;
        }

        // Kestrel registers IServer with its (internal) implementation type: build that, and wrap it.
        var kestrel = services.LastOrDefault(d => d.ServiceType == typeof(IServer)) ?? throw new InvalidOperationException("No IServer registered");
        services.Remove(kestrel);
        services.AddSingleton<IServer>(sp => new WarmUp(
            kestrel.ImplementationType is { } type ? (IServer)ActivatorUtilities.CreateInstance(sp, type)
                : kestrel.ImplementationFactory?.Invoke(sp) as IServer ?? (IServer)kestrel.ImplementationInstance!,
            sp.GetRequiredService<SchemaCatalog>(),
            duration,
            sp.GetRequiredService<ILogger<WarmUp>>()));
    }

    public async Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        var clock = Stopwatch.StartNew();
        var requests = 0;
        try
        {
            var paths = await PathsAsync(application);
            using var until = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            until.CancelAfter(duration);
            await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async worker =>
            {
                for (var i = worker; !until.IsCancellationRequested; i++)
                {
                    await SendAsync(application, paths[i % paths.Count], null);
                    Interlocked.Increment(ref requests);
                }
            }));
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Warming up is an optimization: whatever fails here, the server starts all the same.
            LogFailed(logger, e);
        }

        LogDone(logger, requests, clock.ElapsedMilliseconds);
        await inner.StartAsync(application, cancellationToken);
    }

    /// For each table (the first few), its list, schema and first row.
    private async Task<List<string>> PathsAsync<TContext>(IHttpApplication<TContext> application)
        where TContext : notnull
    {
        var paths = new List<string> { "/_llana/health/live" };
        foreach (var table in catalog.Tables.Where(t => !t.Table.StartsWith('_')).Take(MaxTables))
        {
            var list = $"/{Uri.EscapeDataString(table.Table)}/?limit=20";
            paths.Add(list);
            paths.Add($"/{Uri.EscapeDataString(table.Table)}/schema");
            using var body = new MemoryStream();
            await SendAsync(application, list, body);
            if (table.PrimaryKey is { } pk && FirstKey(body, pk) is { } id)
            {
                paths.Add($"/{Uri.EscapeDataString(table.Table)}/{Uri.EscapeDataString(id)}");
            }
        }

        return paths;
    }

    private static string? FirstKey(MemoryStream body, string pk)
    {
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            return doc.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array && data.GetArrayLength() > 0
                && data[0].TryGetProperty(pk, out var key) && key.ValueKind is JsonValueKind.Number or JsonValueKind.String
                ? key.ToString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task SendAsync<TContext>(IHttpApplication<TContext> application, string pathAndQuery, Stream? body)
        where TContext : notnull
    {
        var query = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature
        {
            Method = "GET",
            Scheme = "http",
            Protocol = "HTTP/1.1",
            Path = query < 0 ? pathAndQuery : pathAndQuery[..query],
            QueryString = query < 0 ? string.Empty : pathAndQuery[query..],
            Headers = new HeaderDictionary { ["Host"] = "localhost" },
        });
        features.Set<IHttpResponseFeature>(new HttpResponseFeature());
        features.Set<IHttpResponseBodyFeature>(new StreamResponseBodyFeature(body ?? Stream.Null));
        features.Set<IHttpConnectionFeature>(new HttpConnectionFeature { RemoteIpAddress = IPAddress.Loopback, LocalIpAddress = IPAddress.Loopback });
        features.Set<IHttpRequestLifetimeFeature>(new HttpRequestLifetimeFeature());
        var context = application.CreateContext(features);
        Exception? failure = null;
        try
        {
            await application.ProcessRequestAsync(context);
        }
        catch (Exception e)
        {
            failure = e;
            throw;
        }
        finally
        {
            application.DisposeContext(context, failure);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);

    public void Dispose() => inner.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed up with {Requests} in-process requests in {Milliseconds} ms")]
    private static partial void LogDone(ILogger logger, int requests, long milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm-up failed; starting without it")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
