using Llana.Data.Schema;

namespace Llana.Core.Auth;

/// Cumulative permission levels: DELETE ⊇ WRITE ⊇ READ.
public enum AccessLevel
{
    None = 0,
    Read = 1,
    Write = 2,
    Delete = 3,
}

/// Who is asking. <see cref="UserId"/> is the identity-table key as a string (null for anonymous callers).
/// An unauthenticated caller keeps the reason (<see cref="Failure"/>): a public table still answers it, any other
/// table answers 401 with that text (spec §6.1).
public sealed record Caller(string? UserId, bool Authenticated)
{
    public const string MissingToken = "Missing authorization token. Use either <Bearer> token header or accessToken cookie";

    public static readonly Caller Anonymous = new(null, false);

    /// `SKIP_AUTH=true`: valid without a user.
    public static readonly Caller SkipAuth = new(null, true);

    /// The server acting for itself (e.g. `/auth/profile` reading the caller's own row): no rule applies.
    internal static readonly Caller Internal = new(null, true) { IsInternal = true };

    public string Failure { get; init; } = MissingToken;

    /// When the access token this caller was built from expires (null for API keys and anonymous callers).
    public DateTimeOffset? ExpiresAt { get; init; }

    /// A role the holder already knows (a socket's cached identity): the evaluator uses it instead of looking it up.
    public KnownRole? Role { get; init; }

    internal bool IsInternal { get; private init; }

    public static Caller User(string userId) => new(userId, true);

    public static Caller Unauthenticated(string failure) => new(null, false) { Failure = failure };
}

/// A user's role as last read (null when the user or the role is missing).
public sealed record KnownRole(string? Name);

/// The one place where authorization plugs into the table pipeline, for REST and realtime alike.
public interface IAccessPolicy
{
    /// Decides whether <paramref name="caller"/> may act at <paramref name="level"/> on <paramref name="table"/>.
    /// <paramref name="row"/> (column → value) is the row being written or deleted, when there is one, so an
    /// own-records rule can be checked in memory.
    ValueTask<AccessDecision> DecideAsync(Caller caller, TableSchema table, AccessLevel level, Func<string, object?>? row, CancellationToken ct);

    /// Why a caller with a valid credential may use nothing at all (its user was deleted, or has no role), or null.
    /// A long-lived connection asks once, up front, what each HTTP request learns from <see cref="DecideAsync"/>.
    ValueTask<string?> RefusalAsync(Caller caller, CancellationToken ct) => ValueTask.FromResult<string?>(null);

    /// True when every caller may do everything (`SKIP_AUTH`): a long-lived connection need not ask per change.
    bool AllowsAll => false;

    /// Moves whenever a role rule or a user's role changes: a caller's role read before is stale from then on.
    long RoleGeneration => 0;

    /// The user's role now (null when it has none, or the policy has no roles), so that a long-lived connection can
    /// keep it and be judged without a database read.
    ValueTask<string?> RoleAsync(string userId, CancellationToken ct) => ValueTask.FromResult<string?>(null);
}

/// The outcome: allowed or the denial text (401); when allowed, an optional own-records restriction
/// (owner column must equal the caller) and an optional allowed-fields list (null = all fields).
public sealed record AccessDecision(bool Allowed, string? Denial, OwnerRestriction? Owner, IReadOnlySet<string>? AllowedFields)
{
    /// Whether a read returns <paramref name="column"/>: never a write-only column, else as the allowed fields say.
    public bool Shows(ColumnSchema column) => !column.WriteOnly && AllowedFields?.Contains(column.Field) != false;

    public static readonly AccessDecision AllowAll = new(true, null, null, null);

    public static AccessDecision Deny(string message) => new(false, message, null, null);
}

/// An own-records rule: usable as a SQL filter (`Column = UserId`) and as a check on a row in memory.
public sealed record OwnerRestriction(ColumnSchema Column, string UserId)
{
    public bool Matches(Func<string, object?> row) =>
        string.Equals(Changes.RowChange.Format(row(Column.Field)), UserId, StringComparison.Ordinal);

    /// The condition a query adds to read or write only the caller's own rows.
    public Llana.Data.Sql.Filter Filter => new(Column, Llana.Data.Sql.FilterOperator.Equals, Tables.ValueParser.FromText(Column, UserId));
}

/// Everyone may do everything: `SKIP_AUTH=true` behaviour, used until authentication is configured.
public sealed class OpenAccessPolicy : IAccessPolicy
{
    public bool AllowsAll => true;

    public ValueTask<AccessDecision> DecideAsync(Caller caller, TableSchema table, AccessLevel level, Func<string, object?>? row, CancellationToken ct) =>
        ValueTask.FromResult(AccessDecision.AllowAll);
}
