using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Llana.Server.Tests.Infrastructure;

/// The real server on a loopback port, configured through settings (not process-wide environment variables).
public sealed class LlanaServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LlanaServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Address { get; }

    public HttpClient Http { get; }

    public IServiceProvider Services => _app.Services;

    public T Get<T>()
        where T : notnull => _app.Services.GetRequiredService<T>();

    /// A client of its own (no shared cookies or headers) that sends <paramref name="bearer"/> when given.
    public HttpClient Client(string? bearer = null)
    {
        var client = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    public static async Task<LlanaServer> StartAsync(
        string databaseUri, IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["DATABASE_URI"] = databaseUri,
            ["urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",

            // Hundreds of servers start in the suite; StartupTests covers the warm-up.
            ["WARMUP"] = "0",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            all[k] = v;
        }

        var app = await LlanaHost.BuildAsync([], all, CancellationToken.None, services);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LlanaServer(app, new Uri(address));
    }

    private int _disposed;

    // Idempotent: a test may stop a node mid-way and still dispose it at the end.
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// A response read once: status, headers and the body as JSON (when it is JSON) or text.
public sealed record Reply(int Status, string Text, HttpResponseMessage Message)
{
    public JsonElement Json => JsonDocument.Parse(Text).RootElement;

    public static async Task<Reply> From(HttpResponseMessage m) => new((int)m.StatusCode, await m.Content.ReadAsStringAsync(), m);
}

public static class HttpExtensions
{
    public static async Task<Reply> Send(
        this HttpClient http, HttpMethod method, string url, object? body = null, string? rawBody = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, url);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        if (rawBody is not null)
        {
            request.Content = new StringContent(rawBody, Encoding.UTF8, "application/json");
        }
        else if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await Reply.From(await http.SendAsync(request));
    }

    public static Task<Reply> Get(this HttpClient http, string url) => http.Send(HttpMethod.Get, url);

    public static Task<Reply> Post(this HttpClient http, string url, object body) => http.Send(HttpMethod.Post, url, body);

    public static Task<Reply> Put(this HttpClient http, string url, object body) => http.Send(HttpMethod.Put, url, body);

    public static Task<Reply> Patch(this HttpClient http, string url, object body) => http.Send(HttpMethod.Patch, url, body);

    public static Task<Reply> Delete(this HttpClient http, string url, object? body = null) => http.Send(HttpMethod.Delete, url, body);
}
