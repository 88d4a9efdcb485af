using System.Globalization;

namespace Llana.Core.Auth;

/// One `_llana_public_tables` row.
public sealed record PublicRule(string Table, AccessLevel Level, IReadOnlySet<string>? AllowedFields);

/// One `_llana_role` row. <see cref="Table"/> and <see cref="IdentityColumn"/> matter for custom rules only.
public sealed record RoleRule(bool Custom, string? Table, string? IdentityColumn, string Role, AccessLevel Records, AccessLevel OwnRecords, IReadOnlySet<string>? AllowedFields);

/// The rules of both system tables, indexed the way decisions look them up (first row by id wins, spec §7.3).
public sealed class AccessRules
{
    public static readonly AccessRules Empty = new([], []);

    private readonly Dictionary<string, PublicRule[]> _public;
    private readonly Dictionary<(string Table, string Role), RoleRule> _custom = [];
    private readonly Dictionary<string, RoleRule[]> _defaults;

    public AccessRules(IReadOnlyList<PublicRule> publicRules, IReadOnlyList<RoleRule> roleRules)
    {
        _public = publicRules.GroupBy(r => r.Table, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
        foreach (var rule in roleRules.Where(r => r.Custom && r.Table is not null))
        {
            _custom.TryAdd((rule.Table!, rule.Role), rule);
        }

        _defaults = roleRules.Where(r => !r.Custom).GroupBy(r => r.Role, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }

    /// The first public rule of <paramref name="table"/> that grants <paramref name="level"/>.
    public PublicRule? Public(string table, AccessLevel level) =>
        _public.TryGetValue(table, out var rules) ? Array.Find(rules, r => r.Level >= level) : null;

    public RoleRule? Custom(string table, string role) => _custom.GetValueOrDefault((table, role));

    public RoleRule? Default(string role, AccessLevel level) =>
        _defaults.TryGetValue(role, out var rules) ? Array.Find(rules, r => r.Records >= level) : null;

    internal static AccessLevel ParseLevel(object? value) => (value as string)?.ToUpperInvariant() switch
    {
        "READ" => AccessLevel.Read,
        "WRITE" => AccessLevel.Write,
        "DELETE" => AccessLevel.Delete,
        _ => AccessLevel.None,
    };

    internal static string LevelName(AccessLevel level) => level switch
    {
        AccessLevel.Read => "READ",
        AccessLevel.Write => "WRITE",
        AccessLevel.Delete => "DELETE",
        _ => "NONE",
    };

    internal static bool ParseBool(object? value) => value switch
    {
        bool b => b,
        long l => l != 0,
        int i => i != 0,
        decimal d => d != 0,
        string s => s is "1" || s.Equals("true", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };

    /// A comma list; empty means "all fields" (null).
    internal static IReadOnlySet<string>? ParseFields(object? value)
    {
        if (value is not string text)
        {
            return null;
        }

        var fields = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return fields.Length == 0 ? null : fields.ToHashSet(StringComparer.Ordinal);
    }

    internal static string? Text(object? value) => value switch
    {
        null => null,
        string s => s.Length == 0 ? null : s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    internal static PublicRule? ReadPublic(Func<string, object?> row) =>
        Text(row("table")) is { } table ? new PublicRule(table, ParseLevel(row("access_level")), ParseFields(row("allowed_fields"))) : null;

    internal static RoleRule? ReadRole(Func<string, object?> row) =>
        Text(row("role")) is { } role
            ? new RoleRule(ParseBool(row("custom")), Text(row("table")), Text(row("identity_column")), role,
                ParseLevel(row("records")), ParseLevel(row("own_records")), ParseFields(row("allowed_fields")))
            : null;
}
