using Llana.Data.Schema;
using Llana.Testing;

namespace Llana.Data.Tests.Schema;

/// A fresh database per dialect with the same logical tables, read once by the dialect's schema reader.
public abstract class SchemaFixture : IAsyncLifetime
{
    private TestDatabase? _database;

    public IReadOnlyList<TableSchema> Tables { get; private set; } = [];

    public abstract DatabaseKind Kind { get; }

    /// Dialect DDL creating Account, Post, Tag, Membership, Category and the ActiveAccount view.
    public abstract string Ddl { get; }

    /// Column → expected DbType, for the columns whose spelling differs per dialect.
    public abstract IReadOnlyDictionary<string, string> AccountDbTypes { get; }

    /// Creates a throw-away database with <paramref name="ddl"/> and reads it, for dialect-specific cases.
    public static async Task<IReadOnlyList<TableSchema>> ReadAsync(DatabaseKind kind, string ddl)
    {
        await using var database = await TestDatabase.CreateAsync(kind);
        await database.ExecuteAsync(ddl);
        await using var connection = await database.OpenAsync();
        return await SchemaReaders.For(kind).ReadAsync(connection, CancellationToken.None);
    }

    public TableSchema Table(string name) =>
        Tables.SingleOrDefault(t => t.Table == name) ?? throw new InvalidOperationException($"table {name} not read");

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(Kind);
        await _database.ExecuteAsync(Ddl);
        await using var connection = await _database.OpenAsync();
        Tables = await SchemaReaders.For(Kind).ReadAsync(connection, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}

public abstract class SchemaReaderTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>
    where TFixture : SchemaFixture
{
    private static readonly string[] AccountColumns =
    [
        "id", "email", "name", "bio", "code", "big", "small", "level", "balance", "ratio", "active", "role",
        "settings", "extra", "born", "createdAt", "updatedAt", "nickname", "score", "data",
    ];

    [Fact]
    public void Reads_every_table_and_view_in_name_order()
    {
        Assert.Equal(["Account", "ActiveAccount", "Category", "Membership", "Post", "Tag"], fixture.Tables.Select(t => t.Table));
        Assert.True(fixture.Table("ActiveAccount").IsView);
        Assert.False(fixture.Table("Account").IsView);
        Assert.Equal(["id", "email"], fixture.Table("ActiveAccount").Columns.Select(c => c.Field));
    }

    [Fact]
    public void Columns_come_in_ordinal_order() =>
        Assert.Equal(AccountColumns, fixture.Table("Account").Columns.Select(c => c.Field));

    [Theory]
    [InlineData("id", ColumnType.Number, true)]
    [InlineData("email", ColumnType.String, false)]
    [InlineData("name", ColumnType.String, false)]
    [InlineData("bio", ColumnType.String, false)]
    [InlineData("code", ColumnType.String, false)]
    [InlineData("big", ColumnType.Number, true)]
    [InlineData("small", ColumnType.Number, true)]
    [InlineData("level", ColumnType.Number, true)]
    [InlineData("balance", ColumnType.Number, false)]
    [InlineData("ratio", ColumnType.Number, false)]
    [InlineData("active", ColumnType.Boolean, false)]
    [InlineData("role", ColumnType.Enum, false)]
    [InlineData("settings", ColumnType.Json, false)]
    [InlineData("extra", ColumnType.Json, false)]
    [InlineData("born", ColumnType.Date, false)]
    [InlineData("createdAt", ColumnType.Date, false)]
    [InlineData("updatedAt", ColumnType.Date, false)]
    [InlineData("score", ColumnType.Number, true)]
    [InlineData("data", ColumnType.String, false)]
    public void Maps_column_types(string column, ColumnType type, bool isInteger)
    {
        var c = Column("Account", column);
        Assert.Equal(type, c.Type);
        Assert.Equal(isInteger, c.IsInteger);
    }

    [Fact]
    public void Keeps_the_database_type_name()
    {
        foreach (var (column, dbType) in fixture.AccountDbTypes)
        {
            Assert.Equal((column, dbType), (column, Column("Account", column).DbType));
        }
    }

    [Fact]
    public void Enum_values_in_declaration_order()
    {
        Assert.Equal(["ADMIN", "USER"], Column("Account", "role").Enums);
        Assert.Null(Column("Account", "email").Enums);
    }

    [Fact]
    public void Nullability()
    {
        var account = fixture.Table("Account");
        Assert.Equal(
            ["id", "email", "big", "balance", "active", "role"],
            account.Columns.Where(c => !c.Nullable).Select(c => c.Field));
        Assert.True(Column("Account", "id").Required);
        Assert.False(Column("Account", "name").Required);
    }

    [Fact]
    public void Defaults_are_normalised()
    {
        Assert.Equal("USER", Column("Account", "role").Default);
        Assert.Equal("0", Column("Account", "big").Default);
        Assert.Equal("0.00", Column("Account", "balance").Default);
        Assert.Equal("it's", Column("Account", "nickname").Default);
        Assert.Equal("-1", Column("Account", "score").Default);
        Assert.NotNull(Column("Account", "createdAt").Default);
        Assert.Contains("current_timestamp", Column("Account", "createdAt").Default!, StringComparison.OrdinalIgnoreCase);
        Assert.Null(Column("Account", "updatedAt").Default);
        Assert.Null(Column("Account", "name").Default);
        Assert.Null(Column("Account", "id").Default);
    }

    [Fact]
    public void Single_column_primary_keys_and_auto_increment()
    {
        Assert.Equal("id", fixture.Table("Account").PrimaryKey);
        Assert.Equal("id", fixture.Table("Post").PrimaryKey);
        Assert.Equal("id", fixture.Table("Account").PrimaryKeyColumn?.Field);
        Assert.True(Column("Account", "id").PrimaryKey);
        Assert.True(Column("Account", "id").AutoIncrement);
        Assert.True(Column("Post", "id").AutoIncrement);
        Assert.Equal(["id"], fixture.Table("Account").Columns.Where(c => c.PrimaryKey).Select(c => c.Field));
        Assert.Equal(["id"], fixture.Table("Account").Columns.Where(c => c.AutoIncrement).Select(c => c.Field));
    }

    [Fact]
    public void Composite_primary_key_flags_columns_but_has_no_table_key()
    {
        var membership = fixture.Table("Membership");
        Assert.Null(membership.PrimaryKey);
        Assert.Null(membership.PrimaryKeyColumn);
        Assert.Equal(["accountId", "groupId"], membership.Columns.Where(c => c.PrimaryKey).Select(c => c.Field));
        Assert.DoesNotContain(membership.Columns, c => c.AutoIncrement);
    }

    [Fact]
    public void Table_without_primary_key()
    {
        var tag = fixture.Table("Tag");
        Assert.Null(tag.PrimaryKey);
        Assert.DoesNotContain(tag.Columns, c => c.PrimaryKey || c.AutoIncrement);
    }

    [Fact]
    public void Unique_keys_are_single_column_and_not_the_primary_key()
    {
        Assert.Equal(["email"], fixture.Table("Account").Columns.Where(c => c.UniqueKey).Select(c => c.Field));
        // Post has a composite UNIQUE (accountId, title): no column is unique on its own.
        Assert.DoesNotContain(fixture.Table("Post").Columns, c => c.UniqueKey);
    }

    [Fact]
    public void Foreign_key_columns_are_flagged()
    {
        Assert.Equal(["accountId", "reviewerId"], fixture.Table("Post").Columns.Where(c => c.ForeignKey).Select(c => c.Field));
        Assert.Equal(["postId"], fixture.Table("Tag").Columns.Where(c => c.ForeignKey).Select(c => c.Field));
        Assert.Equal(["accountId"], fixture.Table("Membership").Columns.Where(c => c.ForeignKey).Select(c => c.Field));
        Assert.DoesNotContain(fixture.Table("Account").Columns, c => c.ForeignKey);
    }

    [Fact]
    public void Relations_in_both_directions_in_deterministic_order()
    {
        Assert.Equal(
            [
                new RelationSchema("Membership", "accountId", "Account", "id"),
                new RelationSchema("Post", "accountId", "Account", "id"),
                new RelationSchema("Post", "reviewerId", "Account", "id"),
            ],
            fixture.Table("Account").Relations);
        Assert.Equal(
            [
                new RelationSchema("Account", "id", "Post", "accountId"),
                new RelationSchema("Account", "id", "Post", "reviewerId"),
                new RelationSchema("Tag", "postId", "Post", "id"),
            ],
            fixture.Table("Post").Relations);
        Assert.Equal([new RelationSchema("Post", "id", "Tag", "postId")], fixture.Table("Tag").Relations);
        Assert.Equal([new RelationSchema("Account", "id", "Membership", "accountId")], fixture.Table("Membership").Relations);
        Assert.Empty(fixture.Table("ActiveAccount").Relations);
    }

    [Fact]
    public void Self_reference_lists_both_directions_on_the_same_table()
    {
        Assert.Equal(
            [
                new RelationSchema("Category", "id", "Category", "parentId"),
                new RelationSchema("Category", "parentId", "Category", "id"),
            ],
            fixture.Table("Category").Relations);
        Assert.True(Column("Category", "parentId").ForeignKey);
        Assert.False(Column("Category", "id").ForeignKey);
    }

    private ColumnSchema Column(string table, string column) =>
        fixture.Table(table).Column(column) ?? throw new InvalidOperationException($"{table}.{column} not read");
}
