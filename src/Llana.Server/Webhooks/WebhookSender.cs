using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Llana.Core.Webhooks;
using Llana.Data.Webhooks;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Llana.Server.Webhooks;

/// What one attempt got: the status (500 when no response came, as Llana records it) and a short message.
internal sealed record AttemptOutcome(int Status, string Message, bool Transient, TimeSpan? RetryAfter = null)
{
    public bool Delivered => Status is >= 200 and < 300;
}

/// Sends one queued delivery with Polly: each attempt bounded by `WEBHOOK_TIMEOUT`; network errors, timeouts, 5xx, 408
/// and 429 retried up to `WEBHOOK_MAX_ATTEMPTS` with exponential backoff and jitter (`Retry-After` honoured); other
/// statuses final. Requests in flight are bounded by a concurrency limiter that sits inside the retry, so a delivery
/// waiting for its next attempt holds no slot. Every request is signed as Standard Webhooks specify.
internal sealed class WebhookSender : IDisposable
{
    private static readonly ResiliencePropertyKey<Func<int, AttemptOutcome, TimeSpan, ValueTask>> OnRetryKey = new("llana.webhook.retry");
    private const int MaxMessageBytes = 1024;

    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly HttpClient _http;
    private readonly ConcurrencyLimiter _limiter;
    private readonly ResiliencePipeline<AttemptOutcome>[] _pipelines;

