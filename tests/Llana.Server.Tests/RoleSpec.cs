using System.Text.Json;
using Llana.Server.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Llana.Server.Tests;

/// Authorization (spec §7; §14.2 GET/POST/PUT/DELETE public and role cases; §17 items 2, 13, 14). Rules are
/// flipped through the API between requests, which also proves the decision caches are invalidated.
/// Demo data: user 1 is ADMIN and owns customers 1–10, user 2 is USER and owns customers 11–13.
public abstract class RoleSpec(DemoFixture fixture)
{
    private const string Missing = "Missing authorization token. Use either &lt;Bearer&gt; token header or accessToken cookie";

    private LlanaServer Server => fixture.Server;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    /// Runs <paramref name="body"/> with a `_llana_role` row in place, removed afterwards.
    private async Task WithRole(object rule, Func<Task> body) => await WithRow("/_llana_role/", rule, body);

    private async Task WithPublic(object rule, Func<Task> body) => await WithRow("/_llana_public_tables/", rule, body);

    private async Task WithRow(string path, object row, Func<Task> body)
    {
        using var admin = Server.Admin();
        var created = await admin.Post(path, row);
        Assert.Equal(201, created.Status);
        try
        {
            await body();
        }
        finally
        {
            Assert.Equal(200, (await admin.Delete(path + created.Json.GetProperty("id").GetInt64())).Status);
        }
    }

    private static object Custom(string table, string records, string? own = null, string? identity = null, string? fields = null, string role = "USER") =>
        new { custom = true, table, role, records, own_records = own, identity_column = identity, allowed_fields = fields };

    private async Task<long> CreateCustomerAsync(long owner)
    {
        using var admin = Server.Admin();
        var r = await admin.Post("/Customer/", new { companyName = Unique("Co "), userId = owner });
        Assert.Equal(201, r.Status);
        return r.Json.GetProperty("custId").GetInt64();
    }

    private static string[] Keys(JsonElement row) => row.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task Without_a_token_only_public_tables_answer_and_only_at_their_level()
    {
        using var anonymous = Server.Client();
        var denied = await anonymous.Get("/Customer/");
        Assert.Equal(401, denied.Status);
        Assert.Equal(Missing, denied.Text);
        Assert.Equal(200, (await anonymous.Get("/Employee/")).Status);
        Assert.Equal(401, (await anonymous.Post("/Employee/", new { lastName = "X", firstName = "Y" })).Status);

        var id = await CreateCustomerAsync(1);
        await WithPublic(new { table = "Customer", access_level = "READ" }, async () =>
        {
            Assert.Equal(200, (await anonymous.Get("/Customer/")).Status);
            Assert.Equal(200, (await anonymous.Get($"/Customer/{id}")).Status);
            Assert.Equal(200, (await anonymous.Get("/Customer/schema")).Status);
            Assert.Equal(401, (await anonymous.Post("/Customer/", new { companyName = "P", userId = 1 })).Status);
            Assert.Equal(401, (await anonymous.Put($"/Customer/{id}", new { city = "Oslo" })).Status);
            Assert.Equal(401, (await anonymous.Delete($"/Customer/{id}")).Status);
        });
        Assert.Equal(401, (await anonymous.Get("/Customer/")).Status);

        await WithPublic(new { table = "Customer", access_level = "WRITE" }, async () =>
        {
            Assert.Equal(200, (await anonymous.Get("/Customer/")).Status);
            Assert.Equal(201, (await anonymous.Post("/Customer/", new { companyName = "Public Write", userId = 1 })).Status);
            Assert.Equal(200, (await anonymous.Put($"/Customer/{id}", new { city = "Oslo" })).Status);
            Assert.Equal(401, (await anonymous.Delete($"/Customer/{id}")).Status);
        });

        await WithPublic(new { table = "Customer", access_level = "DELETE" }, async () =>
            Assert.Equal(200, (await anonymous.Delete($"/Customer/{id}")).Status));
    }

