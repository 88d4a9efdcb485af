using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Llana.Server.Tests.Infrastructure;

/// One request a receiver got.
public sealed record WebhookRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset At)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Id => Headers.GetValueOrDefault("webhook-id") ?? string.Empty;
}

/// A real HTTP receiver on a loopback port. Paths choose the answer: `/ok/...` 200; `/status/N/...` N;
/// `/flaky/N/...` 500 for the first N requests of each webhook-id, then 200; `/hang/...` never answers;
/// `/retry-after/S/...` 429 with `Retry-After: S` the first time for each webhook-id, then 200.
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _seen = new();
    private readonly CancellationTokenSource _stopping = new();

    public ConcurrentQueue<WebhookRequest> Requests { get; } = new();

    public string Url { get; private set; } = string.Empty;

    private WebhookReceiver(WebApplication app) => _app = app;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        var request = new WebhookRequest(context.Request.Method, context.Request.Path.Value ?? "/", headers, body.ToArray(), DateTimeOffset.UtcNow);
        Requests.Enqueue(request);
        var parts = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var seen = _seen.AddOrUpdate(parts[0] + "|" + request.Id, 1, (_, n) => n + 1);
        switch (parts[0])
        {
            case "status":
                context.Response.StatusCode = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                await context.Response.WriteAsync("receiver says " + parts[1]);
                return;
            case "flaky":
                context.Response.StatusCode = seen <= int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) ? 500 : 200;
                return;
            case "hang":
                await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, context.RequestAborted).Token)
                    .ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            case "slow":
                await Task.Delay(int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
                return;
            case "retry-after":
                if (seen == 1)
                {
                    context.Response.StatusCode = 429;
                    context.Response.Headers.RetryAfter = parts[1];
                }

                return;
            default:
                context.Response.StatusCode = 200;
                return;
        }
    }

    /// The requests to paths under <paramref name="prefix"/>.
    public List<WebhookRequest> To(string prefix) => Requests.Where(r => r.Path.StartsWith(prefix, StringComparison.Ordinal)).ToList();

    /// Waits until <paramref name="done"/> holds for the requests under <paramref name="prefix"/>.
    public async Task<List<WebhookRequest>> WaitAsync(string prefix, Func<List<WebhookRequest>, bool> done, int seconds = 30)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var got = To(prefix);
            if (done(got))
            {
                return got;
            }

            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"{prefix}: {got.Count} requests: " + string.Join(" | ", got.Select(r => r.Method + " " + r.Path + " " + System.Text.Encoding.UTF8.GetString(r.Body))));
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}
