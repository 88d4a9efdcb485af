using System.Diagnostics;
using System.Globalization;
using Llana.Data;
using Llana.Server.Capture;
using Llana.Server.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using MySqlConnector;

namespace Llana.Server.Tests;

/// `REALTIME_SOURCE=database` on MySQL/MariaDB and SQLite (issue: change capture): triggers feed `_llana_changes`, one
/// node reads it, and writes made by any connection (the databases' own command-line clients here) reach socket.io
/// clients once, in order.
public abstract class TriggerSourceSpec(DatabaseKind kind) : CaptureTests(kind)
{
    /// Runs SQL with the database's own command-line client (`sqlite3`, `mariadb`): a writer the server knows nothing of.
    protected async Task<string> ClientAsync(string sql)
    {
        ProcessStartInfo start;
        if (Kind == DatabaseKind.Sqlite)
        {
            start = new ProcessStartInfo("sqlite3", ["-cmd", ".timeout 10000", new SqliteConnectionStringBuilder(Database.ConnectionString).DataSource, sql]);
        }
        else
        {
            var c = new MySqlConnectionStringBuilder(Database.ConnectionString);
            start = new ProcessStartInfo("mariadb", ["-h", c.Server, "-P", c.Port.ToString(CultureInfo.InvariantCulture), "-u", c.UserID, $"-p{c.Password}", "-N", "-B", c.Database, "-e", sql]);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{start.FileName} failed: {error}");
        return output.Trim();
    }

    /// Inserts a customer on a connection of the test's own and returns its id.
    protected override async Task<string> InsertAsync(string name) =>
        Convert.ToString(await Database.ScalarAsync($"INSERT INTO Customer (companyName, userId) VALUES ('{name.Replace("'", "''", StringComparison.Ordinal)}', 1) RETURNING custId"), CultureInfo.InvariantCulture)!;

    // MySQL: the reader's named lock; SQLite: its lock file (taken here for an instant when free).
    protected override async Task<bool> ReaderHeldAsync()
    {
        if (Kind == DatabaseKind.MySql)
        {
            return await Database.ScalarAsync("SELECT IS_USED_LOCK(LEFT(CONCAT('llana_capture:', DATABASE()), 64))") is not (null or DBNull);
        }

        try
        {
            await using var probe = new FileStream(
                new SqliteConnectionStringBuilder(Database.ConnectionString).DataSource + "-llana-capture.lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    protected static List<(string? Type, string? Id)> Events(NodeSubscriber socket) =>
        socket.Events.Where(e => e.Name == "Customer").Select(e => (e.Payload.GetProperty("type").GetString(), e.Payload.GetProperty("custId").GetString())).ToList();

    [Fact]
    public async Task Writes_of_the_databases_own_client_reach_subscribers_once_in_order()
    {
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer");

        var outside = await ClientAsync("INSERT INTO Customer (companyName, userId) VALUES ('Outside the API', 1) RETURNING custId");
        Assert.Equal($"{{\"type\":\"INSERT\",\"custId\":\"{outside}\"}}", (await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == outside)).GetRawText());

        // One transaction of three rows, then an update and a delete of two of them.
        var batch = (await ClientAsync(
            "BEGIN; INSERT INTO Customer (companyName, userId) VALUES ('Batch 0', 1), ('Batch 1', 1), ('Batch 2', 1); COMMIT; SELECT custId FROM Customer WHERE companyName LIKE 'Batch %' ORDER BY custId;"))
            .Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        await ClientAsync($"UPDATE Customer SET city = 'Oslo' WHERE custId = {batch[0]}; DELETE FROM Customer WHERE custId = {batch[1]};");

        // Through the API: exactly once (the API does not publish it a second time).
        var created = await server.Http.Post("/Customer/", new { companyName = "Through the API", userId = 1 });
        Assert.Equal(201, created.Status);
        var viaApi = created.Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture);

        var sentinel = await InsertAsync("Sentinel");
        await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == sentinel);
        Assert.Equal(
            [("INSERT", outside), ("INSERT", batch[0]), ("INSERT", batch[1]), ("INSERT", batch[2]), ("UPDATE", batch[0]), ("DELETE", batch[1]), ("INSERT", viaApi), ("INSERT", sentinel)],
            Events(socket));
    }

    [Fact]
    public async Task Rows_read_from_the_change_table_are_the_rows_the_API_returns()
    {
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer", rows: true);
        var id = await InsertAsync("O'Brien & Sons \"quoted\" ✓");
        await Database.ExecuteAsync($"UPDATE Customer SET city = 'Tromsø', region = NULL WHERE custId = {id}");

        var updated = await socket.EventAsync("Customer", p => p.GetProperty("type").GetString() == "UPDATE" && p.GetProperty("custId").GetString() == id);
        var viaApi = (await server.Http.Get($"/Customer/{id}")).Json;
        foreach (var field in viaApi.EnumerateObject())
        {
            Assert.Equal(field.Value.GetRawText(), updated.GetProperty("row").GetProperty(field.Name).GetRawText());
        }
    }

    [Fact]
    public async Task A_delete_is_judged_by_own_records_on_the_row_it_removed()
    {
        await using var server = await StartAsync(new() { ["SKIP_AUTH"] = null, ["AUTH_LOGIN_RATE_LIMIT"] = "0" });
        await server.OwnCustomersOnlyAsync("READ");
        await using var user = await server.UserSocketAsync("Customer");

        var others = Convert.ToString(await Database.ScalarAsync("INSERT INTO Customer (companyName, userId) VALUES ('Not yours', 1) RETURNING custId"), CultureInfo.InvariantCulture);
        var own = Convert.ToString(await Database.ScalarAsync("INSERT INTO Customer (companyName, userId) VALUES ('Yours', 2) RETURNING custId"), CultureInfo.InvariantCulture);
        await Database.ExecuteAsync($"DELETE FROM Customer WHERE custId IN ({others}, {own})");
        await user.EventAsync("Customer", p => p.GetProperty("type").GetString() == "DELETE" && p.GetProperty("custId").GetString() == own);
        Assert.DoesNotContain(user.Events, e => e.Payload.GetProperty("custId").GetString() == others);
    }

    [Fact]
    public async Task Webhooks_fire_once_for_every_writer_from_the_change_table_and_not_again_after_a_restart()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var settings = new Dictionary<string, string?> { ["SKIP_AUTH"] = null, ["AUTH_LOGIN_RATE_LIMIT"] = "0" };
        var ids = new List<string>();
        await using (var server = await StartAsync(settings))
        {
            using var admin = server.Admin();
            Assert.Equal(201, (await admin.Post("/webhook/", new { url = receiver.Url + "/stream", table = "Customer" })).Status);
            ids.Add(await InsertAsync("Outside the API"));
            ids.Add((await admin.Post("/Customer/", new { companyName = "Through the API", userId = 1 })).Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture));
            await receiver.WaitAsync("/stream", got => got.Count >= 2);
        }

        // A restart reads again what was not yet deleted from the table: it queues nothing again.
        await using (await StartAsync(settings))
        {
            ids.Add(await InsertAsync("Sentinel"));
            var got = await receiver.WaitAsync("/stream", got => got.Any(r => r.Json.GetProperty("custId").GetString() == ids[^1]));
            await Task.Delay(1000);
            // Deliveries run concurrently: each id once, in any order.
            Assert.Equal(ids.Order(), receiver.To("/stream").Select(r => r.Json.GetProperty("custId").GetString()).Order());
        }
    }

