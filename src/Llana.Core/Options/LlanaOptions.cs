using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Llana.Core.Options;

/// Llana's environment variables (their names are the public contract), read once at start and validated.
public sealed partial class LlanaOptions
{
    public const string DefaultDemoDatabase = "sqlite://llana-demo.db";

    public int Port { get; init; } = 3000;

    /// Null when DATABASE_URI is not set: the embedded SQLite demo is used.
    public string? DatabaseUri { get; init; }

    public string NodeEnv { get; init; } = "development";

    /// `LLANA_SEED_DEMO=true`: create the demo tables and rows in DATABASE_URI when its `User` table is missing
    /// (always done for the embedded SQLite demo). Used by benchmarks and to try Llana on an empty database.
    public bool SeedDemo { get; init; }

    public int DefaultLimit { get; init; } = 20;

    public int MaxLimit { get; init; } = 10_000;

    public string? SoftDeleteColumn { get; init; }

    /// <paramref name="table"/>'s soft-delete column, when it has the one `SOFT_DELETE_COLUMN` names.
    public Llana.Data.Schema.ColumnSchema? SoftDeleteColumnOf(Llana.Data.Schema.TableSchema table) =>
        SoftDeleteColumn is { } name ? table.Column(name) : null;

    /// <paramref name="filters"/> plus, when <paramref name="table"/> has the soft-delete column, "not deleted".
    public List<Llana.Data.Sql.Filter> ExcludingDeleted(Llana.Data.Schema.TableSchema table, List<Llana.Data.Sql.Filter> filters)
    {
        if (SoftDeleteColumnOf(table) is { } soft)
        {
            filters.Add(new Llana.Data.Sql.Filter(soft, Llana.Data.Sql.FilterOperator.Null, null));
        }

        return filters;
    }

    public bool SkipAuth { get; init; }

    public AuthOptions Auth { get; init; } = new();

    /// `DISABLE_WEBHOOKS=true`: no webhook tables.
    public bool DisableWebhooks { get; init; }

    public TimeSpan SchemaCacheTtl { get; init; } = TimeSpan.FromHours(1);

    public string? Hosts { get; init; }

    public string? BaseUrlApp { get; init; }

