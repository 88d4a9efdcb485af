using Llana.Data;
using Llana.Server.Tests.Infrastructure;

namespace Llana.Server.Tests;

/// Writes the database rejects (too long, unknown foreign key) interleaved with valid writes of the same shape,
/// concurrently, through a pool of one connection: every rejected write is a 400 and every valid one succeeds
/// and is reported as such. (PostgreSQL with automatic preparation answered valid writes 500 "unexpected
/// backend message DataRow" after rejected ones, although they were saved.)
public abstract class WriteFailureSpec(DemoFixture fixture)
{
    [Fact]
    public async Task Rejected_writes_leave_pooled_connections_usable()
    {
        var uri = fixture.Kind == DatabaseKind.Sqlite ? fixture.Database.Uri : fixture.Database.Uri + "?Maximum%20Pool%20Size=1";
        await using var server = await fixture.StartServerAsync(new Dictionary<string, string?> { ["DATABASE_URI"] = uri });
        var http = server.Http;
        var tag = "wf" + Guid.NewGuid().ToString("N")[..6];
        var failures = new List<string>();
        // Each rejected update has a valid twin with the same columns, so both run the very same SQL text.
        (object Rejected, object Valid)[] updates = fixture.Kind == DatabaseKind.Sqlite
            ? [(new { userId = 999_999 }, new { userId = 1 })]
            : [(new { city = new string('x', 500) }, new { city = "Oslo" }), (new { userId = 999_999 }, new { userId = 1 })];

        async Task Worker(int w)
        {
            for (var i = 0; i < 12; i++)
            {
                var id = 1 + ((w + i) % 5);
                foreach (var (rejected, valid) in updates)
                {
                    Expect(await http.Patch($"/Customer/{id}", rejected), 400, "rejected update");
                    Expect(await http.Patch($"/Customer/{id}", valid), 200, "valid update");
                }

                Expect(await http.Post("/Customer/", new { companyName = tag, userId = 999_999 }), 400, "rejected insert");
                Expect(await http.Post("/Customer/", new { companyName = tag, userId = 1 }), 201, "valid insert");
            }
        }

        void Expect(Reply r, int status, string what)
        {
            if (r.Status != status)
            {
                lock (failures)
                {
                    failures.Add($"{what}: {r.Status} {r.Text}");
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 6).Select(Worker));
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));

        // What was reported is what was stored.
        var stored = await http.Get($"/Customer/?companyName={tag}&limit=1000&fields=custId");
        Assert.Equal(6 * 12, stored.Json.GetProperty("total").GetInt32());
        var deleted = await http.Delete("/Customer/", stored.Json.GetProperty("data").EnumerateArray().Select(r => new { custId = r.GetProperty("custId").GetInt64() }).ToArray());
        Assert.Equal(200, deleted.Status);
    }

}

public sealed class SqliteWriteFailureSpec(SqliteDemo fixture) : WriteFailureSpec(fixture), IClassFixture<SqliteDemo>;

public sealed class PostgresWriteFailureSpec(PostgresDemo fixture) : WriteFailureSpec(fixture), IClassFixture<PostgresDemo>;

public sealed class MySqlWriteFailureSpec(MySqlDemo fixture) : WriteFailureSpec(fixture), IClassFixture<MySqlDemo>;