    /// Writes at full speed while the reader follows the table: none fails on a lock the reader holds when it commits
    /// (SQLite answered such an `INSERT … RETURNING` "database is locked", a 503, until connections waited inside SQLite).
    [Fact]
    public async Task API_writes_at_full_speed_all_succeed_and_all_arrive()
    {
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer");
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                var r = await server.Http.Post("/Customer/", new { companyName = "Full speed", userId = 1 });
                if (r.Status == 201)
                {
                    ids.Add(r.Json.GetProperty("custId").GetInt64().ToString(CultureInfo.InvariantCulture));
                }
                else
                {
                    failures.Add($"{r.Status} {r.Text}");
                }
            }
        })));
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(3)));
        await Poll.UntilAsync(() => Events(socket).Count >= ids.Count, TimeSpan.FromSeconds(15), "not every write arrived");
        Assert.Equal(ids.Order(), Events(socket).Select(e => e.Id).Order());
    }

    [Fact]
    public async Task A_transaction_of_100000_rows_and_a_row_over_1_MB_arrive()
    {
        await Database.ExecuteAsync("CREATE TABLE Document (documentId INTEGER PRIMARY KEY, body LONGTEXT)");
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer");
        var series = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)";
        await Database.ExecuteAsync(Kind == DatabaseKind.Sqlite
            ? $"{series} INSERT INTO Customer (companyName, userId) SELECT 'Bulk ' || i, 1 FROM n"
            : $"SET SESSION max_recursive_iterations = 1000000; INSERT INTO Customer (companyName, userId) {series} SELECT CONCAT('Bulk ', i), 1 FROM n");
        var sentinel = await InsertAsync("After the bulk");

        await AssertAllOrToldAsync(socket, sentinel, 100_001);

        // Then a row of 1.28 MB, whole, to a socket that asked for rows.
        await using var documents = await SubscribeAsync(server, "Document", rows: true);
        await Database.ExecuteAsync($"INSERT INTO Document (documentId, body) VALUES (1, {(Kind == DatabaseKind.Sqlite ? "printf('%.1280000c', 'x')" : "REPEAT('x', 1280000)")})");
        var document = await documents.EventAsync("Document");
        Assert.Equal(1_280_000, document.GetProperty("row").GetProperty("body").GetString()!.Length);
    }

    [Fact]
    public async Task Changes_made_while_no_node_reads_are_delivered_by_the_next_and_the_table_is_emptied()
    {
        await using (await StartAsync())
        {
        }

        var whileDown = await InsertAsync("While no node reads");
        await using var server = await StartStandbyAsync();
        using var onServer = new FeedProbe(server);
        var change = await onServer.WaitForAsync(c => c.TableName == "Customer" && c.Id == whileDown);
        Assert.Equal("While no node reads", change["companyName"]);

        // Handed off, so the table keeps nothing of it.
        await Poll.UntilAsync(
            async () => Convert.ToInt64(await Database.ScalarAsync("SELECT COUNT(*) FROM _llana_changes"), CultureInfo.InvariantCulture) == 0,
            TimeSpan.FromSeconds(10), "_llana_changes was not emptied");
    }

    [Fact]
    public async Task A_second_node_stands_by_and_takes_over_when_the_reader_stops()
    {
        var a = await StartAsync();
        await using var b = await StartStandbyAsync();
        await Task.Delay(500);
        Assert.False(b.Get<ChangeCapture>().Reading);

        // The triggers B found were the ones it would write: a start rewrites none.
        Assert.Equal(0, await new Data.Capture.ChangeTable(b.Get<Data.Database>()).EnsureAsync(b.Get<Core.Tables.SchemaCatalog>().Tables, CancellationToken.None));

        await a.DisposeAsync();
        await Poll.UntilAsync(() => b.Get<ChangeCapture>().Reading, TimeSpan.FromSeconds(30), "the standby did not take over within 30 s");
        await using var socket = await SubscribeAsync(b, "Customer");
        var id = await InsertAsync("After the takeover");
        await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == id);
    }

    [Fact]
    public async Task A_table_created_and_a_column_added_while_running_are_captured()
    {
        await using var server = await StartAsync();
        await Database.ExecuteAsync("CREATE TABLE Gadget (gadgetId INTEGER PRIMARY KEY, name VARCHAR(40))");
        await Database.ExecuteAsync("ALTER TABLE Customer ADD COLUMN tier VARCHAR(10)");
        await Poll.UntilAsync(() => server.Get<Core.Tables.SchemaCatalog>().Find("Gadget") is not null, TimeSpan.FromSeconds(15), "the schema was not read again");
        await using var gadgets = await SubscribeAsync(server, "Gadget");
        await using var customers = await SubscribeAsync(server, "Customer", rows: true);

        // Within a few seconds the new table has triggers and Customer's carry the new column.
        await Poll.UntilAsync(async () =>
        {
            await Database.ExecuteAsync("DELETE FROM Gadget WHERE gadgetId = 1; INSERT INTO Gadget (gadgetId, name) VALUES (1, 'probe')");
            await Task.Delay(200);
            return gadgets.Events.Any(e => e.Name == "Gadget");
        }, TimeSpan.FromSeconds(15), "a table created while running was not captured");
        await Poll.UntilAsync(async () =>
        {
            var id = await InsertAsync("Tiered");
            await Database.ExecuteAsync($"UPDATE Customer SET tier = 'gold' WHERE custId = {id}");
            await Task.Delay(200);
            return customers.Events.Any(e => e.Payload.TryGetProperty("row", out var row) && row.TryGetProperty("tier", out var tier) && tier.GetString() == "gold");
        }, TimeSpan.FromSeconds(15), "a column added while running did not reach the captured rows");
    }

    [Fact]
    public async Task The_triggers_and_tables_are_dropped_on_request_once_no_server_reads_them()
    {
        var settings = new Dictionary<string, string?> { ["DATABASE_URI"] = Database.Uri };
        await using (await StartAsync())
        {
            var refused = new StringWriter();
            Assert.Equal(1, await LlanaHost.DropRealtimeCaptureAsync(settings, TextWriter.Null, refused));
            Assert.Contains("being read by a running server", refused.ToString(), StringComparison.Ordinal);
        }

        var output = new StringWriter();
        Assert.Equal(0, await LlanaHost.DropRealtimeCaptureAsync(settings, output, TextWriter.Null));
        Assert.Matches("^Dropped [1-9][0-9]* change trigger", output.ToString());
        await InsertAsync("Written with no triggers left");
        var tables = Kind == DatabaseKind.Sqlite
            ? "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('_llana_changes', '_llana_capture') OR name LIKE '\\_llana\\_ins\\_%' ESCAPE '\\'"
            : "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('_llana_changes', '_llana_capture')";
        Assert.Equal(0L, Convert.ToInt64(await Database.ScalarAsync(tables), CultureInfo.InvariantCulture));
    }

}

