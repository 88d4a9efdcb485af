using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Server.Http;

namespace Llana.Server.Auth;

/// `HOSTS` (spec §8): a comma list of client addresses allowed to call the API. The client is `x-real-ip`, else
/// the whole `x-forwarded-for` header (as the original); enforced in production and sandbox, logged in development;
/// in test an allow-list containing `localhost` lets everyone in.
internal static partial class HostCheck
{
    public static void UseHostCheck(this WebApplication app, LlanaOptions options, ILogger logger, PathString socketPath)
    {
        if (AllowList(options) is not { } allowed)
        {
            return;
        }

        app.Use((context, next) =>
        {
            // Socket.IO judges the peer address of its handshake instead (spec §10.2).
            if (context.Request.Path.StartsWithSegments(socketPath))
            {
                return next(context);
            }

            var headers = context.Request.Headers;
            var client = headers["x-real-ip"].ToString() is { Length: > 0 } real ? real : headers["x-forwarded-for"].ToString();
            return Allows(options, allowed, client, logger)
                ? next(context)
                : HttpErrors.WriteErrorAsync(context, new TableError(403, "Forbidden"));
        });
    }

    /// The decision for one client address (HTTP: the proxy headers; Socket.IO: the handshake's peer address).
    public static bool Allows(LlanaOptions options, string? client, ILogger logger) =>
        AllowList(options) is not { } allowed || Allows(options, allowed, client, logger);

    private static bool Allows(LlanaOptions options, HashSet<string> allowed, string? client, ILogger logger)
    {
        if (!string.IsNullOrEmpty(client) && (allowed.Contains(client)
            || (client.StartsWith("::ffff:", StringComparison.Ordinal) && allowed.Contains(client[7..]))))
        {
            return true;
        }

        switch (options.NodeEnv)
        {
            case "development":
                LogNotApproved(logger);
                return true;
            case "test" when allowed.Contains("localhost"):
                return true;
            default:
                return false;
        }
    }

    private static HashSet<string>? AllowList(LlanaOptions options)
    {
        var allowed = options.Hosts?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        return allowed is { Count: > 0 } ? allowed : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host not in approved list, skipping forbidden response as in dev mode")]
    private static partial void LogNotApproved(ILogger logger);
}
