using Llana.Data.Schema;

namespace Llana.Data.Tests.Schema;

public sealed class SchemaMappingTests
{
    [Theory]
    [InlineData("'USER'::userrole", "USER")]
    [InlineData("'USER'::\"UserRole\"", "USER")]
    [InlineData("'it''s'::character varying", "it's")]
    [InlineData("'-1'::integer", "-1")]
    [InlineData("(-1)", "-1")]
    [InlineData("''", "")]
    [InlineData("'x'", "x")]
    [InlineData("0", "0")]
    [InlineData("CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP")]
    [InlineData("current_timestamp()", "current_timestamp()")]
    [InlineData("now()", "now()")]
    [InlineData("'{}'::jsonb", "{}")]
    [InlineData("NULL", null)]
    [InlineData("null", null)]
    [InlineData("NULL::character varying", null)]
    [InlineData(" ", null)]
    [InlineData(null, null)]
    public void Normalises_defaults(string? raw, string? expected) =>
        Assert.Equal(expected, SchemaAssembler.NormalizeDefault(raw));

    [Fact]
    public void Parses_quoted_lists()
    {
        Assert.Equal(["a", "b,c", "it's"], SchemaAssembler.ParseQuotedList("'a','b,c','it''s'"));
        Assert.Equal(["a", "b"], SchemaAssembler.ParseQuotedList(" 'a' , 'b' "));
        Assert.Null(SchemaAssembler.ParseQuotedList("a,b"));
        Assert.Null(SchemaAssembler.ParseQuotedList("'a',"));
        Assert.Equal(["ADMIN", "USER"], MySqlSchemaReader.ParseEnum("enum('ADMIN','USER')"));
    }

    [Theory]
    [InlineData("tinyint", "tinyint(1)", ColumnType.Boolean, false)]
    [InlineData("tinyint", "tinyint(4)", ColumnType.Number, true)]
    [InlineData("tinyint", "tinyint", ColumnType.Number, true)]
    [InlineData("int", "int(10) unsigned", ColumnType.Number, true)]
    [InlineData("bigint", "bigint(20)", ColumnType.Number, true)]
    [InlineData("decimal", "decimal(10,2)", ColumnType.Number, false)]
    [InlineData("double", "double", ColumnType.Number, false)]
    [InlineData("bit", "bit(1)", ColumnType.Boolean, false)]
    [InlineData("bit", "bit(8)", ColumnType.Unknown, false)]
    [InlineData("varchar", "varchar(255)", ColumnType.String, false)]
    [InlineData("char", "char(36)", ColumnType.String, false)]
    [InlineData("mediumtext", "mediumtext", ColumnType.String, false)]
    [InlineData("varbinary", "varbinary(16)", ColumnType.String, false)]
    [InlineData("datetime", "datetime(3)", ColumnType.Date, false)]
    [InlineData("time", "time", ColumnType.Date, false)]
    [InlineData("json", "json", ColumnType.Json, false)]
    [InlineData("enum", "enum('a')", ColumnType.Enum, false)]
    [InlineData("set", "set('a')", ColumnType.Unknown, false)]
    [InlineData("geometry", "geometry", ColumnType.Unknown, false)]
    public void Maps_mysql_types(string dataType, string columnType, ColumnType type, bool isInteger) =>
        Assert.Equal((type, isInteger), MySqlSchemaReader.MapType(dataType, columnType));

    [Theory]
    [InlineData("int2", "b", "N", ColumnType.Number, true)]
    [InlineData("int4", "b", "N", ColumnType.Number, true)]
    [InlineData("int8", "b", "N", ColumnType.Number, true)]
    [InlineData("numeric", "b", "N", ColumnType.Number, false)]
    [InlineData("float4", "b", "N", ColumnType.Number, false)]
    [InlineData("float8", "b", "N", ColumnType.Number, false)]
    [InlineData("varchar", "b", "S", ColumnType.String, false)]
    [InlineData("bpchar", "b", "S", ColumnType.String, false)]
    [InlineData("text", "b", "S", ColumnType.String, false)]
    [InlineData("uuid", "b", "U", ColumnType.String, false)]
    [InlineData("citext", "b", "S", ColumnType.String, false)]
    [InlineData("bytea", "b", "U", ColumnType.String, false)]
    [InlineData("timestamp", "b", "D", ColumnType.Date, false)]
    [InlineData("timestamptz", "b", "D", ColumnType.Date, false)]
    [InlineData("date", "b", "D", ColumnType.Date, false)]
    [InlineData("time", "b", "D", ColumnType.Date, false)]
    [InlineData("bool", "b", "B", ColumnType.Boolean, false)]
    [InlineData("json", "b", "U", ColumnType.Json, false)]
    [InlineData("jsonb", "b", "U", ColumnType.Json, false)]
    [InlineData("userrole", "e", "E", ColumnType.Enum, false)]
    [InlineData("_int4", "b", "A", ColumnType.Unknown, false)]
    [InlineData("interval", "b", "T", ColumnType.Unknown, false)]
    [InlineData("money", "b", "N", ColumnType.Unknown, false)]
    public void Maps_postgres_types(string typeName, string typeType, string category, ColumnType type, bool isInteger) =>
        Assert.Equal((type, isInteger), PostgresSchemaReader.MapType(typeName, typeType, category));

    [Theory]
    [InlineData("INTEGER", ColumnType.Number, true)]
    [InlineData("int", ColumnType.Number, true)]
    [InlineData("BIGINT", ColumnType.Number, true)]
    [InlineData("UNSIGNED BIG INT", ColumnType.Number, true)]
    [InlineData("DECIMAL(10,2)", ColumnType.Number, false)]
    [InlineData("NUMERIC", ColumnType.Number, false)]
    [InlineData("REAL", ColumnType.Number, false)]
    [InlineData("FLOAT", ColumnType.Number, false)]
    [InlineData("DOUBLE PRECISION", ColumnType.Number, false)]
    [InlineData("VARCHAR(40)", ColumnType.String, false)]
    [InlineData("NVARCHAR(40)", ColumnType.String, false)]
    [InlineData("TEXT", ColumnType.String, false)]
    [InlineData("CLOB", ColumnType.String, false)]
    [InlineData("BLOB", ColumnType.String, false)]
    [InlineData("DATETIME", ColumnType.Date, false)]
    [InlineData("DATE", ColumnType.Date, false)]
    [InlineData("TIMESTAMP", ColumnType.Date, false)]
    [InlineData("BOOLEAN", ColumnType.Boolean, false)]
    [InlineData("TINYINT(1)", ColumnType.Boolean, false)]
    [InlineData("JSON", ColumnType.Json, false)]
    [InlineData("", ColumnType.Unknown, false)]
    [InlineData("WHATEVER", ColumnType.Unknown, false)]
    public void Maps_sqlite_declared_types(string declared, ColumnType type, bool isInteger) =>
        Assert.Equal((type, isInteger), SqliteSchemaReader.MapType(declared));

    [Fact]
    public void Parses_sqlite_check_enums()
    {
        var enums = SqliteSchemaReader.ParseCheckEnums(
            "CREATE TABLE \"User\" (role TEXT CHECK (role IN ('ADMIN','USER')), \"kind\" TEXT CHECK(\"kind\" in ('a', 'b''c')), n INT CHECK (n > 0))");
        Assert.Equal(["ADMIN", "USER"], enums["role"]);
        Assert.Equal(["a", "b'c"], enums["kind"]);
        Assert.False(enums.ContainsKey("n"));
    }
}