    [Fact]
    public async Task Public_allowed_fields_restrict_the_output_and_apply_to_relations()
    {
        using var anonymous = Server.Client();
        await WithPublic(new { table = "SalesOrder", access_level = "READ", allowed_fields = "freight,orderDate,custId" }, async () =>
        {
            var one = await anonymous.Get("/SalesOrder/1");
            Assert.Equal(200, one.Status);
            Assert.Equal(["custId", "freight", "orderDate"], Keys(one.Json));

            var requested = await anonymous.Get("/SalesOrder/1?fields=freight,shipName");
            Assert.Equal(["freight"], Keys(requested.Json));

            // The related table is private: its rows are not shown to an anonymous caller.
            var related = await anonymous.Get("/SalesOrder/1?relations=Customer");
            Assert.Equal(0, related.Json.GetProperty("Customer").GetArrayLength());

            await WithPublic(new { table = "Customer", access_level = "READ", allowed_fields = "companyName" }, async () =>
            {
                var withCustomer = await anonymous.Get("/SalesOrder/1?relations=Customer");
                Assert.Equal(["companyName"], Keys(withCustomer.Json.GetProperty("Customer")[0]));
            });

            // A bad token does not spoil public access.
            using var bad = Server.Client("bad.token.here");
            Assert.Equal(200, (await bad.Get("/SalesOrder/1")).Status);
        });

        // Public WRITE with allowed fields restricts what a create answers, even for a signed-in user.
        await WithPublic(new { table = "Customer", access_level = "WRITE", allowed_fields = "companyName" }, async () =>
        {
            using var user = Server.Client(Server.Token(2));
            await WithRole(Custom("Customer", "NONE"), async () =>
            {
                var created = await user.Post("/Customer/", new { companyName = "Only Name", userId = 1 });
                Assert.Equal(201, created.Status);
                Assert.Equal(["companyName"], Keys(created.Json));
            });
        });
    }

    [Fact]
    public async Task Default_rules_give_admin_everything_and_user_read()
    {
        using var user = Server.User();
        using var admin = Server.Admin();
        Assert.Equal(200, (await user.Get("/SalesOrder/")).Status);
        Assert.Equal(200, (await user.Get("/Customer/1")).Status);
        var post = await user.Post("/Customer/", new { companyName = "Nope", userId = 2 });
        Assert.Equal(401, post.Status);
        Assert.Equal("Table Action WRITE - Permission Denied For Role USER", post.Text);
        var delete = await user.Delete("/Customer/1");
        Assert.Equal(401, delete.Status);
        Assert.Equal("Table Action DELETE - Permission Denied For Role USER", delete.Text);

        var id = await CreateCustomerAsync(2);
        Assert.Equal(200, (await admin.Put($"/Customer/{id}", new { city = "Bergen" })).Status);
        Assert.Equal(200, (await admin.Delete($"/Customer/{id}")).Status);

        // A user whose role has no rule at all, and a user that does not exist, are denied.
        using var ghost = Server.Client(Server.Token(999_999));
        var none = await ghost.Get("/Customer/");
        Assert.Equal(401, none.Status);
        Assert.Equal("Role not found", none.Text);
    }

    [Theory]
    [InlineData("READ", 200, 401, 401)]
    [InlineData("WRITE", 200, 201, 401)]
    [InlineData("DELETE", 200, 201, 200)]
    [InlineData("NONE", 401, 401, 401)]
    public async Task Custom_records_levels_are_cumulative(string records, int read, int write, int delete)
    {
        using var user = Server.User();
        var id = await CreateCustomerAsync(1);
        await WithRole(Custom("Customer", records), async () =>
        {
            var get = await user.Get("/Customer/");
            Assert.Equal(read, get.Status);
            if (read == 401)
            {
                Assert.Equal("Table Action READ - Permission Denied For Role USER", get.Text);
            }

            var post = await user.Post("/Customer/", new { companyName = Unique("C"), userId = 1 });
            Assert.Equal(write, post.Status);
            Assert.Equal(write == 201 ? 200 : 401, (await user.Put($"/Customer/{id}", new { city = "Lyon" })).Status);
            var del = await user.Delete($"/Customer/{id}");
            Assert.Equal(delete, del.Status);
            if (delete == 401 && read == 200)
            {
                Assert.Equal("Table Action DELETE - Permission Denied For Role USER", del.Text);
            }
        });
    }

