namespace Llana.Data.Tests.Schema;

public sealed class SqliteSchemaFixture : SchemaFixture
{
    public override DatabaseKind Kind => DatabaseKind.Sqlite;

    public override string Ddl => """
        CREATE TABLE Account (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          email VARCHAR(255) NOT NULL UNIQUE,
          name CHARACTER VARYING(100) NULL,
          bio TEXT,
          code CHAR(3),
          big BIGINT NOT NULL DEFAULT 0,
          small SMALLINT,
          level TINYINT,
          balance DECIMAL(10,2) NOT NULL DEFAULT 0.00,
          ratio DOUBLE PRECISION,
          active BOOLEAN NOT NULL,
          role TEXT NOT NULL DEFAULT 'USER' CHECK (role IN ('ADMIN', 'USER')),
          settings JSON,
          extra JSONB,
          born DATE,
          createdAt DATETIME DEFAULT CURRENT_TIMESTAMP,
          updatedAt TIMESTAMP NULL,
          nickname VARCHAR(30) DEFAULT 'it''s',
          score INT DEFAULT -1,
          data BLOB
        );
        CREATE TABLE Post (
          id INTEGER PRIMARY KEY,
          accountId INTEGER NOT NULL,
          reviewerId INTEGER,
          title VARCHAR(200) NOT NULL,
          FOREIGN KEY (accountId) REFERENCES Account (id),
          FOREIGN KEY (reviewerId) REFERENCES account (ID),
          UNIQUE (accountId, title)
        );
        CREATE TABLE Tag (
          name VARCHAR(50) NOT NULL,
          postId INTEGER REFERENCES Post
        );
        CREATE TABLE Membership (
          accountId INTEGER NOT NULL REFERENCES Account (id),
          groupId INTEGER NOT NULL,
          PRIMARY KEY (accountId, groupId)
        );
        CREATE TABLE Category (
          id INTEGER PRIMARY KEY,
          parentId INTEGER REFERENCES Category (id)
        );
        CREATE VIEW ActiveAccount AS SELECT id, email FROM Account WHERE active = 1;
        """;

    public override IReadOnlyDictionary<string, string> AccountDbTypes { get; } = new Dictionary<string, string>
    {
        ["id"] = "INTEGER",
        ["email"] = "VARCHAR(255)",
        ["balance"] = "DECIMAL(10,2)",
        ["role"] = "TEXT",
        ["createdAt"] = "DATETIME",
    };
}

public sealed class SqliteSchemaReaderTests(SqliteSchemaFixture fixture) : SchemaReaderTests<SqliteSchemaFixture>(fixture)
{
    [Fact]
    public async Task Only_an_integer_rowid_alias_auto_increments()
    {
        var tables = await SchemaFixture.ReadAsync(DatabaseKind.Sqlite, """
            CREATE TABLE IntKey (id INT PRIMARY KEY, v TEXT);
            CREATE TABLE NoRowId (id INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;
            CREATE TABLE RowId (id integer primary key, v TEXT);
            CREATE TABLE Keyless (v TEXT UNIQUE, w TEXT);
            CREATE UNIQUE INDEX keyless_lower ON Keyless (lower(w));
            """);
        Assert.Equal(["IntKey", "Keyless", "NoRowId", "RowId"], tables.Select(t => t.Table));
        Assert.False(tables.Single(t => t.Table == "IntKey").Column("id")!.AutoIncrement);
        Assert.False(tables.Single(t => t.Table == "NoRowId").Column("id")!.AutoIncrement);
        Assert.True(tables.Single(t => t.Table == "RowId").Column("id")!.AutoIncrement);
        var keyless = tables.Single(t => t.Table == "Keyless");
        Assert.True(keyless.Column("v")!.UniqueKey);
        Assert.False(keyless.Column("w")!.UniqueKey);
    }
}
