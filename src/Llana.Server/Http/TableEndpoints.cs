using System.Text.Json;
using Llana.Core.Auth;
using Llana.Core.Tables;
using Microsoft.AspNetCore.WebUtilities;

namespace Llana.Server.Http;

/// Llana's REST routes (spec §3.1), each with and without the trailing slash.
internal static class TableEndpoints
{
    private static readonly JsonDocumentOptions BodyOptions = new() { MaxDepth = 64 };

    public static void MapTableEndpoints(this WebApplication app)
    {
        app.MapGet("/", (HttpContext c) => HttpErrors.WriteJsonAsync(c, 200, w => w.WriteString("version", "1.32.0")));
        app.MapGet("/tables", (HttpContext c, TableService s) => Respond(c, s.ListTablesAsync(Request(c), c.RequestAborted)));
        app.MapGet("/{table}/schema", (HttpContext c, TableService s, string table) => Respond(c, s.SchemaAsync(table, Request(c), c.RequestAborted)));
        app.MapGet("/{table}", (HttpContext c, TableService s, string table) => Respond(c, s.ListAsync(table, Request(c), c.RequestAborted)));
        app.MapGet("/{table}/{id}", (HttpContext c, TableService s, string table, string id) => Respond(c, s.GetAsync(table, id, Request(c), c.RequestAborted)));

        app.MapPost("/{table}", (HttpContext c, TableService s, string table) =>
            WithBody(c, json: true, body => s.CreateAsync(table, body, Request(c), c.RequestAborted)));
        app.MapMethods("/{table}", ["PUT", "PATCH"], (HttpContext c, TableService s, string table) =>
            WithBody(c, json: false, body => s.UpdateAsync(table, null, body, Request(c), c.RequestAborted)));
        app.MapMethods("/{table}/{id}", ["PUT", "PATCH"], (HttpContext c, TableService s, string table, string id) =>
            WithBody(c, json: false, body => s.UpdateAsync(table, id, body, Request(c), c.RequestAborted)));
        app.MapDelete("/{table}", (HttpContext c, TableService s, string table) =>
            WithBody(c, json: false, body => s.DeleteAsync(table, null, body, Request(c), c.RequestAborted)));
        app.MapDelete("/{table}/{id}", (HttpContext c, TableService s, string table, string id) =>
            Respond(c, s.DeleteAsync(table, id, default, Request(c), c.RequestAborted)));

        app.MapFallback(HttpErrors.WriteNotFoundAsync);
    }

    private static TableRequest Request(HttpContext c)
    {
        var query = new List<KeyValuePair<string, string>>();
        foreach (var pair in new QueryStringEnumerable(c.Request.QueryString.Value))
        {
            query.Add(new(pair.DecodeName().ToString(), pair.DecodeValue().ToString()));
        }

        var requestId = c.Request.Headers["x-request-id"].ToString();
        return new TableRequest(Caller.Anonymous, query, requestId.Length > 0 ? requestId : null);
    }

    private static async Task Respond(HttpContext c, Task<TableResult> result) => await HttpErrors.WriteAsync(c, await result);

    /// Reads the JSON body; a malformed one is a 400 (JSON error for create, text otherwise, as the original).
    private static async Task WithBody(HttpContext c, bool json, Func<JsonElement, Task<TableResult>> operation)
    {
        JsonDocument? document = null;
        try
        {
            if (c.Request.ContentLength != 0)
            {
                document = await JsonDocument.ParseAsync(c.Request.Body, BodyOptions, c.RequestAborted);
            }
        }
        catch (JsonException)
        {
            await HttpErrors.WriteErrorAsync(c, new TableError(400, "Body is not valid JSON", Json: json));
            return;
        }

        using (document)
        {
            await HttpErrors.WriteAsync(c, await operation(document?.RootElement ?? default));
        }
    }
}
