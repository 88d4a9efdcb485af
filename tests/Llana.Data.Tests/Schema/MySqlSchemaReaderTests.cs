using Llana.Data.Schema;

namespace Llana.Data.Tests.Schema;

public sealed class MySqlSchemaFixture : SchemaFixture
{
    public override DatabaseKind Kind => DatabaseKind.MySql;

    public override string Ddl => """
        CREATE TABLE Account (
          id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
          email VARCHAR(255) NOT NULL UNIQUE,
          name VARCHAR(100) NULL,
          bio TEXT,
          code CHAR(3),
          big BIGINT NOT NULL DEFAULT 0,
          small SMALLINT,
          level TINYINT,
          balance DECIMAL(10,2) NOT NULL DEFAULT 0.00,
          ratio DOUBLE,
          active BOOLEAN NOT NULL,
          role ENUM('ADMIN', 'USER') NOT NULL DEFAULT 'USER',
          settings JSON,
          extra JSON,
          born DATE,
          createdAt DATETIME DEFAULT CURRENT_TIMESTAMP,
          updatedAt TIMESTAMP NULL DEFAULT NULL,
          nickname VARCHAR(30) DEFAULT 'it''s',
          score INT DEFAULT -1,
          data VARBINARY(64)
        );
        CREATE TABLE Post (
          id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
          accountId INT NOT NULL,
          reviewerId INT NULL,
          title VARCHAR(200) NOT NULL,
          UNIQUE KEY post_account_title (accountId, title),
          FOREIGN KEY (accountId) REFERENCES Account (id),
          FOREIGN KEY (reviewerId) REFERENCES Account (id)
        );
        CREATE TABLE Tag (
          name VARCHAR(50) NOT NULL,
          postId BIGINT NULL,
          FOREIGN KEY (postId) REFERENCES Post (id)
        );
        CREATE TABLE Membership (
          accountId INT NOT NULL,
          groupId INT NOT NULL,
          PRIMARY KEY (accountId, groupId),
          FOREIGN KEY (accountId) REFERENCES Account (id)
        );
        CREATE TABLE Category (
          id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
          parentId INT NULL,
          FOREIGN KEY (parentId) REFERENCES Category (id)
        );
        CREATE VIEW ActiveAccount AS SELECT id, email FROM Account WHERE active = 1;
        """;

    public override IReadOnlyDictionary<string, string> AccountDbTypes { get; } = new Dictionary<string, string>
    {
        ["email"] = "varchar(255)",
        ["balance"] = "decimal(10,2)",
        ["active"] = "tinyint(1)",
        ["role"] = "enum('ADMIN','USER')",
        ["createdAt"] = "datetime",
        ["updatedAt"] = "timestamp",
    };
}

public sealed class MySqlSchemaReaderTests(MySqlSchemaFixture fixture) : SchemaReaderTests<MySqlSchemaFixture>(fixture)
{
    [Fact]
    public async Task Bits_unsigned_sets_and_awkward_enum_values()
    {
        var tables = await SchemaFixture.ReadAsync(DatabaseKind.MySql, """
            CREATE TABLE Thing (
              id INT UNSIGNED NOT NULL AUTO_INCREMENT,
              flag BIT(1) NULL,
              mask BIT(8) NULL,
              tiny TINYINT UNSIGNED NULL,
              medium MEDIUMINT NULL,
              yr YEAR NULL,
              mood ENUM('happy', 'it''s, fine') NULL DEFAULT 'it''s, fine',
              options SET('a', 'b') NULL,
              body LONGTEXT NULL,
              raw LONGBLOB NULL,
              amount FLOAT NULL,
              PRIMARY KEY (id)
            );
            """);
        var thing = Assert.Single(tables);
        Assert.Equal("id", thing.PrimaryKey);
        Assert.True(thing.Column("id")!.AutoIncrement);
        Assert.True(thing.Column("id")!.IsInteger);
        Assert.Equal(ColumnType.Boolean, thing.Column("flag")!.Type);
        Assert.Equal(ColumnType.Unknown, thing.Column("mask")!.Type);
        Assert.Equal((ColumnType.Number, true), (thing.Column("tiny")!.Type, thing.Column("tiny")!.IsInteger));
        Assert.Equal((ColumnType.Number, true), (thing.Column("medium")!.Type, thing.Column("medium")!.IsInteger));
        Assert.Equal((ColumnType.Number, true), (thing.Column("yr")!.Type, thing.Column("yr")!.IsInteger));
        Assert.Equal(["happy", "it's, fine"], thing.Column("mood")!.Enums);
        Assert.Equal("it's, fine", thing.Column("mood")!.Default);
        Assert.Equal(ColumnType.Unknown, thing.Column("options")!.Type);
        Assert.Equal(ColumnType.String, thing.Column("body")!.Type);
        Assert.Equal(ColumnType.String, thing.Column("raw")!.Type);
        Assert.Equal((ColumnType.Number, false), (thing.Column("amount")!.Type, thing.Column("amount")!.IsInteger));
    }
}