    [Fact]
    public async Task Own_records_restrict_list_get_update_and_delete_to_the_owner()
    {
        using var user = Server.User();
        using var admin = Server.Admin();
        var mine = await CreateCustomerAsync(2);
        var theirs = await CreateCustomerAsync(1);
        await WithRole(Custom("Customer", "NONE", own: "DELETE", identity: "userId"), async () =>
        {
            var list = await user.Get("/Customer/?limit=1000");
            Assert.Equal(200, list.Status);
            Assert.All(list.Json.GetProperty("data").EnumerateArray(), c => Assert.Equal(2, c.GetProperty("userId").GetInt32()));
            Assert.Equal(list.Json.GetProperty("total").GetInt32(), list.Json.GetProperty("data").GetArrayLength());
            Assert.Contains(list.Json.GetProperty("data").EnumerateArray(), c => c.GetProperty("custId").GetInt64() == mine);

            Assert.Equal(204, (await user.Get($"/Customer/{theirs}")).Status);
            Assert.Equal(200, (await user.Get($"/Customer/{mine}")).Status);

            var update = await user.Put($"/Customer/{theirs}", new { city = "Hacked" });
            Assert.Equal(401, update.Status);
            Assert.StartsWith("Identity Mismatch", update.Text);
            Assert.Equal(200, (await user.Put($"/Customer/{mine}", new { city = "Mine" })).Status);

            // Handing one's own row to someone else is a write to their records.
            Assert.Equal(401, (await user.Put($"/Customer/{mine}", new { userId = 1 })).Status);

            var delete = await user.Delete($"/Customer/{theirs}");
            Assert.Equal(401, delete.Status);
            Assert.StartsWith("Identity Mismatch", delete.Text);

            var bulk = await user.Delete("/Customer/", new object[] { new { custId = theirs }, new { custId = mine } });
            Assert.Equal(200, bulk.Status);
            Assert.Equal(2, bulk.Json.GetProperty("total").GetInt32());
            Assert.Equal(1, bulk.Json.GetProperty("deleted").GetInt32());
            Assert.Equal(1, bulk.Json.GetProperty("errored").GetInt32());
            Assert.Equal(0, bulk.Json.GetProperty("errors")[0].GetProperty("item").GetInt32());
        });

        var after = await admin.Get($"/Customer/{theirs}");
        Assert.Equal(200, after.Status);
        Assert.NotEqual("Hacked", after.Json.GetProperty("city").ToString());
        Assert.Equal(204, (await admin.Get($"/Customer/{mine}")).Status);
    }

