using System.Net;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Server.Http;

namespace Llana.Server.Auth;

/// `HOSTS` (spec §8): a comma list of client addresses allowed to call the API. The client is the resolved client
/// address (<see cref="ClientAddress"/>: the peer, or what a trusted proxy forwards), for HTTP and Socket.IO alike —
/// the original believed `x-real-ip`/`x-forwarded-for` from anyone, so any client could name an allowed address.
/// Enforced in production and sandbox, logged in development; in test an allow-list containing `localhost` lets
/// everyone in.
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
            // Socket.IO judges its handshake at connect instead (spec §10.2), with the same address.
            if (context.Request.Path.StartsWithSegments(socketPath))
            {
                return next(context);
            }

            return Allows(options, allowed, context.Connection.RemoteIpAddress, logger)
                ? next(context)
                : HttpErrors.WriteErrorAsync(context, new TableError(403, "Forbidden"));
        });
    }

    /// The decision for one resolved client address.
    public static bool Allows(LlanaOptions options, IPAddress? client, ILogger logger) =>
        AllowList(options) is not { } allowed || Allows(options, allowed, client, logger);

    private static bool Allows(LlanaOptions options, HashSet<string> allowed, IPAddress? client, ILogger logger)
    {
        if (client is not null && (allowed.Contains(client.ToString())
            || (client.IsIPv4MappedToIPv6 && allowed.Contains(client.MapToIPv4().ToString()))))
        {
            return true;
        }

        switch (options.NodeEnv)
        {
            case "development":
                LogNotApproved(logger, client?.ToString() ?? "unknown");
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host {Client} not in approved list, skipping forbidden response as in dev mode")]
    private static partial void LogNotApproved(ILogger logger, string client);
}
