using System.Text;
using Llana.Core.Options;
using Microsoft.Extensions.Configuration;

namespace Llana.Core.Webhooks;

/// Webhook settings: Llana's `DISABLE_WEBHOOKS`, `WEBHOOK_LOG_DAYS` and `CACHE_WEBHOOKS_TTL`, and ours for delivery.
public sealed class WebhookOptions
{
    /// `DISABLE_WEBHOOKS=true`: no tables, nothing queued, nothing sent.
    public bool Disabled { get; init; }

    /// `WEBHOOK_DELIVERY=false`: this node queues deliveries for its writes but sends none (API nodes beside
    /// delivery nodes on one database).
    public bool Deliver { get; init; } = true;

    /// `WEBHOOK_TIMEOUT`: how long one attempt may take, from connecting to the response headers.
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// `WEBHOOK_MAX_ATTEMPTS`: attempts per delivery before it is given up (Llana: 5).
    public int MaxAttempts { get; init; } = 5;

    /// `WEBHOOK_RETRY_DELAY`: the first retry's typical delay; each further one about doubles (with jitter).
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// No retry waits longer than this, whatever the backoff or a receiver's `Retry-After` say.
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromHours(1);

    /// `WEBHOOK_CONCURRENCY`: requests in flight at once on this node.
    public int Concurrency { get; init; } = 32;

    /// `WEBHOOK_SECRET`: the Standard Webhooks signing key (`whsec_` + base64, or any text of 16 bytes or more).
    public byte[]? Secret { get; init; }

    /// `WEBHOOK_ALLOW_PRIVATE_NETWORKS`: may a webhook reach loopback, private or link-local addresses? Default: not in
    /// production (a webhook would otherwise let its creator probe the server's own network).
    public bool AllowPrivateNetworks { get; init; } = true;

    /// `WEBHOOK_LOG_DAYS`: log rows older than this are deleted at start and then every hour (0: never).
    public int LogDays { get; init; } = 1;

    /// `WEBHOOK_INCLUDE_ROW=true`: the body carries `row`, the record as it is when it is sent, with the fields the
    /// webhook's owner may read.
    public bool IncludeRow { get; init; }

    /// `CACHE_WEBHOOKS_TTL`: how long webhook definitions are kept in memory. Writes through the API (on any node of a
    /// cluster) apply at once; this bounds how long an edit made outside the API goes unseen.
    public TimeSpan CacheTtl { get; init; } = TimeSpan.FromSeconds(10);

    /// `WEBHOOK_POLL_INTERVAL`: how often a node looks for due deliveries (writes through this node wake it at once).
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    public static WebhookOptions From(IConfiguration config, LlanaOptions llana)
    {
        ArgumentNullException.ThrowIfNull(llana);
        string? Get(string name) => LlanaOptions.Setting(config, name);

        return new WebhookOptions
        {
            Disabled = llana.DisableWebhooks,
            Deliver = Get("WEBHOOK_DELIVERY") != "false",
            Timeout = Positive(LlanaOptions.Duration(Get("WEBHOOK_TIMEOUT"), "WEBHOOK_TIMEOUT", TimeSpan.FromSeconds(10)), "WEBHOOK_TIMEOUT"),
            MaxAttempts = LlanaOptions.Integer(Get("WEBHOOK_MAX_ATTEMPTS"), "WEBHOOK_MAX_ATTEMPTS", 5, 1, 100),
            RetryDelay = Positive(LlanaOptions.Duration(Get("WEBHOOK_RETRY_DELAY"), "WEBHOOK_RETRY_DELAY", TimeSpan.FromSeconds(10)), "WEBHOOK_RETRY_DELAY"),
            Concurrency = LlanaOptions.Integer(Get("WEBHOOK_CONCURRENCY"), "WEBHOOK_CONCURRENCY", 32, 1, 1000),
            Secret = ParseSecret(Get("WEBHOOK_SECRET")),
            AllowPrivateNetworks = Get("WEBHOOK_ALLOW_PRIVATE_NETWORKS") is { } allow ? allow == "true" : !llana.IsProduction,
            LogDays = LlanaOptions.Integer(Get("WEBHOOK_LOG_DAYS"), "WEBHOOK_LOG_DAYS", 1, 0, 36_500),
            IncludeRow = Get("WEBHOOK_INCLUDE_ROW") == "true",
            CacheTtl = LlanaOptions.Duration(Get("CACHE_WEBHOOKS_TTL"), "CACHE_WEBHOOKS_TTL", TimeSpan.FromSeconds(10)),
            PollInterval = Positive(LlanaOptions.Duration(Get("WEBHOOK_POLL_INTERVAL"), "WEBHOOK_POLL_INTERVAL", TimeSpan.FromSeconds(1)), "WEBHOOK_POLL_INTERVAL"),
        };
    }

    private static TimeSpan Positive(TimeSpan value, string name) =>
        value > TimeSpan.Zero ? value : throw new OptionsException(name, "0", "must be more than 0");

    private static byte[]? ParseSecret(string? value)
    {
        if (value is null)
        {
            return null;
        }

        byte[] key;
        if (value.StartsWith("whsec_", StringComparison.Ordinal))
        {
            try
            {
                key = Convert.FromBase64String(value["whsec_".Length..]);
            }
            catch (FormatException)
            {
                throw new OptionsException("WEBHOOK_SECRET", null, "must be whsec_ followed by base64, or plain text");
            }
        }
        else
        {
            key = Encoding.UTF8.GetBytes(value);
        }

        return key.Length >= 16 ? key : throw new OptionsException("WEBHOOK_SECRET", null, "must be at least 16 bytes long (24 random bytes recommended)");
    }
}