    [Fact]
    public async Task Own_records_check_created_items_single_and_bulk()
    {
        using var user = Server.User();
        await WithRole(Custom("Customer", "NONE", own: "WRITE", identity: "userId"), async () =>
        {
            var foreign = await user.Post("/Customer/", new { companyName = "Theirs", userId = 1 });
            Assert.Equal(401, foreign.Status);
            Assert.Equal("Identity Mismatch - You can only add Customer records with your own userId (2) but you are trying to add 1", foreign.Text);

            var own = await user.Post("/Customer/", new { companyName = "Mine", userId = 2 });
            Assert.Equal(201, own.Status);

            var bulk = await user.Post("/Customer/", new object[] { new { companyName = "B1", userId = 2 }, new { companyName = "B2", userId = 1 } });
            Assert.Equal(201, bulk.Status);
            Assert.Equal(2, bulk.Json.GetProperty("total").GetInt32());
            Assert.Equal(1, bulk.Json.GetProperty("successful").GetInt32());
            Assert.Equal(1, bulk.Json.GetProperty("errored").GetInt32());
            Assert.Equal(1, bulk.Json.GetProperty("errors")[0].GetProperty("item").GetInt32());
            Assert.StartsWith("Identity Mismatch", bulk.Json.GetProperty("errors")[0].GetProperty("message").GetString());
            Assert.Equal(1, bulk.Json.GetProperty("data").GetArrayLength());

            var id = own.Json.GetProperty("custId").GetInt64();
            var bulkUpdate = await user.Put("/Customer/", new object[] { new { custId = id, city = "Mine" }, new { custId = 1, city = "Theirs" } });
            Assert.Equal(200, bulkUpdate.Status);
            Assert.Equal(1, bulkUpdate.Json.GetProperty("successful").GetInt32());
            Assert.Equal(1, bulkUpdate.Json.GetProperty("errored").GetInt32());

            // WRITE does not include DELETE, even on one's own row.
            Assert.Equal(401, (await user.Delete($"/Customer/{id}")).Status);
        });
    }

    [Fact]
    public async Task Own_records_default_to_the_primary_key_on_the_user_table()
    {
        // Seeded: USER has custom User rule NONE/own WRITE (identity = PK).
        using var user = Server.User();
        Assert.Equal(200, (await user.Get("/User/2")).Status);
        Assert.Equal(204, (await user.Get("/User/1")).Status);
        var list = await user.Get("/User/");
        Assert.Equal(1, list.Json.GetProperty("total").GetInt32());
        Assert.Equal(200, (await user.Put("/User/2", new { firstName = "Sam" })).Status);
        Assert.Equal(401, (await user.Put("/User/1", new { firstName = "Mallory" })).Status);

        // Editing one's own row does not extend to one's own role.
        var promote = await user.Put("/User/2", new { role = "ADMIN" });
        Assert.Equal(401, promote.Status);
        Assert.Equal("Permission Denied - role can only be changed with WRITE access to all User records", promote.Text);
        var bulk = await user.Put("/User/", new object[] { new { id = 2, role = "ADMIN", firstName = "Sam" } });
        Assert.Equal(1, bulk.Json.GetProperty("errored").GetInt32());
        using var admin = Server.Admin();
        Assert.Equal("USER", (await admin.Get("/User/2")).Json.GetProperty("role").GetString());
    }

    [Fact]
    public async Task Role_allowed_fields_intersect_with_requested_fields_and_reach_relations()
    {
        using var user = Server.User();
        await WithRole(Custom("Customer", "READ", fields: "companyName,contactName"), async () =>
        {
            Assert.Equal(["companyName", "contactName"], Keys((await user.Get("/Customer/11")).Json));
            Assert.Equal(["companyName"], Keys((await user.Get("/Customer/11?fields=companyName,city,custId")).Json));
            var list = await user.Get("/Customer/?fields=contactName,phone");
            Assert.All(list.Json.GetProperty("data").EnumerateArray(), c => Assert.Equal(["contactName"], Keys(c)));

            // With a public rule as well, the role list wins.
            await WithPublic(new { table = "Customer", access_level = "READ", allowed_fields = "city" }, async () =>
                Assert.Equal(["companyName", "contactName"], Keys((await user.Get("/Customer/11")).Json)));
        });

        await WithRole(Custom("Customer", "READ", fields: "companyName,contactName,userId,User.email"), async () =>
        {
            var r = await user.Get("/Customer/11?relations=User");
            Assert.Equal(200, r.Status);
            Assert.Equal(["email"], Keys(r.Json.GetProperty("User")[0]));
            Assert.Equal(["User", "companyName", "contactName", "userId"], Keys(r.Json));
        });

        // Without a list, related rows come whole; a related table without READ gives [].
        var whole = await user.Get("/Customer/11?relations=SalesOrder");
        Assert.True(whole.Json.GetProperty("SalesOrder").GetArrayLength() > 0);
        await WithRole(Custom("SalesOrder", "NONE"), async () =>
        {
            var r = await user.Get("/Customer/11?relations=SalesOrder");
            Assert.Equal(200, r.Status);
            Assert.Equal(0, r.Json.GetProperty("SalesOrder").GetArrayLength());
        });

        // Per-table lists apply to the parent and to the relation.
        await WithRole(Custom("SalesOrder", "READ", fields: "orderId,freight"), async () =>
        {
            var r = await user.Get("/Customer/11?relations=SalesOrder");
            Assert.All(r.Json.GetProperty("SalesOrder").EnumerateArray(), o => Assert.Equal(["freight", "orderId"], Keys(o)));
        });

        // Allowed fields also shape what writes answer.
        await WithRole(Custom("Customer", "WRITE", fields: "companyName"), async () =>
        {
            var created = await user.Post("/Customer/", new { companyName = "Shaped", userId = 2 });
            Assert.Equal(["companyName"], Keys(created.Json));
            var bulk = await user.Post("/Customer/", new object[] { new { companyName = "Shaped 2", userId = 2 } });
            Assert.Equal(["companyName"], Keys(bulk.Json.GetProperty("data")[0]));
        });
    }