public sealed class SqliteTriggerSourceSpec() : TriggerSourceSpec(DatabaseKind.Sqlite);

public sealed class MySqlTriggerSourceSpec() : TriggerSourceSpec(DatabaseKind.MySql)
{
    [Fact]
    public async Task Start_up_names_the_grant_when_the_user_may_not_create_triggers()
    {
        var user = "llana_notrg_" + Guid.NewGuid().ToString("N")[..8];
        await Database.ExecuteAsync($"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, INDEX ON `{Database.Name}`.* TO '{user}'@'%'");
        try
        {
            var uri = new UriBuilder(Database.Uri) { UserName = user, Password = "pw" }.Uri.ToString();
            var e = await Assert.ThrowsAsync<StartupException>(() => LlanaServer.StartAsync(uri, new Dictionary<string, string?> { ["SKIP_AUTH"] = "true", ["REALTIME_SOURCE"] = "database" }));
            Assert.Contains("GRANT TRIGGER", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            await Database.ExecuteAsync($"DROP USER '{user}'@'%'");
        }
    }

    /// A transaction that took its id first and commits last: its row shows up after a later one was read, and is read.
    [Fact]
    public async Task A_transaction_that_commits_after_a_later_one_is_still_delivered_after_it()
    {
        await using var server = await StartAsync();
        await using var socket = await SubscribeAsync(server, "Customer");

        await using var slow = await Database.OpenAsync();
        await using var transaction = await slow.BeginTransactionAsync();
        await using (var command = slow.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "INSERT INTO Customer (companyName, userId) VALUES ('Slow', 1) RETURNING custId";
            var slowId = Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture)!;

            var fast = await InsertAsync("Fast");
            await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == fast);
            await transaction.CommitAsync();
            await socket.EventAsync("Customer", p => p.GetProperty("custId").GetString() == slowId);
            Assert.Equal([("INSERT", fast), ("INSERT", slowId)], Events(socket));
            Assert.True(long.Parse(slowId, CultureInfo.InvariantCulture) < long.Parse(fast, CultureInfo.InvariantCulture));
        }
    }
}
