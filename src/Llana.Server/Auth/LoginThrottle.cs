using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Llana.Core.Options;
using Llana.Server.Http;

namespace Llana.Server.Auth;

/// The sign-in limits (`AUTH_LOGIN_RATE_LIMIT` = N per minute), in fixed one-minute windows:
/// - per account (the username, ignoring case): N attempts, successful or not, counted before the password is
///   checked. Only that account's sign-ins are held up, so an attacker on one account never blocks another.
/// - per resolved client address (<see cref="ClientAddress"/>): 10 × N failed attempts (wrong or unknown
///   credentials on `/auth/login`, an invalid refresh token on `/auth/refresh`), so that a guesser trying many
///   accounts is stopped while the correct sign-ins of people sharing an address (NAT, office) never count.
///   At most N attempts of one address are checked at a time (more queue), which bounds how far a burst can
///   overrun the failure count it cannot see yet.
/// Beyond a limit the answer is 429 with `Retry-After` (seconds to the end of the window).
internal sealed class LoginThrottle(LlanaOptions options) : IDisposable
{
    private const int AddressFactor = 10;

    // One partitioned limiter; the first character of a key says which limit it is.
    private const char AccountPrefix = 'a';
    private const char FailuresPrefix = 'f';
    private const char InFlightPrefix = 'c';

    private readonly PartitionedRateLimiter<string> _limits = PartitionedRateLimiter.Create<string, string>(key => key[0] switch
    {
        AccountPrefix => RateLimitPartition.GetFixedWindowLimiter(key, _ => Window(options.Auth.LoginRateLimit)),
        FailuresPrefix => RateLimitPartition.GetFixedWindowLimiter(key, _ => Window(options.Auth.LoginRateLimit * AddressFactor)),
        _ => RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = options.Auth.LoginRateLimit,
            QueueLimit = options.Auth.LoginRateLimit * AddressFactor,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }),
    });

    private bool Enabled => options.Auth.LoginRateLimit > 0;

    /// Runs one sign-in attempt under the limits: <paramref name="attempt"/> answers the request and returns
    /// whether it was a failure to count against the client address. <paramref name="account"/> null: not per account.
    public async Task RunAsync(HttpContext context, string? account, Func<Task<bool>> attempt)
    {
        if (!Enabled)
        {
            await attempt();
            return;
        }

        var client = Address(context.Connection.RemoteIpAddress);
        var failuresKey = FailuresPrefix + client;
        using var turn = await _limits.AcquireAsync(InFlightPrefix + client, 1, context.RequestAborted);
        if (!turn.IsAcquired)
        {
            await TooManyAsync(context, TimeSpan.FromSeconds(1));
            return;
        }

        // Zero permits: only asks whether the address still has failures left.
        using (var failures = _limits.AttemptAcquire(failuresKey, 0))
        {
            if (!failures.IsAcquired)
            {
                await TooManyAsync(context, failures);
                return;
            }
        }

        // Longer names never sign in (AuthService refuses them unchecked); they still count for the address.
        if (account is { Length: <= 1024 })
        {
            using var lease = _limits.AttemptAcquire(AccountPrefix + account.ToLowerInvariant(), 1);
            if (!lease.IsAcquired)
            {
                await TooManyAsync(context, lease);
                return;
            }
        }

        if (await attempt())
        {
            _limits.AttemptAcquire(failuresKey, 1).Dispose();
        }
    }

    public void Dispose() => _limits.Dispose();

    private static string Address(IPAddress? address) =>
        address is null ? "unknown" : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    private static FixedWindowRateLimiterOptions Window(int permits) =>
        new() { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true };

    private static Task TooManyAsync(HttpContext context, RateLimitLease lease) =>
        TooManyAsync(context, lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? retry : TimeSpan.FromMinutes(1));

    private static Task TooManyAsync(HttpContext context, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return HttpErrors.WriteFrameworkErrorAsync(context, 429, "Too Many Requests");
    }
}
