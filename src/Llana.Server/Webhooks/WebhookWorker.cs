using System.Collections.Concurrent;
using System.Data.Common;
using Llana.Core.Webhooks;
using Llana.Data.Webhooks;

namespace Llana.Server.Webhooks;

/// Delivers the queue in `_llana_webhook_log` (spec §9.3, with its recommendations). Every node runs one: it claims due
/// rows (each row goes to one node at a time, see <see cref="WebhookStore"/>), sends them through
/// <see cref="WebhookSender"/> and records each attempt. Writes through this node wake it at once; rows queued
/// elsewhere are seen within `WEBHOOK_POLL_INTERVAL`. A node that stops hands its unfinished rows back; a node that
/// dies leaves them to be taken again when their lease ends.
internal sealed partial class WebhookWorker(WebhookQueue queue, TimeProvider time, Http.LlanaMetrics metrics, ILogger<WebhookWorker> logger) : BackgroundService
{
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);
    private const int MaxClaim = 100;

    private readonly WebhookOptions _options = queue.Options;
    private readonly ConcurrentDictionary<long, QueuedDelivery> _inFlight = new();
    private readonly ConcurrentDictionary<long, int> _perWebhook = new();
    private DateTimeOffset _nextPurge = DateTimeOffset.MinValue;

    // Deliveries held by this node, waiting for a retry included.
    private int MaxInFlight => _options.Concurrency * 4;

    // One webhook's deliveries hold at most a quarter of the request slots: a receiver that hangs cannot stop the others.
    private int MaxPerWebhook => Math.Max(1, _options.Concurrency / 4);

    /// How long a claimed row stays this node's before another may take it: an attempt, a wait for a free slot, margin.
    private TimeSpan Lease => (_options.Timeout * 2) + TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.Disabled || !_options.Deliver)
        {
            return;
        }

        using var sender = new WebhookSender(_options, time);
        metrics.Observe("llana.webhooks.in_flight", () => _inFlight.Count, "{delivery}", "Webhook deliveries this node holds (sending or waiting for a retry)");
        var running = new ConcurrentDictionary<Task, byte>();
        if (_options.Secret is null && queue.Store is not null)
        {
            LogUnsigned(logger);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var full = false;
            try
            {
                if (queue.Store is { } store)
                {
                    await PurgeAsync(store, stoppingToken);
                    // Claims come in batches: one claim per finished delivery would be a query per delivery.
                    var room = Math.Min(MaxClaim, MaxInFlight - _inFlight.Count);
                    if (room > 0 && (room >= Math.Min(MaxClaim, MaxInFlight) / 4 || _inFlight.IsEmpty))
                    {
                        var now = time.GetUtcNow().UtcDateTime;
                        var busy = _perWebhook.Where(p => p.Value >= MaxPerWebhook).Select(p => p.Key).ToList();
                        var claimed = await store.ClaimAsync(room, busy, now, now + Lease, stoppingToken);
                        foreach (var delivery in claimed)
                        {
                            _inFlight[delivery.Id] = delivery;
                            _perWebhook.AddOrUpdate(delivery.WebhookId, 1, (_, n) => n + 1);
                            var task = DeliverAsync(store, sender, delivery, stoppingToken);
                            running[task] = 0;
                            _ = task.ContinueWith(t => running.TryRemove(t, out _), TaskScheduler.Default);
                        }

                        full = claimed.Count == room;
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException)
            {
                LogClaimFailed(logger, e.Message);
            }

            // More may be due at once; otherwise sleep until a write here or the next poll.
            if (!full)
            {
                await queue.WaitAsync(_options.PollInterval, stoppingToken);
            }
        }

        await Task.WhenAll(running.Keys);
        if (queue.Store is { } last && !_inFlight.IsEmpty)
        {
            // Unfinished deliveries go back to the queue at once, for the next node or the next start.
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await last.ReleaseAsync(_inFlight.Keys.ToList(), time.GetUtcNow().UtcDateTime, timeout.Token);
            }
            catch (Exception e) when (e is DbException or OperationCanceledException or InvalidOperationException)
            {
                LogClaimFailed(logger, e.Message);
            }
        }
    }

    private async Task DeliverAsync(WebhookStore store, WebhookSender sender, QueuedDelivery delivery, CancellationToken ct)
    {
        var finished = false;
        try
        {
            var method = await queue.MethodAsync(delivery.WebhookId, ct);
            var body = await queue.BodyAsync(delivery, ct);
            var (outcome, attempt) = await sender.SendAsync(delivery, method, body, async (failed, result, delay) =>
            {
                // Recorded before the wait: the row shows the failure and stays this node's until the next attempt is over.
                LogRetry(logger, delivery.Id, failed, result.Status, delay.TotalSeconds);
                metrics.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("outcome", "retried"));
                var next = time.GetUtcNow().UtcDateTime + delay + Lease;
                await Record(store, delivery.Id, failed + 1, result, next, null, ct);
            }, ct);
            var now = time.GetUtcNow().UtcDateTime;
            metrics.WebhookAttempts.Add(1, new KeyValuePair<string, object?>("outcome", outcome.Delivered ? "delivered" : "failed"));
            if (!outcome.Delivered)
            {
                LogGaveUp(logger, delivery.Id, attempt, outcome.Status, outcome.Message);
            }

            // Recorded even when the node is stopping: the receiver has it, and a row handed back would be sent again.
            using var recording = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await Record(store, delivery.Id, attempt, outcome, null, outcome.Delivered ? now : null, recording.Token);

            finished = true;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException)
        {
            // The row stays leased and is taken again when the lease ends: sent at least once, never lost.
            LogDeliveryFailed(logger, delivery.Id, e.Message);
            finished = true;
        }
        finally
        {
            if (finished)
            {
                _inFlight.TryRemove(delivery.Id, out _);
            }

            _perWebhook.AddOrUpdate(delivery.WebhookId, 0, (_, n) => n - 1);

            // Room for another: the loop claims again without waiting for the next poll.
            queue.Notify();
        }
    }

    private static Task Record(WebhookStore store, long id, int attempt, AttemptOutcome outcome, DateTime? next, DateTime? deliveredAt, CancellationToken ct) =>
        store.RecordAsync(id, attempt, outcome.Status, outcome.Message, next, deliveredAt, ct);

    private async Task PurgeAsync(WebhookStore store, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (_options.LogDays == 0 || now < _nextPurge)
        {
            return;
        }

        _nextPurge = now + PurgeInterval;
        var deleted = await store.PurgeAsync((now - TimeSpan.FromDays(_options.LogDays)).UtcDateTime, ct);
        if (deleted > 0)
        {
            LogPurged(logger, deleted, _options.LogDays);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "WEBHOOK_SECRET is not set: webhook requests are sent without a webhook-signature header")]
    private static partial void LogUnsigned(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook queue unavailable: {Error}")]
    private static partial void LogClaimFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {Id}: attempt {Attempt} got {Status}, next in {Seconds:0.#} s")]
    private static partial void LogRetry(ILogger logger, long id, int attempt, int status, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {Id} failed after attempt {Attempt}: {Status} {Message}")]
    private static partial void LogGaveUp(ILogger logger, long id, int attempt, int status, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {Id} could not be recorded, it will be retried: {Error}")]
    private static partial void LogDeliveryFailed(ILogger logger, long id, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} records older than {Days} day(s) from _llana_webhook_log")]
    private static partial void LogPurged(ILogger logger, int count, int days);
}
