using System.Collections.Concurrent;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Data;
using Llana.Data.Schema;
using Llana.Data.Sql;
using Llana.Data.SystemTables;
using Microsoft.Extensions.Logging;

namespace Llana.Core.Auth;

/// Llana's authorization (spec §7): public tables, default and custom role rules, own records, allowed fields.
/// Shared by REST and realtime: rules and user roles live in memory after the first lookup, so a decision is a few
/// dictionary reads (no database access once warm), and an own-records rule comes back as an
/// <see cref="OwnerRestriction"/> that works as a SQL filter and as a check on a row in memory.
/// Committed writes seen on the change feed invalidate: `_llana_public_tables`/`_llana_role` rows reload the
/// rules, a row of the role table drops that user's cached role. Edits made outside the API are seen after
/// `CACHE_IDENTITY_DATA_TTL`.
public sealed partial class PermissionEvaluator : IAccessPolicy, IDisposable
{
    private const int MaxCachedRoles = 100_000;

    private readonly Database _database;
    private readonly SchemaCatalog _catalog;
    private readonly LlanaOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PermissionEvaluator> _logger;
    private readonly IDisposable _subscription;
    private const string RoleNotFound = "Role not found";

    private readonly SemaphoreSlim _loading = new(1, 1);
    private readonly ConcurrentDictionary<string, CachedRole> _roles = new(StringComparer.Ordinal);
    private volatile Snapshot? _rules;
    private readonly ConcurrentDictionary<string, byte> _refreshing = new(StringComparer.Ordinal);
    private long _version;
    private long _roleGeneration;

    public PermissionEvaluator(Database database, SchemaCatalog catalog, IChangeFeed feed, LlanaOptions options, TimeProvider time, ILogger<PermissionEvaluator> logger)
    {
        _database = database;
        _catalog = catalog;
        _options = options;
        _time = time;
        _logger = logger;
        _subscription = feed.Subscribe(OnChange);
    }

    public async ValueTask<AccessDecision> DecideAsync(Caller caller, TableSchema table, AccessLevel level, Func<string, object?>? row, CancellationToken ct)
    {
        if (caller.IsInternal)
        {
            return AccessDecision.AllowAll;
        }

        var rules = await RulesAsync(ct);
        var publicRule = rules.Public(table.Table, level);
        var publicDecision = publicRule is null ? null : new AccessDecision(true, null, null, publicRule.AllowedFields);
        if (caller.UserId is null)
        {
            // Roles apply only to a known user; SKIP_AUTH callers never reach this policy.
            return publicDecision ?? (caller.Authenticated ? AccessDecision.AllowAll : AccessDecision.Deny(caller.Failure));
        }

        var role = caller.Role is { } known ? known.Name : await RoleAsync(caller.UserId, ct);
        var decision = Evaluate(rules, role, caller.UserId, table, level, row, publicRule, _options.Auth);

        // Public wins over a denial, and over an own-records restriction (anyone may see or do that much anyway).
        return decision.Allowed && (decision.Owner is null || publicDecision is null) ? decision : publicDecision ?? decision;
    }

    public async ValueTask<string?> RefusalAsync(Caller caller, CancellationToken ct)
    {
        if (caller.IsInternal || caller.UserId is not { } userId)
        {
            return null;
        }

        var role = caller.Role is { } known ? known.Name : await RoleAsync(userId, ct);
        return role is null ? RoleNotFound : null;
    }

    /// The role rules alone (spec §7.3), for a user whose role is known.
    internal static AccessDecision Evaluate(
        AccessRules rules, string? role, string userId, TableSchema table, AccessLevel level, Func<string, object?>? row, PublicRule? publicRule,
        AuthOptions auth)
    {
        if (role is null)
        {
            return AccessDecision.Deny(RoleNotFound);
        }

        if (rules.Custom(table.Table, role) is { } custom)
        {
            if (custom.Records >= level)
            {
                return new AccessDecision(true, null, null, custom.AllowedFields ?? publicRule?.AllowedFields);
            }

            if (custom.OwnRecords < level)
            {
                return Denied(role, level);
            }

            return OwnRecords(role, userId, table, level, row, custom.IdentityColumn, custom.AllowedFields ?? publicRule?.AllowedFields);
        }

        if (rules.Default(role, level) is not { } rule)
        {
            return Denied(role, level);
        }

        // A rule for all tables is written for the application's tables. Unless it makes the role an admin (it may
        // delete every record), it does not reach Llana's own tables nor other users' API keys: those need a rule
        // that names them.
        if (rules.Default(role, AccessLevel.Delete) is null)
        {
            if (table.Table.StartsWith(SystemTableNames.Prefix, StringComparison.Ordinal))
            {
                return Denied(role, level);
            }

            if (table.Table == auth.ApiKeyTable)
            {
                return OwnRecords(role, userId, table, level, row, auth.ApiKeyTableIdentityColumn ?? "userId", rule.AllowedFields ?? publicRule?.AllowedFields);
            }
        }

        return new AccessDecision(true, null, null, rule.AllowedFields ?? publicRule?.AllowedFields);
    }

