using Llana.Core.Options;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Llana.Server.Http;

/// The client's address as `HOSTS`, the login limits and logs see it: the connection's peer, or what a trusted
/// proxy (`TRUSTED_PROXIES`) says in `X-Forwarded-For` — walked right to left through trusted hops, so entries a
/// client wrote itself ahead of the proxy's are never believed — or, when a proxy sets only `X-Real-IP`, in that.
/// One rule for HTTP requests (the first middleware) and for Socket.IO WebSocket handshakes taken on the
/// connection below HTTP (<see cref="Microsoft.AspNetCore.Hosting.SocketIOListenOptionsExtensions.UseSocketIO"/>).
internal sealed class ClientAddress
{
    private const string RealIpHeader = "X-Real-IP";

    private readonly ForwardedHeadersMiddleware? _forwarders;

    public ClientAddress(LlanaOptions options, ILoggerFactory loggers)
    {
        // An empty list would make the middleware trust every peer: `none` means no forwarding at all.
        if (options.TrustedProxies.Count == 0)
        {
            return;
        }

        var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor, ForwardLimit = null };
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var network in options.TrustedProxies)
        {
            forwarded.KnownIPNetworks.Add(network);
        }

        _forwarders = new ForwardedHeadersMiddleware(_ => Task.CompletedTask, loggers, Options.Create(forwarded));
    }

    /// Sets <c>Connection.RemoteIpAddress</c> to the client the trusted proxies name.
    public void Apply(HttpContext context)
    {
        if (_forwarders is null)
        {
            return;
        }

        // X-Real-IP is one address set by the last proxy; judged exactly like a one-entry X-Forwarded-For (only
        // from a trusted peer), and ignored when X-Forwarded-For is there, which carries the whole chain.
        var headers = context.Request.Headers;
        if (!headers.ContainsKey(ForwardedHeadersDefaults.XForwardedForHeaderName) && headers[RealIpHeader] is [{ Length: > 0 } realIp])
        {
            headers[ForwardedHeadersDefaults.XForwardedForHeaderName] = realIp;
        }

        _forwarders.ApplyForwarders(context);
    }
}
