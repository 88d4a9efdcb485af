using System.Collections.Concurrent;
using System.Data.Common;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Webhooks;
using Llana.Data;

namespace Llana.Server.Capture;

/// `REALTIME_SOURCE=database`: a reader of the database's own record of committed changes, whoever wrote them
/// (PostgreSQL: its logical replication stream; MySQL/MariaDB and SQLite: the trigger-fed `_llana_changes` table).
/// One node reads at a time and appends what it reads to its change log (in a cluster, the link shares it like the
/// node's own changes); the others stand by and take over when it goes. A position is confirmed to the database only
/// once the changes up to it are handed off, so a restart or a takeover reads again what was not, and the change log
/// recognises what it already had by its <see cref="CapturePosition"/>.
internal abstract partial class ChangeCapture(RealtimeSource source, ILogger logger) : BackgroundService
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(2);

    /// Whether this node reads the changes (for health and tests).
    public bool Reading { get; protected set; }

    /// Before the server listens: installs or checks what reading needs, naming the fix when it cannot.
    public abstract Task PrepareAsync(CancellationToken ct);

    /// Reads until the stream ends or fails. False when another node reads: this one stands by.
    protected abstract Task<bool> ReadAsync(CancellationToken ct);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (source != RealtimeSource.Database)
        {
            return;
        }

        var standbyLogged = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await ReadAsync(stoppingToken))
                {
                    standbyLogged = false;
                }
                else if (!standbyLogged)
                {
                    LogStandby(logger);
                    standbyLogged = true;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or TimeoutException or IOException or System.Text.Json.JsonException)
            {
                LogStreamFailed(logger, e.Message);
                standbyLogged = false;
            }
            finally
            {
                Reading = false;
            }

            try
            {
                await Task.Delay(RetryInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Another node reads the database's changes: standing by to take over")]
    private static partial void LogStandby(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Change stream interrupted, resuming from the last confirmed change: {Error}")]
    protected static partial void LogStreamFailed(ILogger logger, string error);

    /// A change read from the database, before it is appended.
    protected sealed record Captured(Data.Schema.TableSchema Table, ChangeKind Kind, object?[] Row, bool Partial, long Position = 0);

    /// The webhook deliveries <paramref name="changes"/> may queue (decided in memory; empty when no webhook can fire,
    /// and then nothing is written).
    protected static async Task<List<(WriteHook Hook, object?[] Row)>> WebhooksForAsync(WebhookQueue webhooks, IEnumerable<Captured> changes, CancellationToken ct)
    {
        var hooks = new List<(WriteHook, object?[])>();
        foreach (var change in changes)
        {
            if (await webhooks.ForCapturedAsync(change.Table, change.Kind, ct) is { } hook)
            {
                hooks.Add((hook, change.Row));
            }
        }

        return hooks;
    }

    /// Queues <paramref name="hooks"/> in <paramref name="transaction"/>, which also records their changes as read, so
    /// that they are queued once. The caller wakes the delivery loop once it committed.
    protected static async Task QueueAsync(List<(WriteHook Hook, object?[] Row)> hooks, DbConnection connection, DbTransaction transaction, CancellationToken ct)
    {
        foreach (var (hook, row) in hooks)
        {
            await hook.InTransaction(connection, transaction, row, ct);
        }
    }

    /// Positions read and appended, waiting to be confirmed: a position may be confirmed once the log offset of its
    /// last change is handed off.
    protected sealed class Unconfirmed<TPosition>
    {
        private readonly ConcurrentQueue<(long Offset, TPosition Position)> _appended = new();

        public void Appended(long offset, TPosition position) => _appended.Enqueue((offset, position));

        /// The last position whose changes are all handed off since the previous call, if any.
        public bool TryConfirm(IChangeHandoff handoff, out TPosition position)
        {
            position = default!;
            var found = false;
            var safe = handoff.HandedOffUpTo;
            while (_appended.TryPeek(out var next) && next.Offset <= safe && _appended.TryDequeue(out next))
            {
                position = next.Position;
                found = true;
            }

            return found;
        }
    }

    /// The reader for <paramref name="database"/>'s kind.
    public static ChangeCapture For(IServiceProvider services, Database database) => database.Uri.Kind == DatabaseKind.Postgres
        ? ActivatorUtilities.CreateInstance<PostgresCapture>(services)
        : ActivatorUtilities.CreateInstance<TriggerCapture>(services);
}
