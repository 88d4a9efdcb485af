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

public sealed class MySqlSchemaReaderTests(MySqlSchemaFixture fixture) : SchemaReaderTests<MySqlSchemaFixture>(fixture);
