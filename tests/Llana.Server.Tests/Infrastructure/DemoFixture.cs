using Llana.Data;
using Llana.Data.Demo;
using Llana.Testing;

namespace Llana.Server.Tests.Infrastructure;

/// A fresh demo database on one engine, with a server over it, shared by the tests of one class.
public abstract class DemoFixture(DatabaseKind kind) : IAsyncLifetime
{
    public DatabaseKind Kind => kind;

    public TestDatabase Database { get; private set; } = null!;

    public LlanaServer Server { get; private set; } = null!;

    public HttpClient Http => Server.Http;

    public async Task InitializeAsync()
    {
        Database = await TestDatabase.CreateAsync(kind);
        await using (var connection = await Database.OpenAsync())
        {
            await DemoDatabase.EnsureCreatedAsync(connection, kind, CancellationToken.None);
        }

        Server = await LlanaServer.StartAsync(Database.Uri);
    }

    /// Another server over the same database with extra settings (e.g. SOFT_DELETE_COLUMN).
    public Task<LlanaServer> StartServerAsync(IReadOnlyDictionary<string, string?> settings) => LlanaServer.StartAsync(Database.Uri, settings);

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Database.DisposeAsync();
    }
}

public sealed class SqliteDemo() : DemoFixture(DatabaseKind.Sqlite);

public sealed class PostgresDemo() : DemoFixture(DatabaseKind.Postgres);

public sealed class MySqlDemo() : DemoFixture(DatabaseKind.MySql);