    /// Allowed on the caller's own rows only: those whose <paramref name="identityColumn"/> (default: the key) is the user.
    private static AccessDecision OwnRecords(
        string role, string userId, TableSchema table, AccessLevel level, Func<string, object?>? row, string? identityColumn, IReadOnlySet<string>? allowedFields)
    {
        var columnName = identityColumn ?? table.PrimaryKey;
        if (columnName is null || table.Column(columnName) is not { } column)
        {
            // Dotted identity columns and missing columns cannot be enforced: refuse rather than guess.
            return Denied(role, level);
        }

        var owner = new OwnerRestriction(column, userId);
        if (row is not null && !owner.Matches(row))
        {
            return AccessDecision.Deny(
                $"Identity Mismatch - You can only add {table.Table} records with your own {column.Field} ({userId}) but you are trying to add {RowChange.Format(row(column.Field))}");
        }

        return new AccessDecision(true, null, owner, allowedFields);
    }

    private static AccessDecision Denied(string role, AccessLevel level) =>
        AccessDecision.Deny($"Table Action {AccessRules.LevelName(level)} - Permission Denied For Role {role}");

    /// Bumped by every write to the role table through the API: holders of a <see cref="KnownRole"/> re-read it then.
    public long RoleGeneration => Volatile.Read(ref _roleGeneration);

    /// The user's role value (null: the user or the role is missing). Known users are answered from memory; once
    /// `CACHE_IDENTITY_DATA_TTL` has passed, the cached role still answers while one background read refreshes it,
    /// so a warm caller (a socket at delivery time) never waits for the database.
    public async ValueTask<string?> RoleAsync(string userId, CancellationToken ct)
    {
        if (_roles.TryGetValue(userId, out var cached))
        {
            if (_time.GetUtcNow() - cached.LoadedAt >= _options.Auth.IdentityCacheTtl && _refreshing.TryAdd(userId, 0))
            {
                _ = RefreshRoleAsync(userId, cached);
            }

            return cached.Role;
        }

        return await LoadAndCacheRoleAsync(userId, ct);
    }

    private async Task<string?> LoadAndCacheRoleAsync(string userId, CancellationToken ct)
    {
        // A role-table write during the read bumps the generation: then the read may be stale and is not kept.
        var generation = Volatile.Read(ref _roleGeneration);
        var role = await LoadRoleAsync(userId, ct);
        if (generation == Volatile.Read(ref _roleGeneration))
        {
            if (_roles.Count >= MaxCachedRoles)
            {
                _roles.Clear();
            }

            _roles[userId] = new CachedRole(role, _time.GetUtcNow());
        }

        return role;
    }

