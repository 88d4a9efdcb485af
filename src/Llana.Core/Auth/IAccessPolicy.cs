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
public sealed record Caller(string? UserId, bool Authenticated)
{
    public static readonly Caller Anonymous = new(null, false);
}

/// The one place where authorization plugs into the table pipeline, for REST and realtime alike.
public interface IAccessPolicy
{
    /// Decides whether <paramref name="caller"/> may act at <paramref name="level"/> on <paramref name="table"/>.
    /// <paramref name="row"/> (column → value) is the row being written or deleted, when there is one, so an
    /// own-records rule can be checked in memory.
    ValueTask<AccessDecision> DecideAsync(Caller caller, TableSchema table, AccessLevel level, Func<string, object?>? row, CancellationToken ct);
}

/// The outcome: allowed or the denial text (401); when allowed, an optional own-records restriction
/// (owner column must equal the caller) and an optional allowed-fields list (null = all fields).
public sealed record AccessDecision(bool Allowed, string? Denial, OwnerRestriction? Owner, IReadOnlySet<string>? AllowedFields)
{
    public static readonly AccessDecision AllowAll = new(true, null, null, null);

    public static AccessDecision Deny(string message) => new(false, message, null, null);
}

/// An own-records rule: usable as a SQL filter (`Column = UserId`) and as a check on a row in memory.
public sealed record OwnerRestriction(ColumnSchema Column, string UserId)
{
    public bool Matches(Func<string, object?> row) =>
        string.Equals(Changes.RowChange.Format(row(Column.Field)), UserId, StringComparison.Ordinal);
}

/// Everyone may do everything: `SKIP_AUTH=true` behaviour, used until authentication is configured.
public sealed class OpenAccessPolicy : IAccessPolicy
{
    public ValueTask<AccessDecision> DecideAsync(Caller caller, TableSchema table, AccessLevel level, Func<string, object?>? row, CancellationToken ct) =>
        ValueTask.FromResult(AccessDecision.AllowAll);
}