    [Fact]
    public async Task A_role_change_through_the_api_takes_effect_on_the_next_request()
    {
        using var user = Server.User();
        using var admin = Server.Admin();
        Assert.Equal(401, (await user.Post("/Customer/", new { companyName = "Before", userId = 1 })).Status);
        Assert.Equal(200, (await admin.Put("/User/2", new { role = "ADMIN" })).Status);
        try
        {
            Assert.Equal(201, (await user.Post("/Customer/", new { companyName = "After", userId = 1 })).Status);
        }
        finally
        {
            Assert.Equal(200, (await admin.Put("/User/2", new { role = "USER" })).Status);
        }

        Assert.Equal(401, (await user.Post("/Customer/", new { companyName = "Again", userId = 1 })).Status);

        // A default rule edited in place is seen at once too.
        var rules = (await admin.Get("/_llana_role/?role=USER&custom=false")).Json.GetProperty("data");
        var rule = rules.EnumerateArray().First(r => !r.GetProperty("custom").GetBoolean());
        var ruleId = rule.GetProperty("id").GetInt64();
        Assert.Equal(200, (await admin.Put($"/_llana_role/{ruleId}", new { records = "NONE" })).Status);
        try
        {
            Assert.Equal(401, (await user.Get("/SalesOrder/")).Status);
        }
        finally
        {
            Assert.Equal(200, (await admin.Put($"/_llana_role/{ruleId}", new { records = "READ" })).Status);
        }

        Assert.Equal(200, (await user.Get("/SalesOrder/")).Status);
    }

    [Fact]
    public async Task Only_the_first_custom_rule_counts_and_denial_does_not_fall_back_to_defaults()
    {
        using var user = Server.User();
        await WithRole(Custom("Shipper", "NONE"), () => WithRole(Custom("Shipper", "READ"), async () =>
        {
            var r = await user.Get("/Shipper/");
            Assert.Equal(401, r.Status);
            Assert.Equal("Table Action READ - Permission Denied For Role USER", r.Text);
        }));
        Assert.Equal(200, (await user.Get("/Shipper/")).Status);
    }

