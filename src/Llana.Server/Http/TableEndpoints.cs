using System.Text.Json;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Server.Auth;
using Microsoft.AspNetCore.WebUtilities;

namespace Llana.Server.Http;

/// Llana's REST routes (spec §3.1), each with and without the trailing slash.
internal static class TableEndpoints
{
    private static readonly JsonDocumentOptions BodyOptions = new() { MaxDepth = 64 };

    public static void MapTableEndpoints(this WebApplication app, LlanaOptions options)
    {
        // Authentication only, no role or public-table check (spec §4.2).
        app.MapGet("/tables", (HttpContext c, TableService s) =>
        {
            var r = Request(c);
            return r.Caller.Authenticated
                ? Respond(c, s.ListTablesAsync(r, c.RequestAborted))
                : HttpErrors.WriteErrorAsync(c, TableError.Unauthorized(r.Caller.Failure));
        });
        // The table routes as one group. Its prefix is empty: a `/{table}` prefix would make the list route (and so its
        // `http.route` metric label) `/{table}/`.
        var group = app.MapGroup(string.Empty);
        group.MapGet("/{table}/schema", (HttpContext c, TableService s, string table) => Respond(c, s.SchemaAsync(table, Request(c), c.RequestAborted)));
        group.MapGet("/{table}", (HttpContext c, TableService s, string table) => Respond(c, s.ListAsync(table, Request(c), c.RequestAborted)));
        group.MapGet("/{table}/{id}", (HttpContext c, TableService s, string table, string id) => Respond(c, s.GetAsync(table, id, Request(c), c.RequestAborted)));

        group.MapPost("/{table}", (HttpContext c, TableService s, string table) =>
            WithBody(c, json: true, BodyKey(options), body => s.CreateAsync(table, body, Request(c), c.RequestAborted)));
        group.MapMethods("/{table}", ["PUT", "PATCH"], (HttpContext c, TableService s, string table) =>
            WithBody(c, json: false, BodyKey(options), body => s.UpdateAsync(table, null, body, Request(c), c.RequestAborted)));
        group.MapMethods("/{table}/{id}", ["PUT", "PATCH"], (HttpContext c, TableService s, string table, string id) =>
            WithBody(c, json: false, BodyKey(options), body => s.UpdateAsync(table, id, body, Request(c), c.RequestAborted)));
        group.MapDelete("/{table}", (HttpContext c, TableService s, string table) =>
            WithBody(c, json: false, BodyKey(options), body => s.DeleteAsync(table, null, body, Request(c), c.RequestAborted)));
        group.MapDelete("/{table}/{id}", (HttpContext c, TableService s, string table, string id) =>
            Respond(c, s.DeleteAsync(table, id, default, Request(c), c.RequestAborted)));

        app.MapFallback(HttpErrors.WriteNotFoundAsync);
    }

    /// The API-key property when keys travel in the body: a credential, not a column.
    private static string? BodyKey(LlanaOptions options) =>
        options.Auth.ApiKeyLocation == ApiKeyLocation.Body ? options.Auth.ApiKeyName : null;

    public static TableRequest Request(HttpContext c)
    {
        var query = new List<KeyValuePair<string, string>>();
        foreach (var pair in new QueryStringEnumerable(c.Request.QueryString.Value))
        {
            query.Add(new(pair.DecodeName().ToString(), pair.DecodeValue().ToString()));
        }

        var requestId = c.Request.Headers["x-request-id"].ToString();
        return new TableRequest(HttpAuthentication.CallerOf(c), query, requestId.Length > 0 ? requestId : null);
    }

    private static async Task Respond(HttpContext c, Task<TableResult> result) => await new TableResponse(await result).ExecuteAsync(c);

    /// Reads the JSON body; a malformed one is a 400 (JSON error for create, text otherwise, as the original).
    private static async Task WithBody(HttpContext c, bool json, string? apiKeyProperty, Func<JsonElement, Task<TableResult>> operation)
    {
        JsonDocument? document = null;
        try
        {
            document = await JsonBody.ParseAsync(c.Request, BodyOptions, c.RequestAborted);

            if (apiKeyProperty is not null && document?.RootElement is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty(apiKeyProperty, out _))
            {
                var node = System.Text.Json.Nodes.JsonObject.Create(root)!;
                node.Remove(apiKeyProperty);
                var stripped = node.ToJsonString();
                document.Dispose();
                document = JsonDocument.Parse(stripped);
            }
        }
        catch (JsonException e)
        {
            var message = e is JsonBody.InvalidUtf8Exception ? e.Message : "Body is not valid JSON";
            await HttpErrors.WriteErrorAsync(c, new TableError(400, message, Json: json));
            return;
        }

        using (document)
        {
            await new TableResponse(await operation(document?.RootElement ?? default)).ExecuteAsync(c);
        }
    }
}
