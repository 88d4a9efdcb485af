using Llana.Data;
using Llana.Data.Demo;
using Llana.Testing;

namespace Llana.Server.Tests.Infrastructure;

/// A fresh demo database on one engine, with a server over it, shared by the tests of one class.
/// <paramref name="settings"/> configure every server of the fixture (default: `SKIP_AUTH=true`, the open server
/// the REST suite describes).
public abstract class DemoFixture(DatabaseKind kind, IReadOnlyDictionary<string, string?>? settings = null) : IAsyncLifetime
{
    private readonly IReadOnlyDictionary<string, string?> _settings = settings ?? new Dictionary<string, string?> { ["SKIP_AUTH"] = "true" };

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

        Server = await LlanaServer.StartAsync(Database.Uri, _settings);
    }

    /// Another server over the same database with extra settings (e.g. SOFT_DELETE_COLUMN) on top of the fixture's.
    public Task<LlanaServer> StartServerAsync(IReadOnlyDictionary<string, string?> extra)
    {
        var all = new Dictionary<string, string?>(_settings);
        foreach (var (k, v) in extra)
        {
            all[k] = v;
        }

        return LlanaServer.StartAsync(Database.Uri, all);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Database.DisposeAsync();
    }
}

public sealed class SqliteDemo() : DemoFixture(DatabaseKind.Sqlite);

public sealed class PostgresDemo() : DemoFixture(DatabaseKind.Postgres);

public sealed class MySqlDemo() : DemoFixture(DatabaseKind.MySql);

/// Authentication on (Llana's defaults), login rate limit off so suites can log in freely.
public static class AuthSettings
{
    public static readonly IReadOnlyDictionary<string, string?> Default = new Dictionary<string, string?> { ["AUTH_LOGIN_RATE_LIMIT"] = "0" };
}

public sealed class SqliteAuthDemo() : DemoFixture(DatabaseKind.Sqlite, AuthSettings.Default);

public sealed class PostgresAuthDemo() : DemoFixture(DatabaseKind.Postgres, AuthSettings.Default);

public sealed class MySqlAuthDemo() : DemoFixture(DatabaseKind.MySql, AuthSettings.Default);
