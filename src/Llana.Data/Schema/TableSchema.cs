namespace Llana.Data.Schema;

/// The column types Llana exposes in `/{table}/schema` and uses to validate and format values.
public enum ColumnType
{
    String,
    Number,
    Boolean,
    Date,
    Json,
    Enum,
    Unknown,
}

/// One column as introspected. <see cref="DbType"/> keeps the database's own type name (for example
/// `int`, `bigint`, `decimal(10,2)`, `timestamp with time zone`) so dialects can bind parameters precisely.
public sealed record ColumnSchema(
    string Field,
    ColumnType Type,
    string DbType,
    bool Nullable,
    bool PrimaryKey,
    bool UniqueKey,
    bool ForeignKey,
    bool AutoIncrement,
    string? Default,
    IReadOnlyList<string>? Enums = null)
{
    public bool Required => !Nullable;

    /// True for integer columns (as opposed to decimal/float), so ids and filters parse as integers.
    public bool IsInteger { get; init; }

    /// Written but never read back, filtered or sorted on: the users' password hashes.
    public bool WriteOnly { get; init; }
}

/// A relation seen from <see cref="OrgTable"/>: `Table.Column = OrgTable.OrgColumn`.
/// Both directions are listed: foreign keys from this table and foreign keys pointing to it.
public sealed record RelationSchema(string Table, string Column, string OrgTable, string OrgColumn);

public sealed record TableSchema(
    string Table,
    IReadOnlyList<ColumnSchema> Columns,
    string? PrimaryKey,
    IReadOnlyList<RelationSchema> Relations)
{
    // Lookups built on first use (a benign race builds the same map twice); the copy constructor drops them, so a
    // copy made with `with { Columns = ... }` indexes its own columns, not the original's.
    private Dictionary<string, ColumnSchema>? _byName;
    private Dictionary<string, int>? _ordinals;

    private TableSchema(TableSchema original)
    {
        Table = original.Table;
        Columns = original.Columns;
        PrimaryKey = original.PrimaryKey;
        Relations = original.Relations;
        IsView = original.IsView;
    }

    public ColumnSchema? Column(string name) =>
        (_byName ??= Columns.ToDictionary(c => c.Field, StringComparer.Ordinal)).GetValueOrDefault(name);

    /// The position of a column in <see cref="Columns"/> (and so in a full row), or -1.
    public int IndexOf(string name) =>
        (_ordinals ??= Columns.Select((c, i) => (c.Field, i)).ToDictionary(x => x.Field, x => x.i, StringComparer.Ordinal)).GetValueOrDefault(name, -1);

    public ColumnSchema? PrimaryKeyColumn => PrimaryKey is null ? null : Column(PrimaryKey);

    /// True for views: readable like tables, but without keys of their own.
    public bool IsView { get; init; }
}
