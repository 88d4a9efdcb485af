using Llana.Core.Auth;
using Llana.Core.Options;
using Llana.Data.Schema;

namespace Llana.Core.Tests;

/// Role rules (spec §7.3, with the recommendations on system tables and API keys), table-driven and without a
/// database: what each role may do on each table, and the original's denial texts.
public sealed class PermissionRulesTests
{
    private static readonly AccessRules Rules = new(
        [new PublicRule("Employee", AccessLevel.Read, new HashSet<string> { "firstName" })],
        [
            new RoleRule(false, null, null, "ADMIN", AccessLevel.Delete, AccessLevel.None, null),
            new RoleRule(false, null, null, "USER", AccessLevel.Read, AccessLevel.None, null),
            new RoleRule(true, "Customer", "userId", "USER", AccessLevel.None, AccessLevel.Write, null),
            new RoleRule(true, "Employee", null, "USER", AccessLevel.Read, AccessLevel.None, new HashSet<string> { "firstName", "lastName" }),
            // A second custom rule for the same table and role is ignored: the first row wins.
            new RoleRule(true, "Customer", "userId", "USER", AccessLevel.Delete, AccessLevel.None, null),
        ]);

    private static readonly Dictionary<string, TableSchema> Tables = new[]
    {
        Table("Customer", "custId", "userId"),
        Table("Employee", "employeeId", "firstName", "lastName"),
        Table("SalesOrder", "orderId"),
        Table("_llana_role", "id"),
        Table("UserApiKey", "id", "userId"),
    }.ToDictionary(t => t.Table);

    private static TableSchema Table(string name, params string[] columns) =>
        new(name, columns.Select(c => new ColumnSchema(c, c.EndsWith("Id", StringComparison.Ordinal) || c == "id" ? ColumnType.Number : ColumnType.String, "x", true, c == columns[0], false, false, false, null)).ToList(), columns[0], []);

    private static AccessDecision Decide(string? role, string table, AccessLevel level, long? rowOwner = null) =>
        PermissionEvaluator.Evaluate(
            Rules, role, "7", Tables[table], level, rowOwner is { } owner ? column => column == "userId" ? owner : null : null, Rules.Public(table, level), new AuthOptions());

    public static TheoryData<string?, string, AccessLevel, string?, string?> Cases => new()
    {
        // role, table, level → owner column restricted to the user (null: none), or the denial.
        { "ADMIN", "Customer", AccessLevel.Delete, null, null },
        { "ADMIN", "_llana_role", AccessLevel.Read, null, null },
        { "USER", "Customer", AccessLevel.Read, "userId", null },
        { "USER", "Customer", AccessLevel.Write, "userId", null },
        { "USER", "Customer", AccessLevel.Delete, null, "Table Action DELETE - Permission Denied For Role USER" },
        { "USER", "Employee", AccessLevel.Read, null, null },
        { "USER", "Employee", AccessLevel.Write, null, "Table Action WRITE - Permission Denied For Role USER" },
        { "USER", "SalesOrder", AccessLevel.Read, null, null },
        { "USER", "SalesOrder", AccessLevel.Write, null, "Table Action WRITE - Permission Denied For Role USER" },
        // A rule for every table does not reach Llana's own tables, and reaches API keys as own records only.
        { "USER", "_llana_role", AccessLevel.Read, null, "Table Action READ - Permission Denied For Role USER" },
        { "USER", "UserApiKey", AccessLevel.Read, "userId", null },
        { "GUEST", "SalesOrder", AccessLevel.Read, null, "Table Action READ - Permission Denied For Role GUEST" },
        { null, "SalesOrder", AccessLevel.Read, null, "Role not found" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_role_may_do_what_its_rules_say(string? role, string table, AccessLevel level, string? ownerColumn, string? denial)
    {
        var decision = Decide(role, table, level);
        Assert.Equal((denial is null, denial, ownerColumn), (decision.Allowed, decision.Denial, decision.Owner?.Column.Field));
        if (decision.Owner is { } owner)
        {
            Assert.Equal("7", owner.UserId);
        }
    }

    [Fact]
    public void A_custom_rule_s_allowed_fields_win_over_the_public_rule_s()
    {
        Assert.Equal(["firstName", "lastName"], Decide("USER", "Employee", AccessLevel.Read).AllowedFields!.Order());
        Assert.Null(Decide("USER", "SalesOrder", AccessLevel.Read).AllowedFields);
    }

    [Fact]
    public void Writing_a_row_for_another_user_is_refused_with_the_originals_text()
    {
        Assert.True(Decide("USER", "Customer", AccessLevel.Write, rowOwner: 7).Allowed);
        Assert.Equal(
            "Identity Mismatch - You can only add Customer records with your own userId (7) but you are trying to add 8",
            Decide("USER", "Customer", AccessLevel.Write, rowOwner: 8).Denial);
    }
}
