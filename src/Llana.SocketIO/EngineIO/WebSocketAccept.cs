using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Llana.SocketIO.EngineIO;

/// <summary>RFC 6455 server handshake over <see cref="IHttpUpgradeFeature"/>: no middleware needed, no keep-alive pings, no compression.</summary>
internal static class WebSocketAccept
{
    public static bool IsWebSocketRequest(HttpContext context)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest || !HttpMethods.IsGet(context.Request.Method))
        {
            return false;
        }

        var headers = context.Request.Headers;
        return HasHandshakeHeaders(headers.Upgrade.ToString(), headers.SecWebSocketVersion.ToString(), headers.SecWebSocketKey.ToString());
    }

    /// <summary>The RFC 6455 handshake headers, however the request was read (HTTP request or a head read off the connection).</summary>
    public static bool HasHandshakeHeaders(string? upgrade, string? version, string? key) =>
        upgrade?.Contains("websocket", StringComparison.OrdinalIgnoreCase) == true && version == "13" && !string.IsNullOrWhiteSpace(key);

    public static async Task<WebSocketChannel> AcceptAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers.SecWebSocketAccept = WebSocketChannel.AcceptKey(context.Request.Headers.SecWebSocketKey.ToString());
        var stream = await context.Features.Get<IHttpUpgradeFeature>()!.UpgradeAsync().ConfigureAwait(false);

        // Zero-byte reads: an idle connection holds no receive buffer.
        var input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true, useZeroByteReads: true));
        var output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        return new WebSocketChannel(input, output, context.Abort, context.RequestAborted);
    }
}
