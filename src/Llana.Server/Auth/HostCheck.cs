using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Server.Http;

namespace Llana.Server.Auth;

/// `HOSTS` (spec §8): a comma list of client addresses allowed to call the API. The client is `x-real-ip`, else
/// the whole `x-forwarded-for` header (as the original); enforced in production and sandbox, logged in development;
/// in test an allow-list containing `localhost` lets everyone in.
internal static partial class HostCheck
{
    public static void UseHostCheck(this WebApplication app, LlanaOptions options, ILogger logger)
    {
        if (options.Hosts is null)
        {
            return;
        }

        var allowed = options.Hosts.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        if (allowed.Count == 0)
        {
            return;
        }

        app.Use((context, next) =>
        {
            var headers = context.Request.Headers;
            var client = headers["x-real-ip"].ToString() is { Length: > 0 } real ? real : headers["x-forwarded-for"].ToString();
            if (client.Length > 0 && allowed.Contains(client))
            {
                return next(context);
            }

            switch (options.NodeEnv)
            {
                case "development":
                    LogNotApproved(logger);
                    return next(context);
                case "test" when allowed.Contains("localhost"):
                    return next(context);
                default:
                    return HttpErrors.WriteErrorAsync(context, new TableError(403, "Forbidden"));
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Host not in approved list, skipping forbidden response as in dev mode")]
    private static partial void LogNotApproved(ILogger logger);
}