    public WebhookSender(WebhookOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = (context, ct) => ConnectAsync(context.DnsEndPoint, options.AllowPrivateNetworks, ct),
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Llana-Webhooks/1");
        _limiter = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.Concurrency,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });

        // One pipeline per number of attempts left: a delivery resumed after a restart keeps its count.
        _pipelines = Enumerable.Range(0, options.MaxAttempts).Select(BuildPipeline).ToArray();
    }

    /// Sends <paramref name="delivery"/> until it is delivered, fails for good or runs out of attempts.
    /// <paramref name="onRetry"/> sees each failed attempt that will be retried (its number, outcome, and the wait).
    /// <paramref name="stopping"/> ends a wait (for a free slot or a retry) at once, but an attempt under way is given
    /// up to <see cref="StopGrace"/> to finish: cancelled mid-request, the receiver may have acted on it and would get it
    /// again from the next node.
    public async Task<(AttemptOutcome Outcome, int Attempt)> SendAsync(
        QueuedDelivery delivery, string method, byte[] body, Func<int, AttemptOutcome, TimeSpan, ValueTask> onRetry, CancellationToken stopping)
    {
        var first = Math.Clamp(delivery.Attempt, 1, _options.MaxAttempts);
        var attempt = first;
        using var drain = new Drain(stopping);
        var context = ResilienceContextPool.Shared.Get(drain.Token);
        context.Properties.Set(OnRetryKey, async (index, outcome, delay) =>
        {
            attempt = first + index + 1;
            await onRetry(first + index, outcome, delay);
        });
        try
        {
            var outcome = await _pipelines[_options.MaxAttempts - first].ExecuteAsync(
                static (ctx, state) => state.Drain.AttemptAsync(state.Sender, state.Delivery, state.Method, state.Body, ctx.CancellationToken),
                context, (Sender: this, Delivery: delivery, Method: method, Body: body, Drain: drain));
            return (outcome, attempt);
        }
        catch (TimeoutRejectedException)
        {
            return (TimedOut, attempt);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// The token a delivery's waits and attempts run under: cancelled when the node stops, or, while an attempt is under
    /// way, when it ends or <see cref="StopGrace"/> has passed; no attempt starts once the node is stopping.
    /// How long a stopping node waits for an attempt under way. Receivers answer in milliseconds; one that hangs is
    /// cancelled after this and its row handed back, so a stop never takes `WEBHOOK_TIMEOUT`. On the real clock: it
    /// bounds a shutdown, not a delivery.
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    private sealed class Drain : IDisposable
    {
        private readonly CancellationTokenSource _cancel = new();
        private readonly CancellationToken _stopping;
        private readonly CancellationTokenRegistration _onStop;
        private readonly Lock _lock = new();
        private bool _attempting;

        public Drain(CancellationToken stopping)
        {
            _stopping = stopping;
            _onStop = stopping.Register(CancelIfIdle);
        }

        public CancellationToken Token => _cancel.Token;

        public async ValueTask<AttemptOutcome> AttemptAsync(WebhookSender sender, QueuedDelivery delivery, string method, byte[] body, CancellationToken ct)
        {
            lock (_lock)
            {
                _stopping.ThrowIfCancellationRequested();
                _attempting = true;
            }

            try
            {
                return await sender.AttemptAsync(delivery, method, body, ct);
            }
            finally
            {
                lock (_lock)
                {
                    _attempting = false;
                }

                if (_stopping.IsCancellationRequested)
                {
                    _cancel.Cancel();
                }
            }
        }

        private void CancelIfIdle()
        {
            lock (_lock)
            {
                if (_attempting)
                {
                    _cancel.CancelAfter(StopGrace);
                    return;
                }
            }

            _cancel.Cancel();
        }

        public void Dispose()
        {
            _onStop.Dispose();
            _cancel.Dispose();
        }
    }

    private ResiliencePipeline<AttemptOutcome> BuildPipeline(int retries)
    {
        var builder = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = _time };
        if (retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                MaxRetryAttempts = retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryDelay,
                MaxDelay = _options.MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result?.Transient == true || args.Outcome.Exception is TimeoutRejectedException),
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result?.RetryAfter is { } after
                    ? (TimeSpan?)(after < _options.MaxRetryDelay ? after : _options.MaxRetryDelay)
                    : null),
                OnRetry = args => args.Context.Properties.TryGetValue(OnRetryKey, out var report)
                    ? report(args.AttemptNumber, args.Outcome.Result ?? TimedOut, args.RetryDelay)
                    : ValueTask.CompletedTask,
            });
        }

        // The timeout is inside the limiter: waiting for a free slot is not the receiver's time.
        return builder.AddRateLimiter(_limiter).AddTimeout(_options.Timeout).Build();
    }

    private AttemptOutcome TimedOut => new(500, $"No response within {_options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s (WEBHOOK_TIMEOUT)", Transient: true);

    /// One request, cancelled by the pipeline's timeout. A refused address or a network error is an outcome.
    private async ValueTask<AttemptOutcome> AttemptAsync(QueuedDelivery delivery, string method, byte[] body, CancellationToken ct)
    {
        try
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), delivery.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            Sign(request, delivery, body);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var status = (int)response.StatusCode;
            var message = response.ReasonPhrase ?? response.StatusCode.ToString();
            if (status is < 200 or >= 300)
            {
                // The receiver's explanation, read only up to a small bound.
                if (await ReadSomeAsync(response, ct) is { Length: > 0 } text)
                {
                    message += ": " + text;
                }
            }

            var transient = status is >= 500 or 408 or 429;
            return new AttemptOutcome(status, message, transient, transient ? RetryAfter(response) : null);
        }
        catch (HttpRequestException e) when (e.InnerException is RefusedAddressException refused)
        {
            return new AttemptOutcome(500, refused.Message, Transient: false);
        }
        catch (HttpRequestException e)
        {
            return new AttemptOutcome(500, e.Message, Transient: true);
        }
        catch (Exception e) when (e is InvalidOperationException or UriFormatException or NotSupportedException or ArgumentException)
        {
            // Not a URL this client can send to: no attempt will do better.
            return new AttemptOutcome(500, "Invalid webhook URL: " + e.Message, Transient: false);
        }
    }

    /// Standard Webhooks: `webhook-id` (the same on every attempt, for receivers to drop duplicates),
    /// `webhook-timestamp` (this attempt, Unix seconds) and `webhook-signature` = `v1,` + base64 HMAC-SHA256 of
    /// `id.timestamp.body` with `WEBHOOK_SECRET`.
    private void Sign(HttpRequestMessage request, QueuedDelivery delivery, byte[] body)
    {
        var id = MessageId(delivery);
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", timestamp);
        if (_options.Secret is { } secret)
        {
            request.Headers.Add("webhook-signature", "v1," + Signature(secret, id, timestamp, body));
        }
    }

    public static string MessageId(QueuedDelivery delivery) => "msg_" + delivery.Id.ToString(CultureInfo.InvariantCulture);

    public static string Signature(byte[] secret, string id, string timestamp, byte[] body)
    {
        var prefix = Encoding.UTF8.GetBytes(id + "." + timestamp + ".");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content, prefix.Length);
        return Convert.ToBase64String(HMACSHA256.HashData(secret, content));
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private static async Task<string> ReadSomeAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[MaxMessageBytes];
            var read = 0;
            while (read < buffer.Length && await stream.ReadAsync(buffer.AsMemory(read), ct) is > 0 and var n)
            {
                read += n;
            }

            return Encoding.UTF8.GetString(buffer, 0, read).Trim();
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return string.Empty;
        }
    }

    /// Connects to the first address that may be used. Checked for every connection, after DNS: a name that resolved
    /// to a public address when the webhook was made cannot later lead the server into its own network.
    private static async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, bool allowPrivate, CancellationToken ct)
    {
        var addresses = IPAddress.TryParse(endpoint.Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(endpoint.Host, ct);
        var usable = allowPrivate ? addresses : addresses.Where(IsPublic).ToArray();
        if (usable.Length == 0)
        {
            throw new RefusedAddressException(addresses.Length == 0
                ? $"{endpoint.Host} does not resolve"
                : $"Refused: {endpoint.Host} resolves to a loopback, private or link-local address (set WEBHOOK_ALLOW_PRIVATE_NETWORKS=true to allow)");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(usable, endpoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    internal static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b6 = address.GetAddressBytes();
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (b6[0] & 0xFE) == 0xFC);
        }

        var b = address.GetAddressBytes();
        return !(b[0] == 10 || b[0] == 0 || b[0] >= 224
            || (b[0] == 172 && b[1] is >= 16 and <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] is >= 64 and <= 127));
    }

    public void Dispose()
    {
        _http.Dispose();
        _limiter.Dispose();
    }

    private sealed class RefusedAddressException(string message) : IOException(message);
}
