using System.Security.Cryptography;
using System.Text;
using Llana.Core.Auth;

namespace Llana.Server.Tests.Infrastructure;

/// Tokens and users for the auth suites: the demo's ADMIN (id 1) and USER (id 2), tokens minted with the server's
/// own keys (as Llana's tests sign `{sub}` with JWT_KEY), and hand-made tokens for attacks.
public static class AuthHelpers
{
    public const string AdminEmail = "test@test.com";
    public const string UserEmail = "user@test.com";
    public const string DemoPassword = "test";
    public const string AdminApiKey = "Ex@mp1eS$Cu7eAp!K3y";
    public const string UserApiKey = "Us3r-Ap1-K3y-2b7e-Demo";
    public const string DefaultJwtKey = "S$3cr3tK3y";

    public static string Token(this LlanaServer server, long userId, string? email = null) =>
        server.Get<JwtTokens>().Issue(userId, email, TokenKind.Access);

    public static HttpClient Admin(this LlanaServer server) => server.Client(server.Token(1, AdminEmail));

    public static HttpClient User(this LlanaServer server) => server.Client(server.Token(2, UserEmail));

    /// The demo's USER may do `ownRecords` (READ, WRITE, DELETE) on the customers whose `userId` is theirs only: a custom
    /// rule, written through the API by the admin (so it applies at once).
    public static async Task OwnCustomersOnlyAsync(this LlanaServer server, string ownRecords)
    {
        using var admin = server.Admin();
        var created = await admin.Post("/_llana_role/", new
        {
            custom = true,
            table = "Customer",
            identity_column = "userId",
            role = "USER",
            records = "NONE",
            own_records = ownRecords,
        });
        Assert.Equal(201, created.Status);
    }

    /// A connected socket.io client of the demo's USER (id 2) on <paramref name="table"/>.
    public static async Task<NodeSubscriber> UserSocketAsync(this LlanaServer server, string table)
    {
        var socket = NodeSubscriber.Start(server.Address, new { auth = new Dictionary<string, string> { ["x-llana-table"] = table, ["token"] = server.Token(2, UserEmail) } });
        await socket.ConnectedAsync();
        return socket;
    }

    public static string Base64Url(string json) => Base64Url(Encoding.UTF8.GetBytes(json));

    public static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// A token with any header and payload, signed with HMAC-SHA256 under <paramref name="key"/> (or unsigned).
    public static string Craft(string headerJson, string payloadJson, string? key)
    {
        var input = Base64Url(headerJson) + "." + Base64Url(payloadJson);
        var signature = key is null ? "" : Base64Url(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(input)));
        return input + "." + signature;
    }

    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// `NODE_ENV=production` with keys of its own (production refuses Llana's published ones), plus <paramref name="extra"/>.
    public static Dictionary<string, string?> Production(params (string Name, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["NODE_ENV"] = "production",
            ["JWT_KEY"] = "production-access-key-for-tests",
            ["JWT_REFRESH_KEY"] = "production-refresh-key-for-tests",
        };
        foreach (var (name, value) in extra)
        {
            settings[name] = value;
        }

        return settings;
    }
}
