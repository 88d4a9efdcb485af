using System.Text.Json.Nodes;
using Llana.Core.Auth;
using Llana.Core.Options;
using Llana.Data.Schema;
using Microsoft.OpenApi;

namespace Llana.Server.Http;

/// `/openapi.json`: an OpenAPI 3.1 document of what one caller may use, built from the live schema with the
/// Microsoft.OpenApi object model and written by its writer. Every table route with its parameters (fields, relations,
/// sort, paging, and a filter per column: `col=value` or `col[operator]=value`), request bodies and responses.
internal static class OpenApiDocumentBuilder
{
    private static readonly string[] Operators = ["equals", "not_equals", "lt", "lte", "gt", "gte", "like", "not_like", "in", "not_in", "null", "not_null", "search"];

    public static string Write(IReadOnlyList<(TableSchema Table, AccessLevel Level)> tables, bool hasProfile, LlanaOptions options, string version)
    {
        var document = Build(tables, hasProfile, options, version);
        using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        document.SerializeAsV31(new OpenApiJsonWriter(text));
        return text.ToString();
    }

    public static OpenApiDocument Build(IReadOnlyList<(TableSchema Table, AccessLevel Level)> tables, bool hasProfile, LlanaOptions options, string version)
    {
        var document = new OpenApiDocument
        {
            Info = new OpenApiInfo { Title = "Api Documentation", Version = version },
            Paths = [],
            Components = new OpenApiComponents
            {
                Schemas = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal),
                SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal)
                {
                    ["bearerAuth"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "JWT" },
                    ["apiKeyAuth"] = new OpenApiSecurityScheme
                    {
                        Type = SecuritySchemeType.ApiKey,
                        Name = options.Auth.ApiKeyName,
                        In = options.Auth.ApiKeyLocation switch
                        {
                            ApiKeyLocation.Query => ParameterLocation.Query,
                            ApiKeyLocation.Body => ParameterLocation.Header, // OpenAPI has no body location for keys
                            _ => ParameterLocation.Header,
                        },
                    },
                },
            },
        };
        document.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearerAuth", document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("apiKeyAuth", document)] = [] },
        ];

        AddAuth(document, hasProfile);
        foreach (var (table, level) in tables)
        {
            AddTable(document, table, level);
        }

        return document;
    }

    /// A tag declared once in the document, for the operations of one table (or of authentication).
    private static (string Name, OpenApiDocument Document) Tag(OpenApiDocument document, string name)
    {
        (document.Tags ??= new HashSet<OpenApiTag>()).Add(new OpenApiTag { Name = name });
        return (name, document);
    }

    private static void AddAuth(OpenApiDocument document, bool hasProfile)
    {
        var tag = Tag(document, "Authentication");
        var login = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Required = new HashSet<string>(["username", "password"], StringComparer.Ordinal),
            Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
            {
                ["username"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["password"] = new OpenApiSchema { Type = JsonSchemaType.String, WriteOnly = true },
            },
        };
        var tokens = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
            {
                ["access_token"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["expires_in"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Description = "Seconds" },
                ["refresh_token_expires_in"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Description = "Seconds" },
            },
        };
        document.Paths["/auth/login"] = Item((HttpMethod.Post, Operation("Log in (also sets the accessToken and refreshToken cookies)", tag, Body(login), ("200", "Signed in", tokens), ("401", "Wrong username or password", null), ("429", "Too many attempts (see Retry-After)", null))));
        document.Paths["/auth/refresh"] = Item((HttpMethod.Post, Operation("New tokens from the refreshToken cookie", tag, null, ("200", "Refreshed", tokens), ("401", "No valid refresh token", null))));
        document.Paths["/auth/logout"] = Item((HttpMethod.Post, Operation("Clear the auth cookies", tag, null, ("200", "Signed out", null))));
        if (hasProfile)
        {
            document.Paths["/auth/profile"] = Item((HttpMethod.Get, Operation("The signed-in user", tag, null, ("200", "The user (without its password)", new OpenApiSchema { Type = JsonSchemaType.Object }), ("401", "Not signed in", null))));
        }
    }

    private static void AddTable(OpenApiDocument document, TableSchema table, AccessLevel level)
    {
        var name = table.Table;
        document.Components!.Schemas![name] = RowSchema(table);
        var row = new OpenApiSchemaReference(name, document);
        var rows = new OpenApiSchema { Type = JsonSchemaType.Array, Items = row };
        var oneOrMany = new OpenApiSchema { OneOf = [row, rows] };
        var page = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
            {
                ["limit"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["offset"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["total"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["pagination"] = new OpenApiSchema { Type = JsonSchemaType.Object },
                ["data"] = rows,
            },
        };
        var bulk = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
            {
                ["total"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["successful"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["errored"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["errors"] = new OpenApiSchema { Type = JsonSchemaType.Array },
                ["data"] = rows,
            },
        };

        var id = new OpenApiParameter { Name = "id", In = ParameterLocation.Path, Required = true, Schema = new OpenApiSchema { Type = JsonSchemaType.String }, Description = $"Primary key ({table.PrimaryKey})" };
        var read = new List<IOpenApiParameter> { Query("fields", "Comma list of columns to return"), Query("relations", "Comma list of related tables to embed") };
        var list = new List<IOpenApiParameter>(read)
        {
            Query("sort", "Comma list of column.asc or column.desc"),
            Query("limit", "Rows per page", JsonSchemaType.Integer),
            Query("offset", "Rows to skip", JsonSchemaType.Integer),
            Query("page", "Page token from pagination.page"),
        };
        foreach (var column in table.Columns.Where(c => !c.WriteOnly))
        {
            list.Add(Filter(column));
        }

        var collection = new List<(HttpMethod, OpenApiOperation)>();
        var one = new List<(HttpMethod, OpenApiOperation)>();
        var tag = Tag(document, name);
        if (level >= AccessLevel.Read)
        {
            collection.Add((HttpMethod.Get, Operation($"List {name}", tag, null, ("200", "A page of rows", page)).With(list)));
            one.Add((HttpMethod.Get, Operation($"Get one {name}", tag, null, ("200", "The row", row), ("204", "Not found or not yours", null)).With([id, .. read])));
        }

        if (level >= AccessLevel.Write)
        {
            collection.Add((HttpMethod.Post, Operation($"Create {name} (one or many)", tag, Body(oneOrMany), ("201", "Created (an array in, a bulk result out)", oneOrMany))));
            foreach (var method in new[] { HttpMethod.Put, HttpMethod.Patch })
            {
                collection.Add((method, Operation($"Update many {name} (each with its {table.PrimaryKey})", tag, Body(rows), ("200", "Bulk result", bulk))));
                one.Add((method, Operation($"Update one {name}", tag, Body(row), ("200", "The updated row", row)).With([id])));
            }
        }

        if (level >= AccessLevel.Delete)
        {
            collection.Add((HttpMethod.Delete, Operation($"Delete many {name} (each with its {table.PrimaryKey})", tag, Body(rows), ("200", "Bulk result", bulk))));
            one.Add((HttpMethod.Delete, Operation($"Delete one {name}", tag, null, ("200", "Deleted", new OpenApiSchema { Type = JsonSchemaType.Object })).With([id])));
        }

        document.Paths[$"/{name}/"] = Item([.. collection]);
        document.Paths[$"/{name}/{{id}}"] = Item([.. one]);
        if (level >= AccessLevel.Read)
        {
            document.Paths[$"/{name}/schema"] = Item((HttpMethod.Get, Operation($"Schema of {name}", tag, null, ("200", "Columns and relations", new OpenApiSchema { Type = JsonSchemaType.Object }))));
        }
    }

    private static OpenApiSchema RowSchema(TableSchema table)
    {
        var properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        foreach (var column in table.Columns)
        {
            var type = column.Type switch
            {
                ColumnType.Number => JsonSchemaType.Number,
                ColumnType.Boolean => JsonSchemaType.Boolean,
                ColumnType.Json => JsonSchemaType.Object | JsonSchemaType.Array,
                _ => JsonSchemaType.String,
            };
            var schema = new OpenApiSchema
            {
                Type = column.Nullable ? type | JsonSchemaType.Null : type,
                Format = column.Type == ColumnType.Date ? "date-time" : null,
                ReadOnly = column.AutoIncrement,
                WriteOnly = column.WriteOnly,
            };
            if (column.Enums is { Count: > 0 } values)
            {
                schema.Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))];
            }

            properties[column.Field] = schema;
        }

        return new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = properties,

            // What a create must carry: non-null columns the database does not fill itself.
            Required = new HashSet<string>(table.Columns.Where(c => !c.Nullable && !c.AutoIncrement && c.Default is null).Select(c => c.Field), StringComparer.Ordinal),
        };
    }

    private static OpenApiParameter Query(string name, string description, JsonSchemaType type = JsonSchemaType.String) =>
        new() { Name = name, In = ParameterLocation.Query, Description = description, Schema = new OpenApiSchema { Type = type } };

    /// `col=value` (equals) or `col[operator]=value`: one deepObject parameter per column.
    private static OpenApiParameter Filter(ColumnSchema column) => new()
    {
        Name = column.Field,
        In = ParameterLocation.Query,
        Style = ParameterStyle.DeepObject,
        Explode = true,
        Description = $"Filter: `{column.Field}=value` (equals) or `{column.Field}[operator]=value` with operator one of {string.Join(", ", Operators)}; in/not_in take a comma list, null/not_null no value",
        Schema = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = Operators.ToDictionary(o => o, IOpenApiSchema (_) => new OpenApiSchema { Type = JsonSchemaType.String }, StringComparer.Ordinal),
        },
    };

    private static OpenApiRequestBody Body(IOpenApiSchema schema) => new()
    {
        Required = true,
        Content = new Dictionary<string, IOpenApiMediaType>(StringComparer.Ordinal) { ["application/json"] = new OpenApiMediaType { Schema = schema } },
    };

    private static OpenApiOperation Operation(string summary, (string Name, OpenApiDocument Document) tag, OpenApiRequestBody? body, params (string Status, string Description, IOpenApiSchema? Schema)[] responses)
    {
        var operation = new OpenApiOperation
        {
            Summary = summary,
            Tags = new HashSet<OpenApiTagReference> { new(tag.Name!, tag.Document) },
            RequestBody = body,
            Responses = [],
        };
        foreach (var (status, description, schema) in responses)
        {
            operation.Responses[status] = new OpenApiResponse
            {
                Description = description,
                Content = schema is null ? null : new Dictionary<string, IOpenApiMediaType>(StringComparer.Ordinal) { ["application/json"] = new OpenApiMediaType { Schema = schema } },
            };
        }

        return operation;
    }

    private static OpenApiOperation With(this OpenApiOperation operation, List<IOpenApiParameter> parameters)
    {
        operation.Parameters = parameters;
        return operation;
    }

    private static OpenApiPathItem Item(params (HttpMethod Method, OpenApiOperation Operation)[] operations) =>
        new() { Operations = operations.ToDictionary(o => o.Method, o => o.Operation) };
}
