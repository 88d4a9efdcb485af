using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Llana.Core.Options;
using Llana.Server.Http;

namespace Llana.Server.Auth;

/// The sign-in limits (`AUTH_LOGIN_RATE_LIMIT` = N), counting failed attempts in fixed one-minute windows — wrong or
/// unknown credentials on `/auth/login`, an invalid refresh token on `/auth/refresh`; a successful sign-in never counts:
/// - per account (the username, ignoring case): N failures. Only that account waits, so an attacker on one account
///   never blocks another, and a shared account signing in often is never refused.
/// - per resolved client address (<see cref="ClientAddress"/>): 10 × N failures, so that a guesser trying many
///   accounts is stopped while the sign-ins of people sharing an address (NAT, office) are not held up.
/// A failure is only known once the password is checked, so attempts run one at a time per account (its count is
/// exact) and at most N at a time per address (more wait in line, up to 10 × N): a burst from one address can pass
/// its count by at most N − 1 attempts that were already running.
/// Beyond a limit the answer is 429 with `Retry-After` (seconds to the end of the window).
internal sealed class LoginThrottle(LlanaOptions options) : IDisposable
{
    private const int AddressFactor = 10;

    // One partitioned limiter; the first character of a key says which limit it is.
    private const char AccountFailures = 'a';
    private const char AccountTurn = 'b';
    private const char AddressFailures = 'f';
    private const char AddressTurn = 'c';

    private readonly PartitionedRateLimiter<string> _limits = PartitionedRateLimiter.Create<string, string>(key => key[0] switch
    {
        AccountFailures => RateLimitPartition.GetFixedWindowLimiter(key, _ => Window(options.Auth.LoginRateLimit)),
        AddressFailures => RateLimitPartition.GetFixedWindowLimiter(key, _ => Window(options.Auth.LoginRateLimit * AddressFactor)),
        AccountTurn => RateLimitPartition.GetConcurrencyLimiter(key, _ => Turns(1, options.Auth.LoginRateLimit * AddressFactor)),
        _ => RateLimitPartition.GetConcurrencyLimiter(key, _ => Turns(options.Auth.LoginRateLimit, options.Auth.LoginRateLimit * AddressFactor)),
    });

    private bool Enabled => options.Auth.LoginRateLimit > 0;

    /// Runs one sign-in attempt under the limits: <paramref name="attempt"/> answers the request and returns whether
    /// it failed. <paramref name="account"/> null: no account (refresh).
    public async Task RunAsync(HttpContext context, string? account, Func<Task<bool>> attempt)
    {
        if (!Enabled)
        {
            await attempt();
            return;
        }

        var address = Address(context.Connection.RemoteIpAddress);

        // Longer names never sign in (AuthService refuses them unchecked); they count for the address only.
        account = account is { Length: <= 1024 } ? account.ToLowerInvariant() : null;
        using var addressTurn = await _limits.AcquireAsync(AddressTurn + address, 1, context.RequestAborted);
        if (!addressTurn.IsAcquired)
        {
            await TooManyAsync(context, TimeSpan.FromSeconds(1));
            return;
        }

        // Always after the address's turn (one order, so no two requests wait on each other).
        using var accountTurn = account is null ? null : await _limits.AcquireAsync(AccountTurn + account, 1, context.RequestAborted);
        if (accountTurn is { IsAcquired: false })
        {
            await TooManyAsync(context, TimeSpan.FromSeconds(1));
            return;
        }

        if (!await HasFailuresLeftAsync(context, AddressFailures + address)
            || (account is not null && !await HasFailuresLeftAsync(context, AccountFailures + account)))
        {
            return;
        }

        if (await attempt())
        {
            _limits.AttemptAcquire(AddressFailures + address, 1).Dispose();
            if (account is not null)
            {
                _limits.AttemptAcquire(AccountFailures + account, 1).Dispose();
            }
        }
    }

    public void Dispose() => _limits.Dispose();

    /// Asks for zero permits: whether the window still has failures left; answers 429 when not.
    private async Task<bool> HasFailuresLeftAsync(HttpContext context, string key)
    {
        using var lease = _limits.AttemptAcquire(key, 0);
        if (!lease.IsAcquired)
        {
            await TooManyAsync(context, lease.TryGetMetadata(MetadataName.RetryAfter, out var retry) ? retry : TimeSpan.FromMinutes(1));
        }

        return lease.IsAcquired;
    }

    private static string Address(IPAddress? address) =>
        address is null ? "unknown" : (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();

    private static FixedWindowRateLimiterOptions Window(int permits) =>
        new() { PermitLimit = permits, Window = TimeSpan.FromMinutes(1), QueueLimit = 0, AutoReplenishment = true };

    private static ConcurrencyLimiterOptions Turns(int atOnce, int waiting) =>
        new() { PermitLimit = atOnce, QueueLimit = waiting, QueueProcessingOrder = QueueProcessingOrder.OldestFirst };

    private static Task TooManyAsync(HttpContext context, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return HttpErrors.WriteFrameworkErrorAsync(context, 429, "Too Many Requests");
    }
}