    [Fact]
    public async Task Schema_needs_read_unless_public()
    {
        using var user = Server.User();
        await WithRole(Custom("Shipper", "NONE"), async () =>
        {
            Assert.Equal(401, (await user.Get("/Shipper/schema")).Status);
            await WithPublic(new { table = "Shipper", access_level = "READ", allowed_fields = "companyName" }, async () =>
            {
                var schema = await user.Get("/Shipper/schema");
                Assert.Equal(200, schema.Status);
                var fields = schema.Json.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("field").GetString()).ToList();
                Assert.Equal(["shipperId", "companyName"], fields);
            });
        });
    }

    [Fact]
    public async Task Edits_made_outside_the_api_are_seen_after_the_identity_ttl_without_blocking_a_warm_caller()
    {
        using var admin = Server.Admin();
        var created = await admin.Post("/User/", new { email = Unique("ttl") + "@test.com", password = "x", role = "USER" });
        var userId = created.Json.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var options = Llana.Core.Options.LlanaOptions.From(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["CACHE_IDENTITY_DATA_TTL"] = "60s" }).Build());
        await using var database = new Llana.Data.Database(Llana.Data.DatabaseUri.Parse(fixture.Database.Uri));
        var catalog = new Llana.Core.Tables.SchemaCatalog(database, options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<Llana.Core.Tables.SchemaCatalog>.Instance);
        await catalog.LoadAsync(CancellationToken.None);
        var clock = new ManualClock();
        using var evaluator = new Llana.Core.Auth.PermissionEvaluator(database, catalog, new Llana.Core.Changes.ChangeLog(), options, clock,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<Llana.Core.Auth.PermissionEvaluator>.Instance);

        Assert.Equal("USER", await evaluator.RoleAsync(userId, CancellationToken.None));
        var q = fixture.Kind == Llana.Data.DatabaseKind.MySql ? "`" : "\"";
        await fixture.Database.ExecuteAsync($"UPDATE {q}User{q} SET {q}role{q} = 'ADMIN' WHERE {q}id{q} = {userId}");

        // Within the TTL the cached role answers; after it, the stale role answers once while a refresh runs.
        clock.Now += TimeSpan.FromSeconds(30);
        Assert.Equal("USER", await evaluator.RoleAsync(userId, CancellationToken.None));
        clock.Now += TimeSpan.FromSeconds(31);
        Assert.Equal("USER", await evaluator.RoleAsync(userId, CancellationToken.None));
        for (var i = 0; i < 100 && await evaluator.RoleAsync(userId, CancellationToken.None) != "ADMIN"; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal("ADMIN", await evaluator.RoleAsync(userId, CancellationToken.None));
    }

    [Fact]
    public async Task The_evaluator_decides_for_realtime_without_a_database_read()
    {
        var evaluator = Server.Get<Llana.Core.Auth.PermissionEvaluator>();
        var catalog = Server.Get<Llana.Core.Tables.SchemaCatalog>();
        var customers = catalog.Find("Customer")!;
        var caller = await Server.Get<Llana.Core.Auth.Authenticator>().AuthenticateAsync(Server.Token(2), null, CancellationToken.None);
        Assert.Equal("2", caller.UserId);
        await WithRole(Custom("Customer", "NONE", own: "READ", identity: "userId"), async () =>
        {
            var decision = await evaluator.DecideAsync(caller, customers, Llana.Core.Auth.AccessLevel.Read, null, CancellationToken.None);
            Assert.True(decision.Allowed);
            var owner = Assert.IsType<Llana.Core.Auth.OwnerRestriction>(decision.Owner);
            Assert.True(owner.Matches(c => c == "userId" ? 2L : null));
            Assert.False(owner.Matches(c => c == "userId" ? 1L : null));
        });
    }
}

/// A clock the test moves by hand.
internal sealed class ManualClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;

    public override DateTimeOffset GetUtcNow() => Now;
}

public sealed class SqliteRoleSpec(SqliteAuthDemo fixture) : RoleSpec(fixture), IClassFixture<SqliteAuthDemo>;

public sealed class PostgresRoleSpec(PostgresAuthDemo fixture) : RoleSpec(fixture), IClassFixture<PostgresAuthDemo>;

public sealed class MySqlRoleSpec(MySqlAuthDemo fixture) : RoleSpec(fixture), IClassFixture<MySqlAuthDemo>;
