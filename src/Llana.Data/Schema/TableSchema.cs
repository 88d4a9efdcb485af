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
    private readonly Dictionary<string, ColumnSchema> _byName =
        Columns.ToDictionary(c => c.Field, StringComparer.Ordinal);

    private readonly Dictionary<string, int> _ordinals =
        Columns.Select((c, i) => (c.Field, i)).ToDictionary(x => x.Field, x => x.i, StringComparer.Ordinal);

    public ColumnSchema? Column(string name) => _byName.GetValueOrDefault(name);

    /// The position of a column in <see cref="Columns"/> (and so in a full row), or -1.
    public int IndexOf(string name) => _ordinals.GetValueOrDefault(name, -1);

    public ColumnSchema? PrimaryKeyColumn => PrimaryKey is null ? null : Column(PrimaryKey);

    /// True for views: readable like tables, but without keys of their own.
    public bool IsView { get; init; }
}
