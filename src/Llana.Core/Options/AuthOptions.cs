using Microsoft.Extensions.Configuration;

namespace Llana.Core.Options;

public enum PasswordEncryption
{
    Bcrypt,
    Argon2,
    Sha1,
    Sha256,
    Sha512,
    Md5,
}

public enum ApiKeyLocation
{
    Header,
    Query,
    Body,
}

/// Authentication and role settings (spec §2.1), under Llana's variable names and defaults.
public sealed class AuthOptions
{
    public string JwtKey { get; init; } = "S$3cr3tK3y";

    public TimeSpan JwtExpiresIn { get; init; } = TimeSpan.FromMinutes(15);

    public string JwtRefreshKey { get; init; } = "S$3cr3tK3yRefresh";

    public TimeSpan JwtRefreshExpiresIn { get; init; } = TimeSpan.FromDays(14);

    public string UserTable { get; init; } = "User";

    /// Null: the identity table's primary key.
    public string? UserIdentityColumn { get; init; }

    public string UsernameField { get; init; } = "email";

    public string PasswordField { get; init; } = "password";

    public PasswordEncryption PasswordEncryption { get; init; } = PasswordEncryption.Bcrypt;

    /// bcrypt cost for BCRYPT; the HMAC key for SHA*/MD5 (spec §6.7).
    public string PasswordSalt { get; init; } = "10";

    public ApiKeyLocation ApiKeyLocation { get; init; } = ApiKeyLocation.Header;

    public string ApiKeyName { get; init; } = "x-api-key";

    /// `Relation.column` relative to the identity table (`UserApiKey.apiKey`).
    public string ApiKeyField { get; init; } = "UserApiKey.apiKey";

    public string ApiKeyTable { get; init; } = "UserApiKey";

    public string? ApiKeyTableIdentityColumn { get; init; }

    public string? CookiesDomain { get; init; }

    public string? BaseUrlApi { get; init; }

    public string RoleTable { get; init; } = "User";

    public string RoleField { get; init; } = "role";

    /// Null: the role table's primary key.
    public string? RoleIdentityColumn { get; init; }

    /// How long rules and user roles are trusted without a change seen through the API (edits made directly in the
    /// database are picked up after this). `CACHE_IDENTITY_DATA_TTL`, documented default 60000 ms.
    public TimeSpan IdentityCacheTtl { get; init; } = TimeSpan.FromMinutes(1);

    /// Login attempts per minute per client address; 0 disables the limit. `AUTH_LOGIN_RATE_LIMIT` (ours).
    public int LoginRateLimit { get; init; } = 10;

    public static AuthOptions From(IConfiguration config)
    {
        string? Get(string name) => LlanaOptions.Setting(config, name);

        var jwtKey = Get("JWT_KEY") ?? "S$3cr3tK3y";
        var refreshKey = Get("JWT_REFRESH_KEY") ?? "S$3cr3tK3yRefresh";
        if (jwtKey.Length < 8)
        {
            throw new OptionsException("JWT_KEY", null, "must be at least 8 characters long");
        }

        if (refreshKey.Length < 8)
        {
            throw new OptionsException("JWT_REFRESH_KEY", null, "must be at least 8 characters long");
        }

        // With one key for both, a refresh token would pass as an access token (and live for weeks).
        if (refreshKey == jwtKey)
        {
            throw new OptionsException("JWT_REFRESH_KEY", null, "must differ from JWT_KEY");
        }

        var userTable = Get("AUTH_USER_TABLE_NAME") ?? "User";
        return new AuthOptions
        {
            JwtKey = jwtKey,
            JwtRefreshKey = refreshKey,
            JwtExpiresIn = Positive(LlanaOptions.Duration(Get("JWT_EXPIRES_IN"), "JWT_EXPIRES_IN", TimeSpan.FromMinutes(15)), "JWT_EXPIRES_IN"),
            JwtRefreshExpiresIn = Positive(LlanaOptions.Duration(Get("JWT_REFRESH_EXPIRES_IN"), "JWT_REFRESH_EXPIRES_IN", TimeSpan.FromDays(14)), "JWT_REFRESH_EXPIRES_IN"),
            UserTable = userTable,
            UserIdentityColumn = Get("AUTH_USER_IDENTITY_COLUMN"),
            UsernameField = Get("AUTH_USER_TABLE_USERNAME_FIELD") ?? "email",
            PasswordField = Get("AUTH_USER_TABLE_PASSWORD_FIELD") ?? "password",
            PasswordEncryption = Get("AUTH_USER_TABLE_PASSWORD_ENCRYPTION")?.ToUpperInvariant() switch
            {
                null or "BCRYPT" => PasswordEncryption.Bcrypt,
                "ARGON2" => PasswordEncryption.Argon2,
                "SHA1" => PasswordEncryption.Sha1,
                "SHA256" => PasswordEncryption.Sha256,
                "SHA512" => PasswordEncryption.Sha512,
                "MD5" => PasswordEncryption.Md5,
                var other => throw new OptionsException("AUTH_USER_TABLE_PASSWORD_ENCRYPTION", other, "must be one of BCRYPT, ARGON2, SHA1, SHA256, SHA512, MD5"),
            },
            PasswordSalt = Get("AUTH_USER_TABLE_PASSWORD_SALT") ?? "10",
            ApiKeyLocation = Get("AUTH_USER_API_KEY_LOCATION")?.ToUpperInvariant() switch
            {
                null or "HEADER" => ApiKeyLocation.Header,
                "QUERY" => ApiKeyLocation.Query,
                "BODY" => ApiKeyLocation.Body,
                var other => throw new OptionsException("AUTH_USER_API_KEY_LOCATION", other, "must be one of HEADER, QUERY, BODY"),
            },
            ApiKeyName = Get("AUTH_USER_API_KEY_NAME") ?? "x-api-key",
            ApiKeyField = Get("AUTH_USER_API_KEY_FIELD") ?? "UserApiKey.apiKey",
            ApiKeyTable = Get("AUTH_USER_API_KEY_TABLE_NAME") ?? "UserApiKey",
            ApiKeyTableIdentityColumn = Get("AUTH_USER_API_KEY_TABLE_IDENTITY_COLUMN"),
            CookiesDomain = Get("AUTH_COOKIES_DOMAIN"),
            BaseUrlApi = Get("BASE_URL_API"),
            RoleTable = Get("ROLE_LOCATION_USER_TABLE_NAME") ?? userTable,
            RoleField = Get("ROLE_LOCATION_USER_TABLE_ROLE_FIELD") ?? "role",
            RoleIdentityColumn = Get("ROLE_LOCATION_USER_TABLE_IDENTITY_COLUMN"),
            IdentityCacheTtl = LlanaOptions.Duration(Get("CACHE_IDENTITY_DATA_TTL"), "CACHE_IDENTITY_DATA_TTL", TimeSpan.FromMinutes(1)),
            LoginRateLimit = LlanaOptions.Integer(Get("AUTH_LOGIN_RATE_LIMIT"), "AUTH_LOGIN_RATE_LIMIT", 10, 0, 1_000_000),
        };
    }

    private static TimeSpan Positive(TimeSpan value, string name) =>
        value > TimeSpan.Zero ? value : throw new OptionsException(name, null, "must be longer than zero");
}
