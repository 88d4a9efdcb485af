namespace Llana.Data.Tests.Schema;

public sealed class PostgresSchemaFixture : SchemaFixture
{
    public override DatabaseKind Kind => DatabaseKind.Postgres;

    public override string Ddl => """
        CREATE TYPE userrole AS ENUM ('ADMIN', 'USER');
        CREATE TABLE "Account" (
          "id" SERIAL PRIMARY KEY,
          "email" VARCHAR(255) NOT NULL UNIQUE,
          "name" CHARACTER VARYING(100) NULL,
          "bio" TEXT,
          "code" CHAR(3),
          "big" BIGINT NOT NULL DEFAULT 0,
          "small" SMALLINT,
          "level" SMALLINT,
          "balance" NUMERIC(10,2) NOT NULL DEFAULT 0.00,
          "ratio" DOUBLE PRECISION,
          "active" BOOLEAN NOT NULL,
          "role" userrole NOT NULL DEFAULT 'USER',
          "settings" JSON,
          "extra" JSONB,
          "born" DATE,
          "createdAt" TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
          "updatedAt" TIMESTAMP WITH TIME ZONE NULL,
          "nickname" VARCHAR(30) DEFAULT 'it''s',
          "score" INTEGER DEFAULT -1,
          "data" BYTEA
        );
        CREATE TABLE "Post" (
          "id" INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          "accountId" INTEGER NOT NULL REFERENCES "Account" ("id"),
          "reviewerId" INTEGER REFERENCES "Account" ("id"),
          "title" VARCHAR(200) NOT NULL,
          UNIQUE ("accountId", "title")
        );
        CREATE TABLE "Tag" (
          "name" VARCHAR(50) NOT NULL,
          "postId" INTEGER REFERENCES "Post"
        );
        CREATE TABLE "Membership" (
          "accountId" INTEGER NOT NULL REFERENCES "Account" ("id"),
          "groupId" INTEGER NOT NULL,
          PRIMARY KEY ("accountId", "groupId")
        );
        CREATE VIEW "ActiveAccount" AS SELECT "id", "email" FROM "Account" WHERE "active";
        """;

    public override IReadOnlyDictionary<string, string> AccountDbTypes { get; } = new Dictionary<string, string>
    {
        ["id"] = "integer",
        ["email"] = "character varying(255)",
        ["code"] = "character(3)",
        ["balance"] = "numeric(10,2)",
        ["role"] = "userrole",
        ["createdAt"] = "timestamp without time zone",
        ["updatedAt"] = "timestamp with time zone",
        ["extra"] = "jsonb",
    };
}

public sealed class PostgresSchemaReaderTests(PostgresSchemaFixture fixture) : SchemaReaderTests<PostgresSchemaFixture>(fixture);