    private async Task RefreshRoleAsync(string userId, CachedRole stale)
    {
        try
        {
            await LoadAndCacheRoleAsync(userId, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Keep the known role for another TTL rather than retrying on every request.
            LogReloadFailed(_logger, e.GetType().Name);
            _roles.TryUpdate(userId, stale with { LoadedAt = _time.GetUtcNow() }, stale);
        }
        finally
        {
            _refreshing.TryRemove(userId, out _);
        }
    }

    private async Task<string?> LoadRoleAsync(string userId, CancellationToken ct)
    {
        var auth = _options.Auth;
        if (await _catalog.FindAsync(auth.RoleTable, ct) is not { } table
            || table.Column(auth.RoleField) is not { } roleColumn
            || (auth.RoleIdentityColumn ?? table.PrimaryKey) is not { } idName
            || table.Column(idName) is not { } idColumn)
        {
            LogRoleTableMissing(_logger, auth.RoleTable, auth.RoleField);
            return null;
        }

        object? key;
        try
        {
            key = ValueParser.FromText(idColumn, userId);
        }
        catch (TableErrorException)
        {
            return null;
        }

        var filters = _options.ExcludingDeleted(table, [new(idColumn, FilterOperator.Equals, key)]);

        var rows = await _database.SelectAsync(table, [roleColumn], filters, [], ct);
        return rows.Count == 0 ? null : AccessRules.Text(rows[0][0]);
    }

    private async ValueTask<AccessRules> RulesAsync(CancellationToken ct)
    {
        var snapshot = _rules;
        var version = Volatile.Read(ref _version);
        if (snapshot is not null && snapshot.Version == version)
        {
            if (_time.GetUtcNow() - snapshot.LoadedAt > _options.Auth.IdentityCacheTtl)
            {
                // Serve what we have; the next request sees the fresh rules.
                _ = ReloadInBackgroundAsync();
            }

            return snapshot.Rules;
        }

        await _loading.WaitAsync(ct);
        try
        {
            snapshot = _rules;
            version = Volatile.Read(ref _version);
            if (snapshot is not null && snapshot.Version == version)
            {
                return snapshot.Rules;
            }

            var rules = await LoadRulesAsync(ct);
            _rules = new Snapshot(rules, _time.GetUtcNow(), version);
            return rules;
        }
        finally
        {
            _loading.Release();
        }
    }

    private async Task ReloadInBackgroundAsync()
    {
        if (!await _loading.WaitAsync(0))
        {
            return;
        }

        try
        {
            var version = Volatile.Read(ref _version);
            _rules = new Snapshot(await LoadRulesAsync(CancellationToken.None), _time.GetUtcNow(), version);
        }
        catch (Exception e)
        {
            // Keep the rules we have and try again after another TTL, not on every request.
            LogReloadFailed(_logger, e.GetType().Name);
            if (_rules is { } current)
            {
                _rules = current with { LoadedAt = _time.GetUtcNow() };
            }
        }
        finally
        {
            _loading.Release();
        }
    }

    private async Task<AccessRules> LoadRulesAsync(CancellationToken ct)
    {
        var publicRules = new List<PublicRule>();
        foreach (var row in await ReadAllAsync(SystemTableNames.PublicTables, ct))
        {
            if (AccessRules.ReadPublic(row) is { } rule)
            {
                publicRules.Add(rule);
            }
        }

        var roleRules = new List<RoleRule>();
        foreach (var row in await ReadAllAsync(SystemTableNames.Role, ct))
        {
            if (AccessRules.ReadRole(row) is { } rule)
            {
                roleRules.Add(rule);
            }
        }

        return new AccessRules(publicRules, roleRules);
    }

    private async Task<List<Func<string, object?>>> ReadAllAsync(string name, CancellationToken ct)
    {
        if (_catalog.Find(name) is not { } table)
        {
            return [];
        }

        var filters = _options.ExcludingDeleted(table, []);

        var sort = table.PrimaryKeyColumn is { } pk ? new List<SortItem> { new(pk, false) } : [];
        var rows = await _database.SelectAsync(table, table.Columns, filters, sort, ct);
        return rows.Select(r => TableService.RowLookup(table, r)).ToList();
    }

    private void OnChange(RowChange change)
    {
        if (change.TableName is SystemTableNames.PublicTables or SystemTableNames.Role)
        {
            Interlocked.Increment(ref _version);
            return;
        }

        var auth = _options.Auth;
        if (change.TableName == auth.RoleTable
            && (auth.RoleIdentityColumn ?? change.PrimaryKey) is { } idName
            && RowChange.Format(change[idName]) is { } userId)
        {
            Interlocked.Increment(ref _roleGeneration);
            _roles.TryRemove(userId, out _);
        }
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _loading.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Role lookup impossible: table {Table} or its column {Column} or key is missing")]
    private static partial void LogRoleTableMissing(ILogger logger, string table, string column);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reloading access rules failed ({Error}); keeping the previous rules")]
    private static partial void LogReloadFailed(ILogger logger, string error);

    private sealed record Snapshot(AccessRules Rules, DateTimeOffset LoadedAt, long Version);

    private sealed record CachedRole(string? Role, DateTimeOffset LoadedAt);
}
