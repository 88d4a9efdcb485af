using System.Text;
using System.Text.Json;
using Llana.Core.Changes;
using Llana.Server.Tests.Infrastructure;

namespace Llana.Server.Tests;

/// Llana's REST surface (spec §3–§5), run unchanged on SQLite, PostgreSQL and MariaDB.
public abstract class RestSpec(DemoFixture fixture)
{
    protected HttpClient Http => fixture.Http;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    private async Task<long> CreateCustomerAsync(string companyName, string? city = null)
    {
        var r = await Http.Post("/Customer/", new { companyName, userId = 1, city });
        Assert.Equal(201, r.Status);
        return r.Json.GetProperty("custId").GetInt64();
    }

    [Fact]
    public async Task Tables_lists_the_demo_tables_and_hides_system_tables()
    {
        var r = await Http.Get("/tables");
        Assert.Equal(200, r.Status);
        var tables = r.Json.GetProperty("tables").EnumerateArray().Select(t => t.GetString()).ToList();
        foreach (var t in new[] { "Customer", "Employee", "SalesOrder", "Shipper", "User", "UserApiKey" })
        {
            Assert.Contains(t, tables);
        }

        Assert.DoesNotContain(tables, t => t!.StartsWith("_llana_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Docs_describe_every_table_unless_skipped()
    {
        var page = await Http.Get("/");
        Assert.Equal(200, page.Status);
        Assert.Contains("<title>API Documentation</title>", page.Text);
        var served = await Http.Get("/openapi.json");
        Assert.StartsWith("3.1.", served.Json.GetProperty("openapi").GetString());

        // Read back with Microsoft.OpenApi's reader: valid, and it describes parameters and bodies.
        var read = Microsoft.OpenApi.OpenApiDocument.Parse(served.Text, "json");
        Assert.Empty(read.Diagnostic!.Errors);
        var paths = read.Document!.Paths;
        Assert.False(paths.ContainsKey("/_llana_role/"));
        var list = paths["/Customer/"].Operations![HttpMethod.Get];
        var parameters = list.Parameters!.Select(p => p.Name).ToList();
        foreach (var name in new[] { "fields", "relations", "sort", "limit", "offset", "page", "custId", "companyName" })
        {
            Assert.Contains(name, parameters);
        }

        Assert.Equal(Microsoft.OpenApi.ParameterStyle.DeepObject, list.Parameters!.Single(p => p.Name == "companyName").Style);
        Assert.NotNull(paths["/Customer/"].Operations![HttpMethod.Post].RequestBody);
        Assert.NotNull(paths["/Customer/{id}"].Operations![HttpMethod.Patch].RequestBody);
        Assert.True(paths["/Customer/"].Operations!.ContainsKey(HttpMethod.Delete));
        Assert.Contains("200", paths["/auth/login"].Operations![HttpMethod.Post].Responses!.Keys);
        var customer = read.Document.Components!.Schemas!["Customer"];
        Assert.True(customer.Properties!["custId"].ReadOnly);

        await using var skipped = await fixture.StartServerAsync(new Dictionary<string, string?> { ["SKIP_DOCS"] = "false" });
        Assert.Equal("{\"version\":\"1.32.0\"}", (await skipped.Http.Get("/")).Text);
    }

    [Fact]
    public async Task Schema_describes_types_keys_and_relations_in_both_directions()
    {
        var r = await Http.Get("/Customer/schema");
        Assert.Equal(200, r.Status);
        var json = r.Json;
        Assert.Equal("Customer", json.GetProperty("table").GetString());
        Assert.Equal("custId", json.GetProperty("primary_key").GetString());
        var columns = json.GetProperty("columns").EnumerateArray().ToDictionary(c => c.GetProperty("field").GetString()!);
        Assert.Equal("number", columns["custId"].GetProperty("type").GetString());
        Assert.True(columns["custId"].GetProperty("primary_key").GetBoolean());
        Assert.Equal("auto_increment", columns["custId"].GetProperty("extra").GetString());
        Assert.Equal("string", columns["companyName"].GetProperty("type").GetString());
        Assert.True(columns["companyName"].GetProperty("required").GetBoolean());
        Assert.True(columns["email"].GetProperty("unique_key").GetBoolean());
        Assert.True(columns["userId"].GetProperty("foreign_key").GetBoolean());
        Assert.Equal("date", columns["createdAt"].GetProperty("type").GetString());
        var relations = json.GetProperty("relations").EnumerateArray()
            .Select(x => $"{x.GetProperty("table").GetString()}.{x.GetProperty("column").GetString()}={x.GetProperty("org_table").GetString()}.{x.GetProperty("org_column").GetString()}")
            .ToList();
        Assert.Contains("SalesOrder.custId=Customer.custId", relations);
        Assert.Contains("User.id=Customer.userId", relations);

        var user = (await Http.Get("/User/schema")).Json.GetProperty("columns").EnumerateArray().Single(c => c.GetProperty("field").GetString() == "role");
        Assert.Equal("enum", user.GetProperty("type").GetString());
        Assert.Equal(["ADMIN", "USER"], user.GetProperty("enums").EnumerateArray().Select(e => e.GetString()!).ToArray());

        var freight = (await Http.Get("/SalesOrder/schema")).Json.GetProperty("columns").EnumerateArray().Single(c => c.GetProperty("field").GetString() == "freight");
        Assert.Equal("number", freight.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("GET", "/Nope")]
    [InlineData("GET", "/Nope/")]
    [InlineData("GET", "/Nope/1")]
    [InlineData("GET", "/Nope/schema")]
    [InlineData("POST", "/Nope/")]
    [InlineData("PUT", "/Nope/1")]
    [InlineData("DELETE", "/Nope/1")]
    public async Task An_unknown_table_is_404(string method, string path)
    {
        var r = await Http.Send(new HttpMethod(method), path, method is "POST" or "PUT" ? new { a = 1 } : null);
        Assert.Equal(404, r.Status);
        Assert.Equal("Error processing schema for Nope", r.Text);
    }

    [Fact]
    public async Task List_returns_the_envelope_and_page_tokens_lead_through_every_row()
    {
        var first = await Http.Get("/SalesOrder/");
        Assert.Equal(200, first.Status);
        var json = first.Json;
        Assert.Equal(20, json.GetProperty("limit").GetInt32());
        Assert.Equal(0, json.GetProperty("offset").GetInt32());
        var total = json.GetProperty("total").GetInt32();
        Assert.True(total >= 25);
        Assert.Equal(20, json.GetProperty("pagination").GetProperty("total").GetInt32());
        var page = json.GetProperty("pagination").GetProperty("page");
        Assert.Equal("eyJsaW1pdCI6MjAsIm9mZnNldCI6MH0=", page.GetProperty("current").GetString());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("prev").ValueKind);

        var seen = json.GetProperty("data").EnumerateArray().Select(o => o.GetProperty("orderId").GetInt64()).ToList();
        var next = page.GetProperty("next").GetString();
        while (next is not null)
        {
            var r = (await Http.Get("/SalesOrder?page=" + Uri.EscapeDataString(next))).Json;
            seen.AddRange(r.GetProperty("data").EnumerateArray().Select(o => o.GetProperty("orderId").GetInt64()));
            next = r.GetProperty("pagination").GetProperty("page").GetProperty("next").GetString();
        }

        Assert.Equal(total, seen.Count);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(seen.Order().ToList(), seen);
    }

    [Fact]
    public async Task Limit_and_offset_select_a_slice_with_or_without_the_trailing_slash()
    {
        var limited = (await Http.Get("/SalesOrder?limit=3")).Json;
        Assert.Equal(3, limited.GetProperty("data").GetArrayLength());
        var total = limited.GetProperty("total").GetInt32();
        Assert.True(total > 3);
        var tail = (await Http.Get($"/SalesOrder/?offset={total - 2}")).Json;
        Assert.Equal(2, tail.GetProperty("data").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, tail.GetProperty("pagination").GetProperty("page").GetProperty("next").ValueKind);
    }

    [Fact]
    public async Task Values_are_typed_numbers_iso_dates_and_nulls()
    {
        var order = (await Http.Get("/SalesOrder/1")).Json;
        Assert.Equal(JsonValueKind.Number, order.GetProperty("orderId").ValueKind);
        Assert.Equal(JsonValueKind.Number, order.GetProperty("freight").ValueKind);
        Assert.Equal(JsonValueKind.String, order.GetProperty("shipName").ValueKind);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", order.GetProperty("orderDate").GetString());
        Assert.Equal(JsonValueKind.Null, order.GetProperty("deletedAt").ValueKind);
    }

    [Fact]
    public async Task Get_one_returns_200_204_or_400()
    {
        var r = await Http.Get("/Customer/1");
        Assert.Equal(200, r.Status);
        Assert.Equal(1, r.Json.GetProperty("custId").GetInt64());
        Assert.Equal(204, (await Http.Get("/Customer/999999")).Status);
        var bad = await Http.Get("/Customer/abc");
        Assert.Equal(400, bad.Status);
        Assert.Equal("custId must be a number", bad.Text);
        var ignoresFilters = await Http.Get("/Customer/1?fields=custId&custId=2");
        Assert.Equal("{\"custId\":1}", ignoresFilters.Text);
    }

    [Fact]
    public async Task Fields_select_columns_in_request_order_without_adding_the_key()
    {
        var one = await Http.Get("/User/1?fields=role,id");
        Assert.Equal("{\"role\":\"ADMIN\",\"id\":1}", one.Text);
        var list = (await Http.Get("/SalesOrder?fields=shipName&limit=2")).Json.GetProperty("data");
        Assert.All(list.EnumerateArray(), o => Assert.Equal(["shipName"], o.EnumerateObject().Select(p => p.Name)));
        var bad = await Http.Get("/SalesOrder?fields=foo");
        Assert.Equal(400, bad.Status);
        Assert.Equal("Field foo not found in table schema for SalesOrder", bad.Text);
    }

    [Fact]
    public async Task Relations_are_arrays_in_both_directions()
    {
        var order = (await Http.Get("/SalesOrder/1?relations=Customer")).Json;
        var custId = order.GetProperty("custId").GetInt64();
        var customer = Assert.Single(order.GetProperty("Customer").EnumerateArray());
        Assert.Equal(custId, customer.GetProperty("custId").GetInt64());

        var reverse = (await Http.Get($"/Customer/{custId}?relations=SalesOrder")).Json.GetProperty("SalesOrder");
        Assert.Contains(reverse.EnumerateArray(), o => o.GetProperty("orderId").GetInt64() == 1);
        Assert.All(reverse.EnumerateArray(), o => Assert.Equal(custId, o.GetProperty("custId").GetInt64()));

        var list = (await Http.Get("/SalesOrder?relations=Customer,Shipper&limit=5")).Json.GetProperty("data");
        Assert.All(list.EnumerateArray(), o =>
        {
            Assert.Equal(o.GetProperty("custId").GetInt64(), Assert.Single(o.GetProperty("Customer").EnumerateArray()).GetProperty("custId").GetInt64());
            Assert.Equal(o.GetProperty("shipperId").GetInt64(), Assert.Single(o.GetProperty("Shipper").EnumerateArray()).GetProperty("shipperId").GetInt64());
        });

        var empty = await CreateCustomerAsync(Unique("NoOrders"));
        Assert.Equal(0, (await Http.Get($"/Customer/{empty}?relations=SalesOrder")).Json.GetProperty("SalesOrder").GetArrayLength());
    }

    [Fact]
    public async Task Dotted_fields_pick_relation_columns()
    {
        var r = (await Http.Get("/SalesOrder/1?fields=custId,Customer.companyName")).Json;
        Assert.Equal(["custId", "Customer"], r.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["companyName"], Assert.Single(r.GetProperty("Customer").EnumerateArray()).EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Relation_errors_are_400()
    {
        var unknown = await Http.Get("/SalesOrder?relations=Nope");
        Assert.Equal(400, unknown.Status);
        Assert.Equal("Relation Nope not found in table schema for SalesOrder ", unknown.Text);
        var missingJoin = await Http.Get("/SalesOrder?fields=shipName&relations=Customer");
        Assert.Equal(400, missingJoin.Status);
        Assert.StartsWith("Cannot build relation. Field custId not found in the result set", missingJoin.Text);
    }

    [Fact]
    public async Task Every_filter_operator_selects_the_matching_rows()
    {
        var city = Unique("City");
        var a = await CreateCustomerAsync("Alpha " + city, city);
        var b = await CreateCustomerAsync("Beta " + city, city);
        var c = await CreateCustomerAsync("Gamma " + city, null);

        async Task<long[]> Ids(string query) =>
            (await Http.Get("/Customer?fields=custId&limit=1000&" + query)).Json.GetProperty("data").EnumerateArray()
                .Select(o => o.GetProperty("custId").GetInt64()).Where(id => id == a || id == b || id == c).ToArray();

        Assert.Equal([a, b], await Ids($"city={city}"));
        Assert.Equal([a, b], await Ids($"city[equals]={city}"));
        Assert.Equal([b], await Ids($"city={city}&companyName[not_equals]=Alpha%20{city}"));
        Assert.Equal([a, b], await Ids($"companyName[like]=%25{city}&city[not_null]"));
        Assert.Equal([c], await Ids($"companyName[search]={city}&city[null]="));
        Assert.Equal([b, c], await Ids($"companyName[not_like]=Alpha%25&custId[gte]={a}"));
        Assert.Equal([a, c], await Ids($"custId[in]={a},{c}"));
        Assert.Equal([a, c], await Ids($"custId[in]={a}&custId[in]={c}"));
        Assert.Equal([b], await Ids($"custId[not_in]={a},{c}&custId[gte]={a}"));
        Assert.Equal([b], await Ids($"custId[gt]={a}&custId[lt]={c}"));
        Assert.Equal([a, b], await Ids($"custId[gte]={a}&custId[lte]={b}"));
    }

    [Fact]
    public async Task Filters_on_decimals_and_dates_compare_by_value()
    {
        var all = (await Http.Get("/SalesOrder?limit=1000&fields=orderId,freight,orderDate")).Json.GetProperty("data").EnumerateArray().ToList();
        var expensive = all.Where(o => o.GetProperty("freight").GetDecimal() >= 100m).Select(o => o.GetProperty("orderId").GetInt64()).ToList();
        var r = (await Http.Get("/SalesOrder?limit=1000&fields=orderId&freight[gte]=100")).Json.GetProperty("data");
        Assert.Equal(expensive, r.EnumerateArray().Select(o => o.GetProperty("orderId").GetInt64()).ToList());

        var cut = all.Select(o => DateTime.Parse(o.GetProperty("orderDate").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime()).Order().ElementAt(all.Count / 2);
        var later = all.Count(o => DateTime.Parse(o.GetProperty("orderDate").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime() > cut);
        var iso = cut.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(later, (await Http.Get("/SalesOrder?orderDate[gt]=" + iso)).Json.GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("foo=1", "Column foo not found in schema")]
    [InlineData("foo[gt]=1", "Column foo[gt] not found in schema")]
    [InlineData("freight[gt]=abc", "freight must be a number")]
    [InlineData("custId[in]=1,x", "custId must be a number")]
    [InlineData("orderDate[gt]=yesterday", "orderDate must be a valid ISO 8601 date string")]
    [InlineData("freight[between]=1", "Invalid filter operator between for freight")]
    [InlineData("sort=shipName", "Invalid order param shipName, missing direction, must be either shipName.asc or shipName.desc")]
    [InlineData("sort=nope.asc", "Column nope not found in schema")]
    [InlineData("sort=shipName.up", "Invalid order operator up, must be either asc or desc")]
    [InlineData("offset=-1", "offset must be an integer")]
    [InlineData("limit=99999999999", "limit must be an integer")]
    [InlineData("limit=abc", "limit must be an integer")]
    [InlineData("page=not-a-token", "Invalid page token")]
    [InlineData("page=eyJsaW1pdCI6LTEsIm9mZnNldCI6MH0=", "Invalid page token")]
    [InlineData("page=eyJmb28iOjF9", "Invalid page token")]
    public async Task Bad_query_parameters_are_400_with_a_clear_message(string query, string message)
    {
        var r = await Http.Get("/SalesOrder?" + query);
        Assert.Equal(400, r.Status);
        Assert.StartsWith(message, r.Text);
    }

    [Fact]
    public async Task Sort_orders_by_several_columns()
    {
        var data = (await Http.Get("/SalesOrder?sort=shipperId.desc,orderId.asc&limit=1000&fields=orderId,shipperId")).Json.GetProperty("data")
            .EnumerateArray().Select(o => (Shipper: o.GetProperty("shipperId").GetInt64(), Order: o.GetProperty("orderId").GetInt64())).ToList();
        Assert.Equal(data.OrderByDescending(x => x.Shipper).ThenBy(x => x.Order).ToList(), data);
    }

    [Fact]
    public async Task Quotes_and_sql_in_values_are_literals()
    {
        var name = Unique("O'B\"; DROP TABLE x; --");
        var id = await CreateCustomerAsync(name);
        var r = (await Http.Get("/Customer?companyName=" + Uri.EscapeDataString(name))).Json;
        Assert.Equal(id, Assert.Single(r.GetProperty("data").EnumerateArray()).GetProperty("custId").GetInt64());
        Assert.Equal(0, (await Http.Get("/Customer?companyName=" + Uri.EscapeDataString("x' OR '1'='1"))).Json.GetProperty("total").GetInt32());
        Assert.Equal(400, (await Http.Get("/Customer?" + Uri.EscapeDataString("custId) OR (1=1") + "=1")).Status);
        Assert.Equal(200, (await Http.Get("/Customer/schema")).Status);
    }

    [Fact]
    public async Task Create_one_returns_201_and_the_stored_row()
    {
        var name = Unique("Create!@#$%^&*()_+, é ");
        var r = await Http.Post("/Customer/", new { companyName = name, userId = 1, city = "Lyon" });
        Assert.Equal(201, r.Status);
        var row = r.Json;
        Assert.Equal(name, row.GetProperty("companyName").GetString());
        Assert.True(row.GetProperty("custId").GetInt64() > 0);
        Assert.Equal(JsonValueKind.Null, row.GetProperty("deletedAt").ValueKind);
        Assert.Equal(JsonValueKind.String, row.GetProperty("createdAt").ValueKind);
        Assert.Equal(name, (await Http.Get($"/Customer/{row.GetProperty("custId").GetInt64()}")).Json.GetProperty("companyName").GetString());
    }

    [Fact]
    public async Task Create_many_reports_each_item()
    {
        var r = await Http.Post("/Customer", new object[]
        {
            new { companyName = Unique("Bulk"), userId = 1 },
            new { companyName = Unique("Bulk"), userId = 1 },
            new { companyName = Unique("Bulk"), userId = 1, nope = 1 },
        });
        Assert.Equal(201, r.Status);
        var json = r.Json;
        Assert.Equal(3, json.GetProperty("total").GetInt32());
        Assert.Equal(2, json.GetProperty("successful").GetInt32());
        Assert.Equal(1, json.GetProperty("errored").GetInt32());
        var error = Assert.Single(json.GetProperty("errors").EnumerateArray());
        Assert.Equal(2, error.GetProperty("item").GetInt32());
        Assert.Equal("Unknown column: nope", error.GetProperty("message").GetString());
        Assert.Equal(2, json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Create_errors_are_json_400s()
    {
        var unknown = await Http.Post("/Customer/", new { companyName = "x", userId = 1, foo = 1 });
        Assert.Equal(400, unknown.Status);
        Assert.Equal("{\"message\":\"Unknown column: foo\"}", unknown.Text);

        var wrongType = await Http.Post("/Customer/", new { companyName = 5, userId = "x" });
        Assert.Equal(400, wrongType.Status);
        Assert.Contains("userId must be a number", wrongType.Json.GetProperty("message").GetString());
        Assert.Contains("companyName must be a string", wrongType.Json.GetProperty("message").GetString());

        var email = Unique("dup") + "@example.com";
        Assert.Equal(201, (await Http.Post("/Customer/", new { companyName = "d1", userId = 1, email })).Status);
        var duplicate = await Http.Post("/Customer/", new { companyName = "d2", userId = 1, email });
        Assert.Equal(400, duplicate.Status);
        Assert.Equal("DUPLICATE_RECORD", duplicate.Json.GetProperty("message").GetString());
        Assert.Contains("duplicate already exists", duplicate.Json.GetProperty("error").GetString());

        var foreignKey = await Http.Post("/Customer/", new { companyName = "fk", userId = 999999 });
        Assert.Equal(400, foreignKey.Status);
        Assert.Equal("FOREIGN_KEY_VIOLATION", foreignKey.Json.GetProperty("message").GetString());

        var notNull = await Http.Post("/Customer/", new { companyName = (string?)null, userId = 1 });
        Assert.Equal(400, notNull.Status);
        Assert.Equal("NOT_NULL_VIOLATION", notNull.Json.GetProperty("message").GetString());

        var badEnum = await Http.Post("/User/", new { email = Unique("u") + "@x.y", password = "p", role = "GOD" });
        Assert.Equal(400, badEnum.Status);
        Assert.Equal("role must be one of the following values: ADMIN, USER", badEnum.Json.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("{bad json")]
    [InlineData("\"a string\"")]
    [InlineData("42")]
    [InlineData("")]
    public async Task A_malformed_body_is_400_and_writes_nothing(string body)
    {
        var before = (await Http.Get("/Customer?limit=1")).Json.GetProperty("total").GetInt32();
        var r = await Http.Send(HttpMethod.Post, "/Customer/", rawBody: body);
        Assert.Equal(400, r.Status);
        Assert.Equal(before, (await Http.Get("/Customer?limit=1")).Json.GetProperty("total").GetInt32());
        var put = await Http.Send(HttpMethod.Put, "/Customer/1", rawBody: body);
        Assert.Equal(400, put.Status);
    }

    [Fact]
    public async Task Update_one_with_put_and_patch_changes_only_the_given_columns()
    {
        var id = await CreateCustomerAsync(Unique("Upd"), "Oslo");
        var put = await Http.Put($"/Customer/{id}", new { city = "Bergen" });
        Assert.Equal(200, put.Status);
        Assert.Equal("Bergen", put.Json.GetProperty("city").GetString());
        var patch = await Http.Patch($"/Customer/{id}/", new { region = "Vestland" });
        Assert.Equal(200, patch.Status);
        Assert.Equal("Bergen", patch.Json.GetProperty("city").GetString());
        Assert.Equal("Vestland", patch.Json.GetProperty("region").GetString());

        var freight = await Http.Put("/SalesOrder/2", new { freight = 10.01 });
        Assert.Equal(10.01m, freight.Json.GetProperty("freight").GetDecimal());
    }

    [Fact]
    public async Task Update_errors_are_400()
    {
        var missing = await Http.Put("/Customer/999999", new { city = "x" });
        Assert.Equal(400, missing.Status);
        Assert.Equal("Record with id 999999 not found", missing.Text);
        var unknown = await Http.Put("/Customer/1", new { foo = "x" });
        Assert.Equal(400, unknown.Status);
        Assert.Equal("Unknown column: foo", unknown.Text);
        var type = await Http.Put("/SalesOrder/1", new { freight = "cheap" });
        Assert.Equal("freight must be a number", type.Text);
        var notArray = await Http.Put("/Customer/", new { custId = 1 });
        Assert.Equal(400, notArray.Status);
        Assert.Equal("Body must be an array", notArray.Text);
    }

    [Fact]
    public async Task Update_many_reports_each_item()
    {
        var a = await CreateCustomerAsync(Unique("Many"));
        var b = await CreateCustomerAsync(Unique("Many"));
        var r = await Http.Put("/Customer/", new object[] { new { custId = a, city = "Rome" }, new { custId = b, city = "Milan" }, new { custId = 999999, city = "x" } });
        Assert.Equal(200, r.Status);
        var json = r.Json;
        Assert.Equal(3, json.GetProperty("total").GetInt32());
        Assert.Equal(2, json.GetProperty("successful").GetInt32());
        Assert.Equal(1, json.GetProperty("errored").GetInt32());
        Assert.Equal(["Rome", "Milan"], json.GetProperty("data").EnumerateArray().Select(d => d.GetProperty("city").GetString()!).ToArray());
    }

    [Fact]
    public async Task Delete_one_and_many()
    {
        var id = await CreateCustomerAsync(Unique("Del"));
        var r = await Http.Delete($"/Customer/{id}");
        Assert.Equal(200, r.Status);
        Assert.Equal("{\"deleted\":1}", r.Text);
        Assert.Equal(204, (await Http.Get($"/Customer/{id}")).Status);
        var again = await Http.Delete($"/Customer/{id}");
        Assert.Equal(400, again.Status);
        Assert.Equal($"Record with id {id} not found", again.Text);

        var a = await CreateCustomerAsync(Unique("DelMany"));
        var b = await CreateCustomerAsync(Unique("DelMany"));
        var many = await Http.Delete("/Customer/", new object[] { new { custId = a }, new { custId = b } });
        Assert.Equal(200, many.Status);
        Assert.Equal("{\"total\":2,\"deleted\":2,\"errored\":0,\"errors\":[]}", many.Text);
        Assert.Equal(400, (await Http.Delete("/Customer/", new { custId = a })).Status);
        Assert.Equal(400, (await Http.Delete("/Customer/abc")).Status);
    }

    [Fact]
    public async Task Soft_delete_keeps_the_row_and_hides_it_and_hard_removes_it()
    {
        await using var soft = await fixture.StartServerAsync(new Dictionary<string, string?> { ["SOFT_DELETE_COLUMN"] = "deletedAt" });
        var id = await CreateCustomerAsync(Unique("Soft"));
        Assert.Equal(200, (await soft.Http.Delete($"/Customer/{id}")).Status);
        Assert.Equal(204, (await soft.Http.Get($"/Customer/{id}")).Status);
        Assert.Equal(0, (await soft.Http.Get($"/Customer?custId={id}")).Json.GetProperty("total").GetInt32());
        var stored = (await Http.Get($"/Customer/{id}")).Json;
        Assert.Equal(JsonValueKind.String, stored.GetProperty("deletedAt").ValueKind);

        Assert.Equal(200, (await soft.Http.Delete($"/Customer/{id}?hard=true")).Status);
        Assert.Equal(204, (await Http.Get($"/Customer/{id}")).Status);
    }

    [Fact]
    public async Task Request_id_and_robots_header_are_echoed()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/Customer/1?fields=custId");
        request.Headers.Add("x-request-id", "req-42");
        var r = await Reply.From(await Http.SendAsync(request));
        Assert.Equal("{\"custId\":1,\"_x_request_id\":\"req-42\"}", r.Text);
        Assert.Equal("noindex, nofollow", string.Join(",", r.Message.Headers.GetValues("X-Robots-Tag")));
        var notFound = await Http.Get("/a/b/c");
        Assert.Equal(404, notFound.Status);
        Assert.Equal("noindex, nofollow", string.Join(",", notFound.Message.Headers.GetValues("X-Robots-Tag")));
    }

    [Fact]
    public async Task Every_committed_write_produces_one_change_per_row_in_offset_order()
    {
        var feed = fixture.Server.Get<IChangeFeed>();
        var changes = new List<RowChange>();
        var marker = Unique("Feed");
        using (feed.Subscribe(c =>
        {
            if (c.TableName == "Customer" && c["companyName"] is string s && s.StartsWith(marker, StringComparison.Ordinal))
            {
                lock (changes)
                {
                    changes.Add(c);
                }
            }
        }))
        {
            var id = await CreateCustomerAsync(marker + "1");
            await Http.Put($"/Customer/{id}", new { city = "Turin" });
            var bulk = await Http.Post("/Customer/", new object[] { new { companyName = marker + "2", userId = 1 }, new { companyName = marker + "3", userId = 999999 }, new { companyName = marker + "4", userId = 1 } });
            Assert.Equal(2, bulk.Json.GetProperty("successful").GetInt32());
            await Http.Delete($"/Customer/{id}");
            await Http.Put("/Customer/999999", new { city = "none" });

            Assert.Equal(
                [ChangeKind.Insert, ChangeKind.Update, ChangeKind.Insert, ChangeKind.Insert, ChangeKind.Delete],
                changes.Select(c => c.Kind).ToArray());
            Assert.Equal(id.ToString(System.Globalization.CultureInfo.InvariantCulture), changes[0].Id);
            Assert.Equal("custId", changes[0].PrimaryKey);
            Assert.Equal("Turin", changes[1]["city"]);
            Assert.Equal("Turin", changes[4]["city"]);
            Assert.Equal(changes.Select(c => c.Offset).Order().ToList(), changes.Select(c => c.Offset).ToList());
            Assert.Equal(changes.Count, changes.Select(c => c.Offset).Distinct().Count());
        }
    }

    [Fact]
    public async Task Json_bodies_keep_unicode_and_large_bulk_is_bounded()
    {
        var name = Unique("Ünïcødé 東京 ");
        var r = await Http.Post("/Customer/", new { companyName = name, userId = 1 });
        Assert.Contains(name, r.Text, StringComparison.Ordinal);
        var tooMany = Enumerable.Range(0, 1001).Select(i => new { companyName = "x", userId = 1 }).ToArray();
        var big = await Http.Post("/Customer/", tooMany);
        Assert.Equal(400, big.Status);
        var huge = new string('x', 11 * 1024 * 1024);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/Customer/")
        {
            Content = new StringContent("{\"companyName\":\"" + huge + "\"}", Encoding.UTF8, "application/json"),
        };

        // With 100-continue the server can refuse before the client sends the body.
        request.Headers.ExpectContinue = true;
        var tooLarge = await Http.SendAsync(request);
        Assert.Equal(413, (int)tooLarge.StatusCode);
    }
}

public sealed class SqliteRestSpec(SqliteDemo fixture) : RestSpec(fixture), IClassFixture<SqliteDemo>;

public sealed class PostgresRestSpec(PostgresDemo fixture) : RestSpec(fixture), IClassFixture<PostgresDemo>;

public sealed class MySqlRestSpec(MySqlDemo fixture) : RestSpec(fixture), IClassFixture<MySqlDemo>;
