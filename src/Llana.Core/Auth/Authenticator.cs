using System.Collections.Concurrent;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Data;
using Llana.Data.Schema;
using Llana.Data.Sql;
using Microsoft.Extensions.Logging;

namespace Llana.Core.Auth;

/// Turns credentials into a <see cref="Caller"/> (spec §6.1): `SKIP_AUTH`, then the API key, then the JWT access
/// token. Transport-free: HTTP passes the header/cookie/query values, realtime passes the handshake's.
public sealed partial class Authenticator : IDisposable
{
    public const string ApiKeyFailed = "Unauthorized";
    private const int MaxCachedKeys = 10_000;

    private readonly Database _database;
    private readonly SchemaCatalog _catalog;
    private readonly LlanaOptions _options;
    private readonly JwtTokens _tokens;
    private readonly TimeProvider _time;
    private readonly ILogger<Authenticator> _logger;
    private readonly IDisposable _subscription;

    // Keyed by a SHA-256 of the key: plaintext keys are not kept in memory longer than a request.
    private readonly ConcurrentDictionary<string, (string? UserId, DateTimeOffset At)> _apiKeys = new(StringComparer.Ordinal);

    public Authenticator(Database database, SchemaCatalog catalog, LlanaOptions options, JwtTokens tokens, IChangeFeed feed, TimeProvider time, ILogger<Authenticator> logger)
    {
        _database = database;
        _catalog = catalog;
        _options = options;
        _tokens = tokens;
        _time = time;
        _logger = logger;
        _subscription = feed.Subscribe(OnChange);
    }

    /// <param name="accessToken">The JWT from `Authorization: Bearer`, the `accessToken` cookie or a socket's `auth.token`.</param>
    /// <param name="apiKey">The API key from its configured location, when present.</param>
    public async ValueTask<Caller> AuthenticateAsync(string? accessToken, string? apiKey, CancellationToken ct)
    {
        if (_options.SkipAuth)
        {
            return Caller.SkipAuth;
        }

        string? apiFailure = null;
        if (!string.IsNullOrEmpty(apiKey))
        {
            if (await UserForApiKeyAsync(apiKey, ct) is { } userId)
            {
                return Caller.User(userId);
            }

            apiFailure = ApiKeyFailed;
        }

        if (string.IsNullOrEmpty(accessToken))
        {
            return Caller.Unauthenticated(apiFailure ?? Caller.MissingToken);
        }

        var (claims, error) = _tokens.Verify(accessToken, TokenKind.Access);
        return claims is null ? Caller.Unauthenticated(error!) : Caller.User(claims.Subject) with { ExpiresAt = claims.ExpiresAt };
    }

    /// The user id owning <paramref name="apiKey"/> through `AUTH_USER_API_KEY_FIELD` (`UserApiKey.apiKey`), or null.
    private async ValueTask<string?> UserForApiKeyAsync(string apiKey, CancellationToken ct)
    {
        if (apiKey.Length > 1024)
        {
            return null;
        }

        var cacheKey = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));
        var now = _time.GetUtcNow();
        if (_apiKeys.TryGetValue(cacheKey, out var cached) && now - cached.At < _options.Auth.IdentityCacheTtl)
        {
            return cached.UserId;
        }

        string? userId;
        try
        {
            userId = await LookUpAsync(apiKey, ct);
        }
        catch (DbException)
        {
            // Text the database cannot compare is no key; not cached, as the failure may be passing.
            return null;
        }

        if (_apiKeys.Count >= MaxCachedKeys)
        {
            _apiKeys.Clear();
        }

        _apiKeys[cacheKey] = (userId, now);
        return userId;
    }

    private async Task<string?> LookUpAsync(string apiKey, CancellationToken ct)
    {
        var auth = _options.Auth;
        var dot = auth.ApiKeyField.IndexOf('.', StringComparison.Ordinal);
        var relationName = dot > 0 ? auth.ApiKeyField[..dot] : null;
        var keyColumnName = auth.ApiKeyField[(dot + 1)..];
        if (await _catalog.FindAsync(auth.UserTable, ct) is not { } users
            || (auth.UserIdentityColumn ?? users.PrimaryKey) is not { } idName
            || users.Column(idName) is not { } idColumn)
        {
            LogConfiguration(_logger, "AUTH_USER_TABLE_NAME");
            return null;
        }

        if (relationName is null)
        {
            // A column of the identity table itself.
            return users.Column(keyColumnName) is { } own
                ? await MatchAsync(users, own, idColumn, apiKey, ct)
                : Misconfigured();
        }

        var relation = users.Relations.FirstOrDefault(r => r.Table == relationName);
        if (relation is null
            || _catalog.Find(relationName) is not { } keys
            || keys.Column(keyColumnName) is not { } keyColumn
            || keys.Column(relation.Column) is not { } keyUserColumn
            || users.Column(relation.OrgColumn) is not { } userJoinColumn)
        {
            return Misconfigured();
        }

        var owner = await MatchAsync(keys, keyColumn, keyUserColumn, apiKey, ct);
        if (owner is null)
        {
            return null;
        }

        // Through the identity table: a soft-deleted user's keys stop working too.
        var filters = new List<Filter> { new(userJoinColumn, FilterOperator.Equals, ValueParser.FromText(userJoinColumn, owner)) };
        _options.ExcludingDeleted(users, filters);
        var rows = await _database.SelectAsync(users, [idColumn], filters, [], ct);
        return rows.Count == 1 ? RowChange.Format(rows[0][0]) : null;
    }

    /// Looks the key up by equality, then confirms each candidate with a constant-time comparison (case-insensitive
    /// collations, as MariaDB's default, would otherwise accept a key in the wrong case).
    private async Task<string?> MatchAsync(TableSchema table, ColumnSchema keyColumn, ColumnSchema resultColumn, string apiKey, CancellationToken ct)
    {
        var filters = new List<Filter> { new(keyColumn, FilterOperator.Equals, apiKey) };
        _options.ExcludingDeleted(table, filters);
        var given = Encoding.UTF8.GetBytes(apiKey);
        string? match = null;
        foreach (var row in await _database.SelectAsync(table, [keyColumn, resultColumn], filters, [], ct))
        {
            if (row[0] is string stored && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(stored), given) && row[1] is not null)
            {
                match = RowChange.Format(row[1]);
            }
        }

        return match;
    }

    private string? Misconfigured()
    {
        LogConfiguration(_logger, "AUTH_USER_API_KEY_FIELD");
        return null;
    }

    private void OnChange(RowChange change)
    {
        var auth = _options.Auth;
        if (!_apiKeys.IsEmpty && (change.TableName == auth.UserTable || auth.ApiKeyField.StartsWith(change.TableName + ".", StringComparison.Ordinal)))
        {
            _apiKeys.Clear();
        }
    }

    public void Dispose() => _subscription.Dispose();

    [LoggerMessage(Level = LogLevel.Error, Message = "API key authentication is misconfigured: check {Variable}")]
    private static partial void LogConfiguration(ILogger logger, string variable);
}
