using Llana.Core.Options;
using Llana.Data.Schema;

namespace Llana.Core.Auth;

/// What writes to the identity tables need beyond the generic pipeline: the password column is hashed (spec §6.7),
/// and the role column can only be set by a caller allowed to write every row of the role table. An own-records
/// rule (the seeded `USER` rule on `User`) lets users edit their own row, but not promote themselves.
public sealed class IdentityWrites(AuthOptions options, PasswordHasher passwords)
{
    /// Applies the rules to an allowed write's values; returns the denial text (401) or null.
    public string? Prepare(TableSchema table, List<(ColumnSchema Column, object? Value)> values, AccessDecision decision)
    {
        if (decision.Owner is not null && table.Table == options.RoleTable && values.Exists(v => v.Column.Field == options.RoleField))
        {
            return $"Permission Denied - {options.RoleField} can only be changed with WRITE access to all {table.Table} records";
        }

        // After the decision: a denied request must not cost a password hash.
        passwords.HashIdentityValues(table, values);
        return null;
    }
}
