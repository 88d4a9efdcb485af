using Llana.Data;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Llana.Server.Tests;

/// The official socket.io-client browser bundle in headless Chromium, on a page of another origin (another port):
/// it signs in with fetch, subscribes, writes, and receives INSERT, UPDATE and DELETE over WebSocket and over
/// long-polling. The page posts what it saw back to the server that served it.
public sealed class BrowserTests
{
    [Fact]
    public async Task A_page_of_another_origin_receives_changes_over_websocket_and_polling()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        var settings = new Dictionary<string, string?>(AuthSettings.Default) { ["LLANA_SEED_DEMO"] = "true" };
        await using var api = await LlanaServer.StartAsync(database.Uri, settings);

        var reported = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bundle = Path.Combine(Repository.Root, "tests", "node", "node_modules", "socket.io-client", "dist", "socket.io.min.js");
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var origin = builder.Build();
        origin.MapGet("/", () => Results.Content(Page(api.Address), "text/html; charset=utf-8"));
        origin.MapGet("/socket.io.min.js", () => Results.File(bundle, "text/javascript"));
        origin.MapPost("/result", async (HttpRequest r) =>
        {
            reported.TrySetResult(await new StreamReader(r.Body).ReadToEndAsync());
            return Results.Ok();
        });
        await origin.StartAsync();
        var page = new Uri(origin.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Assert.NotEqual(page.Port, api.Address.Port);

        var result = await Browser.OpenAsync(page, reported.Task);
        Assert.Equal("websocket:websocket:INSERT,UPDATE,DELETE polling:polling:INSERT,UPDATE,DELETE", result);
    }

    private static string Page(Uri api) => $$"""
        <!DOCTYPE html><html><head><meta charset="utf-8"><script src="/socket.io.min.js"></script></head><body><script>
        const api = "{{api.ToString().TrimEnd('/')}}";
        const report = (text) => fetch("/result", { method: "POST", body: text });
        (async () => {
          const login = await fetch(api + "/auth/login", { method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ username: "test@test.com", password: "test" }) });
          const { access_token } = await login.json();
          const headers = { "content-type": "application/json", authorization: "Bearer " + access_token };
          const seen = [];
          for (const transport of ["websocket", "polling"]) {
            const socket = io(api, { transports: [transport], auth: { token: access_token, "x-llana-table": "Customer" } });
            const types = [];
            const three = new Promise((resolve) => socket.on("Customer", (e) => { types.push(e.type); if (types.length === 3) resolve(); }));
            await new Promise((resolve, reject) => { socket.on("connect", resolve); socket.on("connect_error", (e) => reject(e)); });
            const created = await (await fetch(api + "/Customer/", { method: "POST", headers, body: JSON.stringify({ companyName: "Browser " + transport, userId: 1 }) })).json();
            await fetch(api + "/Customer/" + created.custId, { method: "PATCH", headers, body: JSON.stringify({ city: "Oslo" }) });
            await fetch(api + "/Customer/" + created.custId, { method: "DELETE", headers });
            await three;
            seen.push(transport + ":" + socket.io.engine.transport.name + ":" + types.join(","));
            socket.disconnect();
          }
          await report(seen.join(" "));
        })().catch((e) => report("error " + e));
        </script></body></html>
        """;
}
