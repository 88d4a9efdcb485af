using Llana.Data;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;

namespace Llana.Server.Tests;

/// The docs page is served from the server itself (embedded Redoc) and renders offline.
public sealed class DocsTests
{
    [Fact]
    public async Task The_docs_page_renders_offline_and_shows_the_demo_tables()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        await using var server = await LlanaServer.StartAsync(database.Uri, new Dictionary<string, string?> { ["SKIP_AUTH"] = "true", ["LLANA_SEED_DEMO"] = "true" });
        foreach (var path in new[] { "/", "/_llana/docs/" })
        {
            var page = await server.Http.Get(path);
            Assert.Equal(200, page.Status);
            Assert.DoesNotContain("https://", page.Text, StringComparison.Ordinal);
        }

        Assert.Equal(200, (await server.Http.Get("/_llana/docs/redoc.standalone.js")).Status);
        var dom = await Browser.RenderAsync(server.Address);
        Assert.Contains("menu-content", dom, StringComparison.Ordinal);
        foreach (var table in new[] { "Customer", "Employee", "SalesOrder", "Shipper", "User" })
        {
            Assert.Contains(table, dom, StringComparison.Ordinal);
        }
    }
}
