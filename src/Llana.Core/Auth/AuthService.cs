using System.Data.Common;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Data;
using Llana.Data.Dialects;
using Llana.Data.Schema;
using Llana.Data.Sql;

namespace Llana.Core.Auth;

/// The access and refresh tokens of a successful login or refresh.
public sealed record TokenPair(string AccessToken, TimeSpan AccessLifetime, string RefreshToken, TimeSpan RefreshLifetime);

/// Login, refresh and profile (spec §6.3–§6.6), transport-free; the HTTP layer maps failures to Llana's shapes.
public sealed class AuthService(Database database, SchemaCatalog catalog, LlanaOptions options, JwtTokens tokens, PasswordHasher passwords, TableService tables)
{
    public const string InvalidUserObject = "Invalid user object";

    /// Tokens, or the failure: null message = plain `Unauthorized` (unknown user, wrong password, missing field).
    public async Task<(TokenPair? Tokens, string? Failure)> LoginAsync(string? username, string? password, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(username) || string.IsNullOrEmpty(password) || username.Length > 1024 || password.Length > 1024)
        {
            return (null, null);
        }

        var auth = options.Auth;
        var users = await catalog.FindAsync(auth.UserTable, ct);
        var usernameColumn = users?.Column(auth.UsernameField);
        var passwordColumn = users?.Column(auth.PasswordField);
        if (users is null || usernameColumn is null || passwordColumn is null)
        {
            passwords.Verify(password, null);
            return (null, null);
        }

        object? key;
        try
        {
            key = ValueParser.FromText(usernameColumn, username);
        }
        catch (TableErrorException)
        {
            passwords.Verify(password, null);
            return (null, null);
        }

        List<object?[]> rows;
        try
        {
            rows = await SelectUsersAsync(users, usernameColumn, key, ct);
        }
        catch (DbException e) when (database.Dialect.Classify(e) != DatabaseErrorType.Unavailable)
        {
            // Text the database cannot even compare (e.g. NUL in PostgreSQL) names no user.
            passwords.Verify(password, null);
            return (null, null);
        }

        var row = rows.Count == 1 ? TableService.RowLookup(users, rows[0]) : null;

        // Collations may match more than the text (MariaDB ignores NUL and trailing spaces): only the name itself,
        // up to case, signs in.
        if (row is not null && !string.Equals(RowChange.Format(row(usernameColumn.Field)), username, StringComparison.OrdinalIgnoreCase))
        {
            row = null;
        }

        if (!passwords.Verify(password, row?.Invoke(passwordColumn.Field) as string) || row is null)
        {
            return (null, null);
        }

        return Issue(users, row);
    }

    /// New tokens for a valid refresh token whose user still exists; the failure is `Invalid refresh token`.
    public async Task<TokenPair?> RefreshAsync(string refreshToken, CancellationToken ct)
    {
        var (claims, _) = tokens.Verify(refreshToken, TokenKind.Refresh);
        if (claims is null || await catalog.FindAsync(options.Auth.UserTable, ct) is not { } users || IdentityColumn(users) is not { } id)
        {
            return null;
        }

        object? key;
        try
        {
            key = ValueParser.FromText(id, claims.Subject);
        }
        catch (TableErrorException)
        {
            return null;
        }

        List<object?[]> rows;
        try
        {
            rows = await SelectUsersAsync(users, id, key, ct);
        }
        catch (DbException e) when (database.Dialect.Classify(e) != DatabaseErrorType.Unavailable)
        {
            return null;
        }

        return rows.Count == 1 ? Issue(users, TableService.RowLookup(users, rows[0])).Tokens : null;
    }

    /// The caller's own identity row, with `relations`, without role checks (spec §6.6).
    public async Task<TableResult> ProfileAsync(Caller caller, TableRequest request, CancellationToken ct)
    {
        if (caller.UserId is null || await catalog.FindAsync(options.Auth.UserTable, ct) is not { } users || IdentityColumn(users) is not { } id
            || users.PrimaryKeyColumn is not { } pk)
        {
            return new ErrorResult(TableError.Unauthorized(caller.Failure));
        }

        var query = request.Query.Where(q => q.Key is "relations" or "fields").ToList();
        var internalRequest = request with { Caller = Caller.Internal, Query = query };
        if (id == pk)
        {
            return await tables.GetAsync(users.Table, caller.UserId, internalRequest, ct);
        }

        object? key;
        try
        {
            key = ValueParser.FromText(id, caller.UserId);
        }
        catch (TableErrorException e)
        {
            return new ErrorResult(e.Error);
        }

        var rows = await database.SelectAsync(users, [pk], [new Filter(id, FilterOperator.Equals, key)], [], ct);
        return rows.Count == 0
            ? new EmptyResult(204)
            : await tables.GetAsync(users.Table, RowChange.Format(rows[0][0])!, internalRequest, ct);
    }

    private (TokenPair? Tokens, string? Failure) Issue(TableSchema users, Func<string, object?> row)
    {
        // The claim is literally `email`, read from a column named `email` (spec §6.3).
        if (IdentityColumn(users) is not { } id || row(id.Field) is not { } subject || users.Column("email") is null)
        {
            return (null, InvalidUserObject);
        }

        var email = row("email") as string;
        var pair = new TokenPair(
            tokens.Issue(subject, email, TokenKind.Access), tokens.Lifetime(TokenKind.Access),
            tokens.Issue(subject, email, TokenKind.Refresh), tokens.Lifetime(TokenKind.Refresh));
        return (pair, null);
    }

    private async Task<List<object?[]>> SelectUsersAsync(TableSchema users, ColumnSchema column, object? key, CancellationToken ct)
    {
        return await database.SelectAsync(users, users.Columns, options.ExcludingDeleted(users, [new(column, FilterOperator.Equals, key)]), [], ct);
    }

    private ColumnSchema? IdentityColumn(TableSchema users) =>
        (options.Auth.UserIdentityColumn ?? users.PrimaryKey) is { } name ? users.Column(name) : null;
}