    /// `CORS_ORIGINS` (ours): origins allowed cross-origin requests with credentials, besides `BASE_URL_APP`.
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];

    /// `TRUSTED_PROXIES` (ours): peers whose `X-Forwarded-For`/`X-Real-IP` are believed. Default loopback only;
    /// `none` trusts no peer (the connection's address is the client).
    public IReadOnlyList<IPNetwork> TrustedProxies { get; init; } = LoopbackProxies;

    private static readonly IPNetwork[] LoopbackProxies = [new(IPAddress.Loopback, 8), new(IPAddress.IPv6Loopback, 128)];

    /// `REALTIME_SOURCE` (ours): `api` (Llana's behaviour: changes made through this API) or `database` (every
    /// committed change, from the database's own change stream: PostgreSQL logical replication).
    public RealtimeSource RealtimeSource { get; init; } = RealtimeSource.Api;

    /// `REALTIME_SLOT`: the PostgreSQL replication slot of the `database` source.
    public string RealtimeSlot { get; init; } = "llana";

    /// `REALTIME_PUBLICATION`: the PostgreSQL publication of the `database` source.
    public string RealtimePublication { get; init; } = "llana";

    public bool IsProduction => NodeEnv is "production" or "sandbox";

    /// Reads and validates; throws <see cref="OptionsException"/> naming the variable on a bad value.
    public static LlanaOptions From(IConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        string? Get(string name) => Setting(config, name);

        var nodeEnv = Get("NODE_ENV") ?? "development";
        if (nodeEnv is not ("development" or "production" or "test" or "sandbox"))
        {
            throw new OptionsException("NODE_ENV", nodeEnv, "must be one of development, production, test, sandbox");
        }

        var soft = Get("SOFT_DELETE_COLUMN");
        var skipAuth = Flag(config, "SKIP_AUTH");
        var auth = AuthOptions.From(config);

        // Llana's default keys are published: in production anyone could sign an admin token with them.
        if (nodeEnv is "production" or "sandbox" && !skipAuth)
        {
            var defaults = new AuthOptions();
            if (auth.JwtKey == defaults.JwtKey)
            {
                throw new OptionsException("JWT_KEY", null, $"must be set in {nodeEnv}: the default is published (use a long random secret)");
            }

            if (auth.JwtRefreshKey == defaults.JwtRefreshKey)
            {
                throw new OptionsException("JWT_REFRESH_KEY", null, $"must be set in {nodeEnv}: the default is published (use a long random secret)");
            }
        }

        return new LlanaOptions
        {
            Port = Integer(Get("PORT"), "PORT", 3000, 0, 65535),
            DatabaseUri = Get("DATABASE_URI"),
            SeedDemo = Flag(config, "LLANA_SEED_DEMO"),
            NodeEnv = nodeEnv,
            DefaultLimit = Integer(Get("DEFAULT_LIMIT"), "DEFAULT_LIMIT", 20, 1, 10_000),
            SoftDeleteColumn = soft,
            SkipAuth = skipAuth,
            Auth = auth,
            DisableWebhooks = Flag(config, "DISABLE_WEBHOOKS"),
            SchemaCacheTtl = Duration(Get("CACHE_TABLE_SCHEMA_TTL"), "CACHE_TABLE_SCHEMA_TTL", TimeSpan.FromHours(1)),
            Hosts = Get("HOSTS"),
            BaseUrlApp = Get("BASE_URL_APP"),
            CorsOrigins = List(Get("CORS_ORIGINS")),
            TrustedProxies = Get("TRUSTED_PROXIES") is { } proxies ? Networks(proxies, "TRUSTED_PROXIES") : LoopbackProxies,
            RealtimeSource = Get("REALTIME_SOURCE") switch
            {
                null or "api" => RealtimeSource.Api,
                "database" => RealtimeSource.Database,
                var other => throw new OptionsException("REALTIME_SOURCE", other, "must be api or database"),
            },
            RealtimeSlot = PostgresName(Get("REALTIME_SLOT") ?? "llana", "REALTIME_SLOT"),
            RealtimePublication = PostgresName(Get("REALTIME_PUBLICATION") ?? "llana", "REALTIME_PUBLICATION"),
        };
    }

    // Replication slot names allow only these; the publication is held to the same rule.
    private static string PostgresName(string value, string name) =>
        PostgresNamePattern().IsMatch(value) ? value : throw new OptionsException(name, value, "must be 1 to 63 lower-case letters, digits or underscores");

    [GeneratedRegex("^[a-z0-9_]{1,63}$")]
    private static partial Regex PostgresNamePattern();

    /// A variable's value, trimmed; null when it is unset or blank. Every setting is read through this.
    public static string? Setting(IConfiguration config, string name) =>
        config[name] is { } v && v.Trim().Length > 0 ? v.Trim() : null;

    /// A yes/no variable: true only when it says `true`, as Llana reads them (`TRUE` or `1` is not true).
    public static bool Flag(IConfiguration config, string name) => Setting(config, name) == "true";

    public static int Integer(string? value, string name, int fallback, int min, int max)
    {
        if (value is null)
        {
            return fallback;
        }

        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
        {
            throw new OptionsException(name, value, "must be a number");
        }

        return n < min || n > max ? throw new OptionsException(name, value, $"must be between {min} and {max}") : n;
    }

    private static string[] List(string? value) =>
        value?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// Addresses (`10.0.0.7`, `::1`) and CIDR ranges (`10.0.0.0/8`), or `none`.
    private static IPNetwork[] Networks(string value, string name)
    {
        if (value.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return [];
        }

        return [.. List(value).Select(item =>
            IPAddress.TryParse(item, out var address) ? new IPNetwork(address, address.GetAddressBytes().Length * 8)
            : IPNetwork.TryParse(item, out var network) ? network
            : throw new OptionsException(name, item, "must be a comma list of addresses and CIDR ranges (such as 10.0.0.0/8), or none"))];
    }

    /// Durations as Llana accepts them: milliseconds (`3600000`) or a number with a unit ms, s, m, h or d (`15m`, `1h`, `14d`, `30s`).
    public static TimeSpan Duration(string? value, string name, TimeSpan fallback)
    {
        if (value is null)
        {
            return fallback;
        }

        var m = DurationPattern().Match(value);
        if (!m.Success || !long.TryParse(m.Groups[1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
        {
            throw new OptionsException(name, value, "must be a duration such as 3600000 (milliseconds), 30s, 15m, 1h or 14d");
        }

        return m.Groups[2].Value switch
        {
            "" or "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromDays(n),
        };
    }

    [GeneratedRegex("^([0-9]{1,12})(ms|s|m|h|d)?$")]
    private static partial Regex DurationPattern();
}

/// Where realtime events come from (`REALTIME_SOURCE`).
public enum RealtimeSource
{
    Api,
    Database,
}

/// A bad configuration value: the message names the variable so a start-up failure is one clear line.
public sealed class OptionsException(string variable, string? value, string problem)
    : Exception(value is null ? $"{variable} {problem}" : $"{variable} {problem} (got \"{value}\")")
{
    public string Variable { get; } = variable;
}
